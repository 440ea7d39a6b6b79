"""The Library tab: uploads queued for indexing, the videos table polled every second, re-index, delete."""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from assets import sha256_file
from ui.context import UIContext, choice_id
from ui.fmt import fmt_duration, shorten
from ui.jobs import JobManager
from ui.markup import jobs_html, stage_words

if TYPE_CHECKING:
    from memory.store import Video

LIBRARY_HEADERS = ["id", "title", "status", "duration", "shots", "channels", "error"]
EMPTY_LIBRARY = "<div class='cc-jobs cc-empty' id='empty-library'>Your library is empty: upload a video to start.</div>"
_COUNTED = ("shots", "speech", "ocr")  # the per-video row counts the videos table shows


@dataclass(frozen=True)
class LibraryState:
    """What the videos table shows, read in one go (see `LibraryTab.library_state`)."""

    videos: list[Video]                    # every video, by id
    counts: dict[int, dict[str, int]]      # video id -> {"shots", "speech", "ocr"} row counts
    stages: dict[int, set[str]]            # video id -> names of its finished indexing stages


def channels_text(v: Video, counts: dict[str, int], stages: set[str]) -> str:
    """The table's channels cell: which search channels a video has, or why not."""
    parts = []
    if v.visual is True:
        parts.append("visual ✓")
    elif v.visual is False:
        parts.append("visual ✗ (no image model)")
    else:
        parts.append("visual …")
    pending = "…" if v.status == "indexing" else "not indexed"
    if "speech" in stages:
        parts.append(f"speech {counts['speech']}" if counts["speech"] else
                     ("speech: none heard" if v.has_audio else "speech: no audio track"))
    else:
        parts.append(f"speech {pending}")
    parts.append(f"text {counts['ocr']}" if "ocr" in stages else f"text {pending}")
    return " · ".join(parts)


