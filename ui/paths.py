"""What the browser may load: the served folders, the blocked files, and copies made to be served.

Only uploads/, thumbs/ and exports/ of the data dir are served; the database, the FAISS index and
the model weights never are, even through a link. A file in the data dir is served only when it
is what the library says it is (`ServedPaths.may_serve`): a regular file with one link (or the
player's own link to a video's file), in a served folder, belonging to a video of the library;
so a hard link to library.db planted in uploads/ is refused. A video indexed from elsewhere is linked or
copied under uploads/ for the player; a frame saved elsewhere in the data dir is handed over as
pixels, never as a path.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from memory.datadir import DataDir
    from memory.store import Video

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")  # what the page may show as a thumbnail


def inside(path: Path, folder: Path) -> bool:
    """True when `path` resolves to somewhere under `folder` (links followed)."""
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def safe_name(name: str) -> str:
    """A file name with nothing but letters, digits, dot, dash and underscore (never a path)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "video"
    return stem[:120]


class ServedPaths:
    """The serving rules of one data dir."""

    def __init__(self, data: DataDir) -> None:
        self.data = data

    def served_dirs(self) -> list[Path]:
        """The only folders the browser may fetch from: player copies, thumbnails, exports."""
        return [self.data.uploads_dir, self.data.thumbs_dir, self.data.exports_dir]

    def blocked_paths(self) -> list[Path]:
        """Never served, even if a served folder somehow links to them."""
        db = self.data.db_path
        return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), self.data.index_dir,
                self.data.models_dir]

    def upload_path(self, sha256: str, name: str) -> Path:
        """Where the player's copy of a file with this hash and name lives: uploads/<sha[:16]>/<safe name>."""
        return self.data.uploads_dir / sha256[:16] / safe_name(name)

    def is_upload(self, path: Path) -> bool:
        return inside(path, self.data.uploads_dir)

    def player_path(self, video: Video) -> str | None:
        """A path under uploads/ for the player: the upload itself, or a hard link / copy of a file
        indexed from elsewhere (only served folders are reachable, and a symlink out would be refused)."""
        p = Path(video.path)
        if not p.is_file():
            return None
        if self.is_upload(p):
            return str(p)
        dest = self.upload_path(video.sha256, p.name)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(p, dest)
            except OSError:
                shutil.copyfile(p, dest)
        return str(dest)

    def remove_upload(self, path: Path) -> None:
        """Delete our copy of an upload (and its folder when empty); a file outside uploads/ is left alone."""
        if self.is_upload(path) and path.is_file():
            path.unlink()
            if path.parent != self.data.uploads_dir and not any(path.parent.iterdir()):
                path.parent.rmdir()

    def servable_image(self, thumb: str) -> str | Image.Image | None:
        """A thumbnail path the page may load, or a PIL copy of a frame saved elsewhere in the data dir."""
        p = Path(thumb)
        if not p.is_absolute():
            p = self.data.root / p
        if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
            return None
        if any(inside(p, d) for d in (self.data.thumbs_dir, self.data.exports_dir)):
            return str(p)
        if inside(p, self.data.root) and not any(inside(p, b) for b in self.blocked_paths()):
            with Image.open(p) as im:
                return im.convert("RGB").copy()
        return None

    def may_serve(self, raw: str, videos: Iterable[Video]) -> bool:
        """Whether the file route may send `raw` (a path as requested). Files outside the data dir are
        left to Gradio's own rules; inside it, see the module docstring. Never raises."""
        try:
            p = Path(raw)
            st = p.stat()
        except (OSError, ValueError):
            return True  # nothing there: Gradio answers 404
        try:
            return self._may_serve(p, st, list(videos))
        except (OSError, ValueError):
            return False

    def _may_serve(self, p: Path, st: os.stat_result, videos: list[Video]) -> bool:
        same = (st.st_dev, st.st_ino)
        for b in self.blocked_paths():
            try:
                bs = b.stat()
            except OSError:
                continue
            if (bs.st_dev, bs.st_ino) == same or (stat.S_ISDIR(bs.st_mode) and inside(p, b)):
                return False
        if not inside(p, self.data.root):
            return True
        if not stat.S_ISREG(st.st_mode):
            return False
        folder = next((d for d in self.served_dirs() if inside(p, d)), None)
        if folder is None:
            return False
        parts = p.resolve().relative_to(folder.resolve()).parts
        if folder == self.data.uploads_dir:
            owners = [v for v in videos if len(parts) == 2 and v.sha256[:16] == parts[0]]
            # The player's hard link to a video indexed from elsewhere has two links: the other is that file.
            return bool(owners) and (st.st_nlink == 1 or any(_same_file(Path(v.path), same) for v in owners))
        if st.st_nlink != 1:
            return False
        if folder == self.data.thumbs_dir:
            # thumbs/<video id>/<file>, and the frames verify_frame saved: thumbs/<video id>/verify/<file>
            shape_ok = len(parts) == 2 or (len(parts) == 3 and parts[1] == "verify")
            return shape_ok and any(str(v.id) == parts[0] for v in videos)
        return True  # exports/: written by the export step only


def _same_file(path: Path, dev_ino: tuple[int, int]) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == dev_ino
