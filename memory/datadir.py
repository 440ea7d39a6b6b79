"""Where CiteClip keeps its files: one data directory with a fixed layout (see DESIGN, "Data directory")."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from assets.errors import UserError
from assets.registry import default_models_dir


class DataDirError(UserError, OSError):
    """The data dir cannot be used as it is; the message is one line for the user."""


@dataclass(frozen=True)
class DataDir:
    """The data directory and the paths inside it; `ensure()` creates the folders."""

    root: Path  # the folder itself: --data-dir, else $CITECLIP_HOME, else the platform's user data dir

    @property
    def db_path(self) -> Path:
        return self.root / "library.db"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def thumbs_dir(self) -> Path:
        return self.root / "thumbs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def models_dir(self) -> Path:
        """The offline weights: one folder shared by every data dir ($CITECLIP_MODELS, else the default
        data dir's models/, where `./run setup` fetches them), so any --data-dir finds them; a data dir
        that carries its own models/ folder keeps using it."""
        if os.environ.get("CITECLIP_MODELS"):
            return default_models_dir()
        own = self.root / "models"
        return own if own.is_dir() and any(own.iterdir()) else default_models_dir()

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    def ensure(self) -> "DataDir":
        """Create the folders (idempotent) and return self; DataDirError when one cannot be made."""
        self.repair_index_dir()
        for p in (self.root, self.index_dir, self.thumbs_dir, self.exports_dir, self.uploads_dir):
            try:
                p.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise DataDirError(f"the data dir's {p.name}/ is a file, not a folder; move it away") from None
            except OSError as exc:
                raise DataDirError(f"cannot create the data dir's {p.name}/ ({exc.strerror})") from None
        return self

    def repair_index_dir(self) -> None:
        """index/ holds only a cache of SQLite: a file, link or other thing in its place is removed."""
        p = self.index_dir
        if p.is_dir():
            return
        if p.exists() or p.is_symlink():
            p.unlink()
        if self.root.is_dir():
            p.mkdir(exist_ok=True)

    @classmethod
    def resolve(cls, arg: str | os.PathLike | None = None) -> "DataDir":
        """The data dir from an explicit argument, $CITECLIP_HOME, or the platform default."""
        if arg:
            return cls(Path(arg).expanduser().resolve())
        env = os.environ.get("CITECLIP_HOME")
        if env:
            return cls(Path(env).expanduser().resolve())
        return cls(Path(platformdirs.user_data_dir("citeclip")))
