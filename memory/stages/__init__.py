"""The stages of indexing: each module turns a video (and earlier stages' rows) into rows of its own.

Stage contract (each stage is a module of this package):
    NAME: str                                    # the `stages` row it leaves when done
    DEPENDS: tuple[str, ...] = ()                # stages whose rows it reads; their re-run redoes it
    compute(ctx: StageContext) -> Any            # in the worker process; a picklable result
    write(store, video_id, result) -> dict       # in the indexing process, inside store.atomic(); counts

`memory.indexer` runs them in order, each compute in its own worker process (`memory.worker`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.store import Store

DEFAULT_STAGES: tuple[str, ...] = tuple(f"memory.stages.{name}" for name in (
    "probe", "shots", "keyframes", "image_vectors", "ocr", "speech", "text_vectors"))


@dataclass(frozen=True)
class StageContext:
    """What a stage's compute gets in its worker process (picklable)."""

    video_id: int                     # videos.id (0 while the probe checks a file not yet stored)
    path: str                         # the video file
    data_root: str                    # the data dir; the store is <data_root>/library.db
    models_dir: str                   # where offline model copies live
    facts: dict[str, Any]             # probe facts: duration_s, fps, width, height, rotation, has_audio
    config: dict[str, Any]            # this stage's options

    def report(self, fraction: float, message: str = "") -> None:
        """Report progress inside the stage (throttled; forwarded to the main process)."""
        now = time.monotonic()
        last = self.__dict__.get("_last_report", 0.0)
        if now - last < 0.25 and fraction < 1.0:
            return
        object.__setattr__(self, "_last_report", now)
        fraction = min(1.0, max(0.0, float(fraction)))
        q = self.__dict__.get("_progress_queue")
        if q is not None:
            q.put(("progress", fraction, message))
            return
        cb = self.__dict__.get("_progress_callback")
        if cb is not None:
            cb(fraction, message)

    def open_store(self) -> Store:
        """The library, opened read-only in spirit: stages read earlier stages' rows from it."""
        return Store(Path(self.data_root) / "library.db")
