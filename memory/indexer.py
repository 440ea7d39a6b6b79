"""The indexing pipeline: a video file becomes rows in SQLite and vectors in FAISS, stage by stage.

A video is identified by the sha256 of its bytes, so the same file twice is indexed once. Stages
run in order; each one's compute runs in a worker process (`memory.worker`) and its rows land in
one transaction together with its `stages` row, so a run killed at any point leaves the video
`indexing` with whole stages done, and the next run continues at the first stage not done.

The stages and their contract: `memory.stages`.
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from assets import sha256_file
from assets.errors import UserError
from memory.datadir import DataDir
from memory.decode import DecodeError, check_regular_file
from memory.stages import DEFAULT_STAGES, StageContext
from memory.store import Store, Video
from memory.worker import WorkerConfig, WorkerError, run_stage, user_line

log = logging.getLogger(__name__)

Progress = Callable[[str, float, str], None]  # (stage name, fraction 0..1, message)


class IndexingError(UserError, RuntimeError):
    """Indexing failed; the message is one line for the user."""


@dataclass(frozen=True)
class IndexerConfig:
    """How the pipeline runs."""

    stages: tuple[str, ...] = DEFAULT_STAGES          # stage modules, in order
    stage_options: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # NAME -> that stage's config
    time_limit_base_s: float = 600.0                   # every stage's time limit starts here ...
    time_limit_per_video_s: float = 6.0                # ... plus this many seconds per second of video
    memory_limit_bytes: int | None = WorkerConfig().memory_limit_bytes  # RLIMIT_AS of each worker
    warn_unreadable: float = 0.0                       # more of the video undecodable than this: a warning
    in_process: bool = False                           # run stages in this process (debugging only)


def load_stages(names: tuple[str, ...]) -> list[ModuleType]:
    """Import the stage modules; a stage whose module does not exist (yet) is skipped."""
    mods = []
    for name in names:
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            log.warning("stage module %s is not installed; skipping it", name)
    return mods


def unreadable_fraction(store: Store, video_id: int) -> float:
    """The largest share of the video that any stage could not decode (0.0 when all of it decoded)."""
    return max((float(s["info"].get("unreadable_fraction") or 0.0) for s in store.stages(video_id).values()),
               default=0.0)


def damage_warning(fraction: float) -> str:
    """The note a ready video carries when part of it could not be decoded."""
    pct = f"{fraction:.1%}" if fraction >= 0.001 else "under 0.1%"
    return f"warning: {pct} of the video could not be decoded (damaged data); the rest is indexed"


def summary(store: Store, video: Video, seconds: float) -> dict[str, Any]:
    """The JSON of `python -m memory index` for a video."""
    return {
        "video_id": video.id,
        "duration_s": video.duration_s,
        "shots": store.count("shots", video.id),
        "keyframes": store.count("frames", video.id),
        "speech_segments": store.count("speech", video.id),
        "ocr_lines": store.count("ocr", video.id),
        "visual": bool(video.visual),
        "unreadable_fraction": round(unreadable_fraction(store, video.id), 6),
        "warning": video.error if video.status == "ready" else None,
        "seconds": round(seconds, 3),
    }


class Indexer:
    """Runs the stages for one file at a time against one data dir."""

    def __init__(self, data: DataDir, store: Store, config: IndexerConfig = IndexerConfig(),
                 on_finished: Callable[[Video], None] | None = None) -> None:
        self.data = data
        self.store = store
        self.config = config
        self.stages = load_stages(config.stages)
        self.on_finished = on_finished  # e.g. bring the FAISS files up to date

    def _dependents(self, name: str) -> list[str]:
        """Stages whose rows are derived (directly or not) from stage `name`'s rows."""
        out: list[str] = []
        for m in self.stages:
            deps = getattr(m, "DEPENDS", ())
            if name in deps or any(d in out for d in deps):
                out.append(m.NAME)
        return out

    def _worker_config(self, duration_s: float | None) -> WorkerConfig:
        limit = self.config.time_limit_base_s + self.config.time_limit_per_video_s * (duration_s or 0.0)
        return WorkerConfig(time_limit_s=limit, memory_limit_bytes=self.config.memory_limit_bytes,
                            in_process=self.config.in_process)

    def _ctx(self, video_id: int, path: Path, facts: dict[str, Any], name: str) -> StageContext:
        return StageContext(video_id=video_id, path=str(path), data_root=str(self.data.root),
                            models_dir=str(self.data.models_dir), facts=facts,
                            config=dict(self.config.stage_options.get(name, {})))

    def _run(self, mod: ModuleType, ctx: StageContext, progress: Progress | None) -> tuple[Any, float]:
        name = mod.NAME
        if progress:
            progress(name, 0.0, "starting")
        t0 = time.perf_counter()
        result = run_stage(mod.__name__, ctx, self._worker_config(ctx.facts.get("duration_s")),
                           on_progress=(lambda f, m: progress(name, f, m)) if progress else None)
        return result, time.perf_counter() - t0

    def index(self, path: str | Path, progress: Progress | None = None) -> dict[str, Any]:
        """Index a file (or finish indexing it); return the summary JSON. Raises IndexingError."""
        t0 = time.perf_counter()
        p = Path(path).expanduser().resolve()
        try:
            check_regular_file(p)
        except DecodeError as exc:
            raise IndexingError(str(exc)) from None
        sha = sha256_file(p, (lambda f: progress("hash", f, "hashing")) if progress else None)
        # Two uploads of the same file in one app: the second waits and then finds it done.
        with _video_lock(sha):
            return self._index(p, sha, progress, t0)

    def _index(self, p: Path, sha: str, progress: Progress | None, t0: float) -> dict[str, Any]:
        video = self.store.video_by_sha(sha)
        if video is None:
            video = self._probe_new(p, sha, progress)
        else:
            if video.visual is False and self.config.stage_options.get("image_vectors", {}).get("encoder"):
                # Weights have appeared since this video was indexed without a visual channel.
                self.store.clear_stages(video.id, ["image_vectors"])
            if not Path(video.path).is_file():
                self.store.update_video(video.id, path=str(p))
        if any(not self.store.stage_done(video.id, m.NAME) for m in self.stages):
            self.store.update_video(video.id, status="indexing", error=None)
        for mod in self.stages:
            # Checked at each step: a stage that ran clears the stages built on its rows.
            if self.store.stage_done(video.id, mod.NAME):
                continue
            video = self.store.video(video.id)  # facts may have been filled by the probe
            try:
                result, seconds = self._run(mod, self._ctx(video.id, p, _facts(video), mod.NAME), progress)
                with self.store.atomic():
                    info = mod.write(self.store, video.id, result)
                    self.store.mark_stage(video.id, mod.NAME, seconds, info or {})
                    self.store.clear_stages(video.id, self._dependents(mod.NAME))
            except Exception as exc:  # noqa: BLE001 - any failure fails this video, with one plain line
                msg = user_line(exc)
                log.debug("stage %s failed", mod.NAME, exc_info=True)
                self.store.update_video(video.id, status="failed", error=msg)
                raise IndexingError(msg) from exc
            if progress:
                progress(mod.NAME, 1.0, "done")
        lost = unreadable_fraction(self.store, video.id)
        note = damage_warning(lost) if lost > self.config.warn_unreadable else None
        current = self.store.video(video.id)
        if current.status != "ready" or current.error != note:
            self.store.update_video(video.id, status="ready", error=note)
        video = self.store.video(video.id)
        if self.on_finished:
            self.on_finished(video)
        return summary(self.store, video, time.perf_counter() - t0)

    def _probe_new(self, p: Path, sha: str, progress: Progress | None) -> Video:
        """Probe a file not yet in the library; nothing is written unless the probe succeeds."""
        probe = next((m for m in self.stages if m.NAME == "probe"), None)
        if probe is None:
            return self.store.add_video(sha, p.stem, str(p), p.stat().st_size)
        try:
            result, seconds = self._run(probe, self._ctx(0, p, {}, "probe"), progress)
        except WorkerError as exc:
            # "probe: x.mp4: not a readable video file (...)" reads better without the stage name.
            msg = str(exc).removeprefix("probe: ")
            raise IndexingError(msg) from None
        with self.store.atomic():
            video = self.store.add_video(sha, p.stem, str(p), p.stat().st_size)
            info = probe.write(self.store, video.id, result)
            self.store.mark_stage(video.id, "probe", seconds, info or {})
        if progress:
            progress("probe", 1.0, "done")
        return self.store.video(video.id)  # type: ignore[return-value]


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _video_lock(sha: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(sha, threading.Lock())


def _facts(video: Video) -> dict[str, Any]:
    return {"duration_s": video.duration_s, "fps": video.fps, "width": video.width, "height": video.height,
            "rotation": video.rotation, "has_audio": video.has_audio}
