"""The memory's one door for the agent, the UI and the CLI: index, find, search, read, delete."""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from assets import sha256_file
from assets.errors import UserError

from memory import decode
from memory.datadir import DataDir
from memory.encoders import EncoderSpec, EncoderUnavailable, ImageTextEncoder, load_encoder, resolve_encoder
from memory.index import VectorIndex
from memory.indexer import Indexer, IndexerConfig, IndexingError
from memory.search import SearchConfig
from memory.search import search as _search
from memory.store import Store, Video, parse_row_id
from memory.types import Clip


# "auto", None, a local folder or Hugging Face name, a spec, or a loaded encoder (see `Library.__init__`).
EncoderChoice = str | os.PathLike | EncoderSpec | ImageTextEncoder | None


class LibraryError(UserError):
    """A problem worth one line to the user (unknown video, unreadable file, failed indexing)."""


@dataclass(frozen=True)
class LibraryConfig:
    """Options for the whole memory."""

    indexer: IndexerConfig = field(default_factory=IndexerConfig)  # stages, limits, per-stage options
    search: SearchConfig = field(default_factory=SearchConfig)     # fusion and merging


class Library:
    """A data dir's videos and everything derived from them."""

    def __init__(self, data_dir: DataDir | str | os.PathLike | None = None,
                 image_encoder: EncoderChoice = "auto", config: LibraryConfig = LibraryConfig()) -> None:
        """`image_encoder`: "auto" (find CLIP/SigLIP weights), None (no visual channel), a local
        folder or Hugging Face name, an EncoderSpec, or a loaded ImageTextEncoder."""
        self.data = (data_dir if isinstance(data_dir, DataDir) else DataDir.resolve(data_dir)).ensure()
        self.store = Store(self.data.db_path)
        self.index = VectorIndex(self.data, self.store)
        self.config = config
        self._encoder: ImageTextEncoder | None = None
        self._spec: EncoderSpec | None = None
        if isinstance(image_encoder, EncoderSpec):
            self._spec = image_encoder
        elif image_encoder is not None and isinstance(image_encoder, ImageTextEncoder):
            self._encoder = image_encoder
            self._spec = getattr(image_encoder, "spec", None)
        elif image_encoder is not None:
            try:
                self._spec = resolve_encoder(image_encoder, self.data.models_dir)
            except EncoderUnavailable as exc:
                raise LibraryError(str(exc)) from None

    def close(self) -> None:
        """Close the SQLite connection."""
        self.store.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- videos -----------------------------------------------------------------------------------
    def videos(self) -> list[Video]:
        """Every video in the library, oldest first."""
        return self.store.videos()

    def video(self, video_id: int | str) -> Video | None:
        """The video with this row id, or None (also for an id that is not a whole number)."""
        vid = parse_row_id(video_id)
        return self.store.video(vid) if vid is not None else None

    def row_counts(self) -> dict[int, dict[str, int]]:
        """Per video, its shots, speech segments and on-screen text lines, in one query."""
        return self.store.row_counts(("shots", "speech", "ocr"))

    def finished_stages(self) -> dict[int, set[str]]:
        """Per video, the indexing stages it has finished, in one query."""
        return self.store.finished_stages()

    def forget_stages(self, video_id: int) -> None:
        """Mark every stage of a video undone, so that indexing its file again redoes them all."""
        v = self._video(video_id)
        self.store.clear_stages(v.id, list(self.store.stages(v.id)))
        self.store.update_video(v.id, status="indexing", error=None)

    def find_video(self, ref: str | int) -> Video:
        """A video by row id, sha256 (or a prefix of >= 8 hex chars), or file path (hashed)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            v = self.video(ref)
            if v is None:
                shown = str(ref).strip()
                raise LibraryError(f"no video with id {shown if len(shown) <= 20 else shown[:20] + '…'}")
            return v
        s = str(ref).strip()
        if re.fullmatch(r"[0-9a-fA-F]{8,64}", s) and not Path(s).exists():
            ids = self.store.video_ids_by_sha_prefix(s.lower(), limit=2)
            if len(ids) == 1:
                return self._video(ids[0])
            if len(ids) > 1:
                raise LibraryError(f"sha256 prefix {s} matches more than one video; give more characters")
            raise LibraryError(f"no video with sha256 {s}…")
        p = Path(s).expanduser()
        if not p.is_file():
            raise LibraryError(f"{p.name or s[:40]}: neither a video id, a sha256, nor an existing file")
        v = self.store.video_by_sha(sha256_file(p))
        if v is None:
            raise LibraryError(f"{p.name} is not indexed yet (run: python -m memory index {s})")
        return v

    def _video(self, video_id: int | str) -> Video:
        v = self.video(video_id)
        if v is None:
            shown = str(video_id).strip()
            raise LibraryError(f"no video with id {shown if len(shown) <= 20 else shown[:20] + '…'}")
        return v

    def _indexer_config(self) -> IndexerConfig:
        cfg = self.config.indexer
        opts = {k: dict(v) for k, v in cfg.stage_options.items()}
        opts.setdefault("image_vectors", {})["encoder"] = self._spec
        return replace(cfg, stage_options=opts)

    def index_video(self, path: str | os.PathLike,
                    progress: Callable[[str, float, str], None] | None = None) -> dict[str, Any]:
        """Index a file (or finish it); returns the JSON of `python -m memory index`."""
        indexer = Indexer(self.data, self.store, self._indexer_config(),
                          on_finished=lambda _v: self.index.sync_all())
        try:
            return indexer.index(path, progress)
        except IndexingError as exc:
            raise LibraryError(str(exc)) from None

    def delete_video(self, video_id: int) -> None:
        """Remove a video's rows, vectors (FAISS rebuilt) and thumbnails."""
        v = self._video(video_id)
        self.store.delete_video(v.id)
        shutil.rmtree(self.data.thumbs_dir / str(v.id), ignore_errors=True)
        self.index.sync_all()

    # -- reading ----------------------------------------------------------------------------------
    def shots(self, video_id: int) -> list[dict[str, Any]]:
        """Shots in order: idx, start_s, end_s, keyframe_s, thumb (absolute path or None)."""
        vid = parse_row_id(video_id)
        rows = self.store.shots(vid) if vid else []
        return [{"idx": r["idx"], "start_s": r["start_s"], "end_s": r["end_s"], "keyframe_s": r["keyframe_s"],
                 "thumb": str(self.data.root / r["thumb"]) if r["thumb"] else None} for r in rows]

    def transcript(self, video_id: int, start_s: float | None = None, end_s: float | None = None
                   ) -> list[dict[str, Any]]:
        """Speech segments (start_s, end_s, text) overlapping the range."""
        vid = parse_row_id(video_id)
        return self.store.text_spans("speech", vid, start_s, end_s) if vid else []

    def screen_text(self, video_id: int, start_s: float | None = None, end_s: float | None = None
                    ) -> list[dict[str, Any]]:
        """On-screen text lines (start_s, end_s, text, conf) overlapping the range."""
        vid = parse_row_id(video_id)
        return self.store.text_spans("ocr", vid, start_s, end_s) if vid else []

    def frame_at(self, video_id: int, t_s: float, max_side: int | None = None) -> Image.Image:
        """The upright frame on screen at t_s (clamped to the video), by accurate seek."""
        v = self._video(video_id)
        if not Path(v.path).is_file():
            raise LibraryError(f"the file of video {v.id} ({Path(v.path).name}) is gone")
        t = max(0.0, min(float(t_s), max(0.0, (v.duration_s or 0.0) - 1e-3)))
        try:
            return decode.frame_at(v.path, t, max_side=max_side)
        except decode.DecodeError as exc:
            raise LibraryError(str(exc)) from None

    # -- search -----------------------------------------------------------------------------------
    def image_encoder(self) -> ImageTextEncoder | None:
        """The image-text encoder (loaded on first use), or None when no weights are available."""
        if self._encoder is None and self._spec is not None:
            try:
                self._encoder = load_encoder(self._spec)
            except EncoderUnavailable as exc:
                raise LibraryError(str(exc)) from None
        return self._encoder

    def search(self, video_id: int, query: str, k: int = 5, start_s: float | None = None,
               end_s: float | None = None, channels: Sequence[str] | None = None) -> list[Clip]:
        """The top k clips of a video for a text query, fused over the channels."""
        v = self._video(video_id)
        if v.status != "ready":
            raise LibraryError(f"video {v.id} is not indexed ({v.status}{': ' + v.error if v.error else ''})")
        try:
            return _search(self, v.id, query, k=k, start_s=start_s, end_s=end_s, channels=channels,
                           config=self.config.search)
        except ValueError as exc:
            raise LibraryError(str(exc)) from None
