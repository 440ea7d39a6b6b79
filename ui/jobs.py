"""Indexing as background jobs: one worker thread outside any request, polled by the page.

A request only enqueues a job and returns; the page asks for `snapshot()` on a `gr.Timer`, so the
per-stage progress is server state and survives a page reload or a closed tab. One job runs at a
time because the stages already use every core (and `Library.index_video` runs each stage in its
own worker process, so a crashing decoder fails the job, not the app).
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assets.errors import is_user_error

log = logging.getLogger(__name__)

Progress = Callable[[str, float, str], None]
IndexFn = Callable[[Path, Progress], dict]   # (video path, progress(stage, fraction, message)) -> index JSON


@dataclass
class Job:
    """One indexing request and what the page shows of it."""

    id: int
    title: str                                  # what the user uploaded (file name)
    path: Path                                  # the file being indexed
    status: str = "queued"                      # queued | running | done | failed
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> {"fraction", "message"}
    error: str | None = None                    # one line for the user
    result: dict[str, Any] | None = None        # the index JSON when done
    reindex: bool = False                       # a video of the library indexed again (the card says so)
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status, "error": self.error,
                "stages": {k: dict(v) for k, v in self.stages.items()}, "result": self.result, "reindex": self.reindex,
                "created": self.created, "finished": self.finished}


@dataclass(frozen=True)
class JobsConfig:
    keep_finished: int = 8          # finished jobs still listed on the page
    finished_visible_s: float = 600  # and for how long after they finished


def plain_error(exc: BaseException) -> str:
    """An exception as one line a user can read (library errors are already written that way)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    # User-facing errors (the same list the CLI uses) are already worded; others get their type as a hint.
    if is_user_error(exc):
        return text
    return f"{type(exc).__name__}: {text}"


class JobManager:
    """A queue of indexing jobs served by one daemon thread."""

    def __init__(self, index_fn: IndexFn, config: JobsConfig = JobsConfig(),
                 on_done: Callable[[Job], None] | None = None) -> None:
        self.index_fn = index_fn
        self.config = config
        self.on_done = on_done
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="citeclip-index", daemon=True)
        self._thread.start()

    def submit(self, path: Path, title: str | None = None, reindex: bool = False) -> Job:
        """Queue `path` for indexing (`reindex`: a library video indexed again); returns at once."""
        with self._lock:
            for j in self._jobs.values():  # the same file twice in a row is one job
                if j.path == Path(path) and j.status in ("queued", "running"):
                    return j
            job = Job(id=next(self._ids), title=title or Path(path).name, path=Path(path), reindex=reindex)
            self._jobs[job.id] = job
        self._queue.put(job)
        return job

    def snapshot(self) -> list[dict[str, Any]]:
        """The jobs the page should show: active ones and recently finished ones, newest first."""
        now = time.time()
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.id, reverse=True)
            active = [j for j in jobs if j.status in ("queued", "running")]
            done = [j for j in jobs if j.status not in ("queued", "running")
                    and now - (j.finished or now) < self.config.finished_visible_s][: self.config.keep_finished]
            return [j.to_dict() for j in active + done]

    def busy(self) -> bool:
        """True while a job is queued or running."""
        with self._lock:
            return any(j.status in ("queued", "running") for j in self._jobs.values())

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or running (tests and the CLI); False on timeout."""
        deadline = None if timeout is None else time.time() + timeout
        while self.busy():
            if deadline is not None and time.time() > deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self) -> None:
        self._queue.put(None)

    # -- worker ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        with self._lock:
            job.status = "running"

        def progress(stage: str, fraction: float, message: str = "") -> None:
            with self._lock:
                job.stages[stage] = {"fraction": max(0.0, min(1.0, float(fraction))), "message": message}

        try:
            result = self.index_fn(job.path, progress)
        except BaseException as exc:  # noqa: BLE001 - a job failure is shown to the user, never kills the thread
            log.exception("indexing %s failed", job.path)
            with self._lock:
                job.status, job.error, job.finished = "failed", plain_error(exc), time.time()
        else:
            with self._lock:
                job.status, job.result, job.finished = "done", result, time.time()
                for st in job.stages.values():
                    st["fraction"] = 1.0
        if self.on_done is not None:
            try:
                self.on_done(job)
            except Exception:  # noqa: BLE001
                log.exception("on_done hook failed")