class LibraryTab:
    """The Library tab's callbacks and the indexing job queue behind them."""

    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx
        self.library = ctx.library
        self.jobs = JobManager(self.ingest_and_index)

    def upload(self, file_path: str | None) -> str:
        """Check an upload and queue it for indexing; returns one sentence (why not, when it is refused)."""
        if not file_path:
            return ""
        config = self.ctx.config
        p = Path(file_path)
        name = shorten(p.name, 80)
        if p.suffix.lower() not in config.video_exts:
            return (f"“{name}” is not a video type CiteClip reads "
                    f"({', '.join(e.lstrip('.') for e in config.video_exts)}), so it was not added.")
        size = p.stat().st_size
        if size > config.max_upload_bytes:
            return f"“{name}” is {size / 2**20:.0f} MB, over the {config.max_upload_mb} MB limit, so it was not added."
        if size == 0:
            return f"“{name}” is empty, so it was not added."
        from ui.upload_check import unreadable_reason  # PyAV loads on the first upload, not at start-up

        refused = unreadable_reason(p, name)
        if refused:
            return refused
        job = self.jobs.submit(p, title=p.name)
        return f"Queued **{shorten(job.title, 80)}** for indexing (job {job.id})."

    def ingest_and_index(self, path: Path, progress: Callable[[str, float, str], None]) -> dict[str, Any]:
        """Job body: copy an upload into uploads/<sha>/<name> (what the player serves), then index it."""
        paths = self.ctx.paths
        if not paths.is_upload(path):
            digest = sha256_file(path, lambda fraction: progress("upload", fraction, "checking the file"))
            dest = paths.upload_path(digest, path.name)
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(dest.name + ".part")
                shutil.copyfile(path, tmp)
                os.replace(tmp, dest)
            progress("upload", 1.0, "stored")
            path = dest
        return self.library.index_video(path, progress=progress)

    def library_state(self) -> LibraryState:
        """Every video, its shot / speech / text-line counts and its finished stages, in three queries
        whatever the library's size (the page polls this every few seconds)."""
        videos = self.library.videos()
        # A video added after the first query has no counts yet: it waits for the next tick.
        found, done = self.library.row_counts(), self.library.finished_stages()
        counts = {v.id: found.get(v.id, dict.fromkeys(_COUNTED, 0)) for v in videos}
        stages = {v.id: done.get(v.id, set()) for v in videos}
        return LibraryState(videos, counts, stages)

    def library_rows(self, jobs: list[dict[str, Any]] | None = None, state: LibraryState | None = None
                     ) -> list[list[Any]]:
        """The videos table: id, title, status, duration, shots, channels, error.

        `jobs` (a `JobManager.snapshot()`) and `state` (`library_state()`) spare a caller that already
        has them from reading them again.
        """
        rows = []
        jobs = self.jobs.snapshot() if jobs is None else jobs
        state = self.library_state() if state is None else state
        running = {j["title"]: j for j in jobs if j["status"] == "running"}
        for v in state.videos:
            counts, stages = state.counts[v.id], state.stages[v.id]
            status = v.status
            if status == "indexing":
                job = running.get(Path(v.path).name)
                if job and job["stages"]:
                    stage, st = list(job["stages"].items())[-1]
                    status = f"indexing: {stage_words(stage).lower()} {st['fraction']:.0%}"
            rows.append([v.id, v.title, status, fmt_duration(v.duration_s), counts["shots"],
                         channels_text(v, counts, stages), v.error or ""])
        return rows

    def video_choices(self, ready_only: bool = False, videos: list[Video] | None = None
                      ) -> list[tuple[str, str]]:
        """Dropdown choices (label, id as str), from `videos` when the caller has already listed them."""
        out = []
        for v in self.library.videos() if videos is None else videos:
            if ready_only and v.status != "ready":
                continue
            out.append((f"{v.id} · {shorten(v.title, 50)} ({fmt_duration(v.duration_s)})", str(v.id)))
        return out

    def jobs_html(self, jobs: list[dict[str, Any]] | None = None, videos: list[Video] | None = None) -> str:
        """The indexing jobs' cards (skipped stages say why), or the empty library's message."""
        jobs = self.jobs.snapshot() if jobs is None else jobs
        videos = self.library.videos() if videos is None else videos
        if not jobs and not videos:
            return EMPTY_LIBRARY
        by_id = {v.id: v for v in videos}
        skipped: dict[int, dict[str, str]] = {}
        for j in jobs:
            r = j.get("result") or {}
            v = by_id.get(r.get("video_id"))
            why = skipped.setdefault(j["id"], {})
            if r and not r.get("visual"):
                why["image_vectors"] = "no image model installed (search uses speech and on-screen text)"
            if v is not None and not v.has_audio:
                why["speech"] = "the video has no sound"
        return jobs_html(jobs, skipped)

    def poll(self, last_sig: str | None) -> tuple[Any, Any, Any, Any, str]:
        """Timer tick: progress HTML always; table and dropdowns only when the library changed.

        One jobs snapshot and a fixed number of queries per tick, however many videos there are.
        """
        jobs = self.jobs.snapshot()
        state = self.library_state()
        html = self.jobs_html(jobs, state.videos)
        rows = self.library_rows(jobs, state)
        sig = json.dumps(rows, default=str)
        if sig == last_sig:
            return html, gr.skip(), gr.skip(), gr.skip(), sig
        return (html, rows, gr.update(choices=self.video_choices(videos=state.videos)),
                gr.update(choices=self.video_choices(ready_only=True, videos=state.videos)), sig)

    def library_table(self) -> list[list[Any]]:
        """API: the videos table (same rows as the page)."""
        return self.library_rows()

    def _picked(self, video_value: Any) -> Video:
        vid = choice_id(video_value)
        v = self.library.video(vid) if vid is not None else None
        if v is None:
            raise gr.Error("Pick a video first.")
        return v

    def reindex(self, video_value: Any) -> str:
        """Clear a video's stages and index it again from its file."""
        v = self._picked(video_value)
        if not Path(v.path).is_file():
            raise gr.Error(f"The file of “{v.title}” is gone ({Path(v.path).name}); upload it again.")
        self.library.forget_stages(v.id)
        self.jobs.submit(Path(v.path), title=Path(v.path).name, reindex=True)
        return f"Re-indexing **{shorten(v.title, 80)}**: its card above shows the progress."

    def picked_actions(self, video_value: Any) -> tuple[Any, Any]:
        """Re-index and Delete apply only once a video is picked."""
        on = choice_id(video_value) is not None
        return gr.update(interactive=on), gr.update(interactive=on)

    def delete(self, video_value: Any) -> str:
        """Delete a video: rows, vectors, thumbnails, and our copy of the upload."""
        v = self._picked(video_value)
        self.library.delete_video(v.id)
        self.ctx.paths.remove_upload(Path(v.path))
        return f"Deleted **{shorten(v.title, 80)}**."
