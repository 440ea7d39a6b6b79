"""The callbacks behind the page: library, indexing jobs, asking, replaying, seeking and exporting.

`Handlers` holds the Library, the job manager, the lazily built policy and the agent's functions
(`AgentAPI`, injectable so tests can run the real UI against a fake agent). Callbacks take and
return plain values and `gr.update`s; the layout wires them to components.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from memory.indexer import sha256_file
from ui import askview
from ui.config import UIConfig
from ui.fmt import fmt_duration, shorten
from ui.jobs import JobManager, plain_error

log = logging.getLogger(__name__)

EXPORT_LABELS = {"json": "JSON", "csv": "CSV", "srt": "SRT subtitles", "vtt": "WebVTT", "edl": "EDL (CMX 3600)",
                 "chapters": "YouTube chapters", "clips": "Cut clips (.zip)"}
LIBRARY_HEADERS = ["id", "title", "status", "duration", "shots", "channels", "error"]
_COUNTED = ("shots", "speech", "ocr")  # the per-video row counts the videos table shows


@dataclass(frozen=True)
class AgentAPI:
    """The agent room's functions the UI calls (see iface_agent.md)."""

    run: Callable[..., Iterator[Any]]                    # (library, video_id, question, policy) -> events
    load_session: Callable[[Any, int], dict]             # (store, session_id) -> {"steps": [...], ...}
    list_sessions: Callable[..., list[dict]]             # (store, video_id=None) -> [{...}]
    export: Callable[..., Path]                          # (library, session_id, fmt) -> path under exports/
    formats: tuple[str, ...]                             # export formats, in button order


@dataclass(frozen=True)
class LibraryState:
    """What the videos table shows, read in one go (see `Handlers.library_state`)."""

    videos: list[Any]                      # memory.store.Video rows, by id
    counts: dict[int, dict[str, int]]      # video id -> {"shots", "speech", "ocr"} row counts
    stages: dict[int, set[str]]            # video id -> names of its finished indexing stages


def default_agent_api() -> AgentAPI:
    """The real agent, imported only when the app is built (keeps `import ui` light)."""
    from agent import export as export_mod
    from agent import loop, session

    return AgentAPI(run=loop.run, load_session=session.load_session, list_sessions=session.list_sessions,
                    export=export_mod.export, formats=tuple(export_mod.FORMATS))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def _safe_name(name: str) -> str:
    """A file name with nothing but letters, digits, dot, dash and underscore (never a path)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "video"
    return stem[:120]


def _choice_id(value: Any) -> int | None:
    """A dropdown value ('12', 12, '12 · title') as an id."""
    if value is None or value == "":
        return None
    try:
        return int(str(value).split(" ", 1)[0])
    except ValueError:
        return None


class Handlers:
    """Every callback of the app, sharing one Library, one job queue and one policy."""

    def __init__(self, library: Any, policy_factory: Callable[[], Any], config: UIConfig = UIConfig(),
                 agent_api: AgentAPI | None = None) -> None:
        self.library = library
        self.config = config
        self.policy_factory = policy_factory
        self._policy: Any = None
        self._policy_lock = threading.Lock()
        self._agent_api = agent_api
        self.jobs = JobManager(self._ingest_and_index)

    # -- shared pieces --------------------------------------------------------------------------
    @property
    def agent(self) -> AgentAPI:
        if self._agent_api is None:
            self._agent_api = default_agent_api()
        return self._agent_api

    @property
    def data(self) -> Any:
        return self.library.data

    @property
    def store(self) -> Any:
        return self.library.store

    def policy(self) -> Any:
        """The policy, built on first use (loading a model takes a while; start-up must not)."""
        with self._policy_lock:
            if self._policy is None:
                self._policy = self.policy_factory()
            return self._policy

    def served_dirs(self) -> list[Path]:
        """The only folders the browser may fetch from: player copies, thumbnails, exports."""
        return [self.data.uploads_dir, self.data.thumbs_dir, self.data.exports_dir]

    def blocked_paths(self) -> list[Path]:
        """Never served, even if a served folder somehow links to them."""
        db = self.data.db_path
        return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), self.data.index_dir,
                self.data.models_dir]

    # -- library --------------------------------------------------------------------------------
    def upload(self, file_path: str | None) -> str:
        """Validate an upload and queue it for indexing; returns a status line."""
        if not file_path:
            return ""
        p = Path(file_path)
        ext = p.suffix.lower()
        if ext not in self.config.video_exts:
            raise gr.Error(f"{p.name}: not a video type CiteClip reads ({', '.join(self.config.video_exts)})")
        size = p.stat().st_size
        if size > self.config.max_upload_bytes:
            raise gr.Error(f"{p.name} is {size / 2**20:.0f} MB; the limit is {self.config.max_upload_mb} MB")
        if size == 0:
            raise gr.Error(f"{p.name} is empty")
        job = self.jobs.submit(p, title=p.name)
        return f"Queued **{shorten(job.title, 80)}** for indexing (job {job.id})."

    def _ingest_and_index(self, path: Path, progress: Callable[[str, float, str], None]) -> dict:
        """Job body: copy an upload into uploads/<sha>/<name> (what the player serves), then index it."""
        uploads = self.data.uploads_dir
        if not _inside(path, uploads):
            digest = sha256_file(path, lambda fraction: progress("upload", fraction, "checking the file"))
            dest = uploads / digest[:16] / _safe_name(path.name)
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
        videos = self.store.videos()
        counts: dict[int, dict[str, int]] = {v.id: dict.fromkeys(_COUNTED, 0) for v in videos}
        stages: dict[int, set[str]] = {v.id: set() for v in videos}
        # The table names are our constants, never user input.
        union = " UNION ALL ".join(f"SELECT '{t}', video_id, COUNT(*) FROM {t} GROUP BY video_id"
                                   for t in _COUNTED)
        for table, vid, n in self.store.db.execute(union).fetchall():
            if vid in counts:  # a video added after the first query waits for the next tick
                counts[vid][table] = int(n)
        for vid, name in self.store.db.execute("SELECT video_id, name FROM stages").fetchall():
            if vid in stages:
                stages[vid].add(name)
        return LibraryState(videos, counts, stages)

    def _channels(self, v: Any, counts: dict[str, int], stages: set[str]) -> str:
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
                    status = f"indexing: {stage} {st['fraction']:.0%}"
            rows.append([v.id, v.title, status, fmt_duration(v.duration_s), counts["shots"],
                         self._channels(v, counts, stages), v.error or ""])
        return rows

    def video_choices(self, ready_only: bool = False, videos: list[Any] | None = None
                      ) -> list[tuple[str, str]]:
        """Dropdown choices (label, id as str), from `videos` when the caller has already listed them."""
        out = []
        for v in self.store.videos() if videos is None else videos:
            if ready_only and v.status != "ready":
                continue
            out.append((f"{v.id} · {shorten(v.title, 50)} ({fmt_duration(v.duration_s)})", str(v.id)))
        return out

    def jobs_html(self, jobs: list[dict[str, Any]] | None = None) -> str:
        """Per-stage progress of the indexing jobs (`jobs`, else a fresh snapshot), as HTML progress bars."""
        jobs = self.jobs.snapshot() if jobs is None else jobs
        if not jobs:
            return "<div class='cc-jobs cc-empty'>No indexing running.</div>"
        parts = ["<div class='cc-jobs'>"]
        for j in jobs:
            status = j["status"]
            parts.append(f"<div class='cc-job cc-{status}' data-status='{status}'>"
                         f"<div class='cc-job-title'><b>{_html(shorten(j['title'], 80))}</b> — {status}</div>")
            if j["error"]:
                parts.append(f"<div class='cc-error'>{_html(j['error'])}</div>")
            for stage, st in j["stages"].items():
                parts.append(f"<div class='cc-stage'><span class='cc-stage-name'>{_html(stage)}</span>"
                             f"<progress max='1' value='{st['fraction']:.3f}'></progress>"
                             f"<span class='cc-stage-msg'>{st['fraction']:.0%} {_html(shorten(st['message'], 60))}"
                             f"</span></div>")
            if j["result"]:
                r = j["result"]
                parts.append(f"<div class='cc-result'>video {r.get('video_id')}: {r.get('shots')} shots, "
                             f"{r.get('speech_segments')} speech segments, {r.get('ocr_lines')} text lines, "
                             f"visual {'yes' if r.get('visual') else 'no'} — {r.get('seconds')} s</div>")
            parts.append("</div>")
        parts.append("</div>")
        return "".join(parts)

    def poll(self, last_sig: str | None) -> tuple[Any, Any, Any, Any, str]:
        """Timer tick: progress HTML always; table and dropdowns only when the library changed.

        One jobs snapshot and a fixed number of queries per tick, however many videos there are.
        """
        jobs = self.jobs.snapshot()
        state = self.library_state()
        html = self.jobs_html(jobs)
        rows = self.library_rows(jobs, state)
        sig = json.dumps(rows, default=str)
        if sig == last_sig:
            return html, gr.skip(), gr.skip(), gr.skip(), sig
        return (html, rows, gr.update(choices=self.video_choices(videos=state.videos)),
                gr.update(choices=self.video_choices(ready_only=True, videos=state.videos)), sig)

    def library_table(self) -> list[list[Any]]:
        """API: the videos table (same rows as the page)."""
        return self.library_rows()

    def reindex(self, video_value: Any) -> str:
        """Clear a video's stages and index it again from its file."""
        vid = _choice_id(video_value)
        v = self.store.video(vid) if vid is not None else None
        if v is None:
            raise gr.Error("Pick a video first.")
        if not Path(v.path).is_file():
            raise gr.Error(f"The file of “{v.title}” is gone ({Path(v.path).name}); upload it again.")
        self.store.clear_stages(v.id, list(self.store.stages(v.id)))
        self.store.update_video(v.id, status="indexing", error=None)
        self.jobs.submit(Path(v.path), title=Path(v.path).name)
        return f"Re-indexing **{shorten(v.title, 80)}**."

    def delete(self, video_value: Any) -> str:
        """Delete a video: rows, vectors, thumbnails, and our copy of the upload."""
        vid = _choice_id(video_value)
        v = self.store.video(vid) if vid is not None else None
        if v is None:
            raise gr.Error("Pick a video first.")
        self.library.delete_video(v.id)
        p = Path(v.path)
        if _inside(p, self.data.uploads_dir) and p.is_file():
            p.unlink()
            if p.parent != self.data.uploads_dir and not any(p.parent.iterdir()):
                p.parent.rmdir()
        return f"Deleted **{shorten(v.title, 80)}**."

    # -- ask tab --------------------------------------------------------------------------------
    def player_path(self, video: Any) -> str | None:
        """A path under uploads/ for the player: the upload itself, or a hard link / copy of a file
        indexed from elsewhere (only served folders are reachable, and a symlink out would be refused)."""
        p = Path(video.path)
        if not p.is_file():
            return None
        if _inside(p, self.data.uploads_dir):
            return str(p)
        dest = self.data.uploads_dir / video.sha256[:16] / _safe_name(p.name)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(p, dest)
            except OSError:
                shutil.copyfile(p, dest)
        return str(dest)

    def select_video(self, video_value: Any) -> tuple[Any, Any, str]:
        """Video picked: load the player, list its past sessions."""
        vid = _choice_id(video_value)
        v = self.store.video(vid) if vid is not None else None
        if v is None:
            return gr.update(value=None), gr.update(choices=[], value=None), ""
        path = self.player_path(v)
        note = "" if path else f"The file of “{v.title}” is gone; answers still cite times."
        if v.status != "ready":
            note = f"“{v.title}” is {v.status}{': ' + v.error if v.error else ''}."
        return (gr.update(value=path, playback_position=0), gr.update(choices=self.session_choices(v.id), value=None),
                note)

    def session_choices(self, video_id: int | None = None) -> list[tuple[str, str]]:
        """Past sessions as dropdown choices (label, id as str), newest first."""
        try:
            sessions = self.agent.list_sessions(self.store, video_id)
        except Exception as exc:  # noqa: BLE001 - a broken row must not break the page
            log.warning("listing sessions failed: %s", exc)
            return []
        out = []
        for s in sessions:
            sid = s.get("session_id", s.get("id"))
            out.append((f"#{sid} · {shorten(s.get('question', ''), 60)} · {s.get('status', '')}", str(sid)))
        return sorted(out, key=lambda c: -int(c[1]))

    def _servable_image(self, thumb: str) -> Any:
        """A thumbnail path the page may load, or a PIL copy of a frame saved elsewhere in the data dir."""
        p = Path(thumb)
        if not p.is_absolute():
            p = self.data.root / p
        if not p.is_file() or p.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp"):
            return None
        if any(_inside(p, d) for d in (self.data.thumbs_dir, self.data.exports_dir)):
            return str(p)
        if _inside(p, self.data.root) and not any(_inside(p, b) for b in self.blocked_paths()):
            from PIL import Image
            with Image.open(p) as im:
                return im.convert("RGB").copy()
        return None

    def _view(self, events: list[dict[str, Any]], duration: float | None, shots: list[dict], running: bool,
              error: str | None = None) -> tuple[Any, ...]:
        """Every output of an ask / replay step, from the events so far."""
        return askview.build(events, duration, shots, running, error,
                             image=self._servable_image, gallery_max=self.config.gallery_max)

    def ask(self, video_value: Any, question: str) -> Iterator[tuple[Any, ...]]:
        """Run the agent and stream its trace, timeline, answer, chips and evidence at every step."""
        vid = _choice_id(video_value)
        v = self.store.video(vid) if vid is not None else None
        if v is None:
            raise gr.Error("Pick a video first (upload one in the Library tab).")
        if v.status != "ready":
            raise gr.Error(f"“{v.title}” is not ready yet ({v.status}).")
        question = (question or "").strip()
        if not question:
            raise gr.Error("Type a question first.")
        shots = self._shots(v.id)
        events: list[dict[str, Any]] = []
        yield self._view(events, v.duration_s, shots, running=True)
        try:
            policy = self.policy()
            for ev in self.agent.run(self.library, v.id, question, policy):
                events.append(askview.event_dict(ev))
                yield self._view(events, v.duration_s, shots, running=True)
        except Exception as exc:  # noqa: BLE001 - the user sees one line; the log keeps the trace
            log.exception("ask failed")
            yield self._view(events, v.duration_s, shots, running=False, error=plain_error(exc))
            return
        yield self._view(events, v.duration_s, shots, running=False)

    def _shots(self, video_id: int) -> list[dict]:
        try:
            return list(self.library.shots(video_id))
        except Exception as exc:  # noqa: BLE001 - the timeline simply has no shot lane
            log.warning("shots of %s: %s", video_id, exc)
            return []

    def replay(self, session_value: Any, step_s: float | None = None) -> Iterator[tuple[Any, ...]]:
        """Reopen a saved session and replay its steps onto the trace and the timeline."""
        sid = _choice_id(session_value)
        if sid is None:
            raise gr.Error("Pick a past session first.")
        try:
            s = self.agent.load_session(self.store, sid)
        except Exception as exc:  # noqa: BLE001
            raise gr.Error(f"Session {sid} cannot be opened: {plain_error(exc)}") from None
        v = self.store.video(int(s["video_id"])) if s.get("video_id") is not None else None
        duration = v.duration_s if v else None
        shots = self._shots(v.id) if v else []
        steps = [askview.event_dict(e) for e in s.get("steps") or []]
        delay = self.config.replay_step_s if step_s is None else step_s
        shown: list[dict[str, Any]] = []
        for e in steps:
            shown.append(e)
            yield self._view(shown, duration, shots, running=True)
            time.sleep(delay)
        yield self._view(shown, duration, shots, running=False)

    # -- seeking ---------------------------------------------------------------------------------
    @staticmethod
    def seek_to(t: float | None) -> Any:
        """The player update that seeks to `t` seconds."""
        if t is None:
            return gr.skip()
        return gr.update(playback_position=max(0.0, float(t)))

    def seek_citation(self, index: int | None, state: dict | None) -> Any:
        cites = (state or {}).get("citations") or []
        if index is None or not 0 <= int(index) < len(cites):
            return gr.skip()
        return self.seek_to(cites[int(index)]["start_s"])

    def seek_gallery(self, state: dict | None, evt: gr.SelectData) -> Any:
        times = (state or {}).get("gallery_times") or []
        i = evt.index if isinstance(evt.index, int) else None
        if i is None or not 0 <= i < len(times):
            return gr.skip()
        return self.seek_to(times[i])

    def seek_request(self, request: str | None) -> Any:
        """A click on the timeline arrives as 'seconds|nonce' from the page script."""
        try:
            return self.seek_to(float(str(request or "").split("|", 1)[0]))
        except ValueError:
            return gr.skip()

    # -- export ---------------------------------------------------------------------------------
    def prepare_exports(self, session_value: Any) -> tuple[Any, ...]:
        """Write every export of a session; returns one DownloadButton update per format, then a note."""
        sid = _choice_id(session_value)
        formats = self.agent.formats
        if sid is None:
            return (*[gr.update(value=None, interactive=False) for _ in formats], "Pick a session.")
        ups, notes = [], []
        for fmt in formats:
            try:
                path = self.agent.export(self.library, sid, fmt)
                ups.append(gr.update(value=str(path), interactive=True))
            except Exception as exc:  # noqa: BLE001 - one failing format must not hide the others
                log.exception("export %s of %s", fmt, sid)
                ups.append(gr.update(value=None, interactive=False))
                notes.append(f"{EXPORT_LABELS.get(fmt, fmt)}: {plain_error(exc)}")
        note = f"Exports of session #{sid} are ready." + ("" if not notes else "\n\n⚠️ " + "\n\n⚠️ ".join(notes))
        return (*ups, note)

    def clear_exports(self, session_value: Any) -> tuple[Any, ...]:
        """Another session picked: disable the downloads (they belong to the previous one) until the user
        prepares this one's; writing every export, cut clips included, waits for that button."""
        sid = _choice_id(session_value)
        note = ("Pick a session." if sid is None
                else f"Press **Prepare downloads** to write session #{sid}'s exports.")
        return (*[gr.update(value=None, interactive=False) for _ in self.agent.formats], note)

    def export_choices(self) -> Any:
        return gr.update(choices=self.session_choices(None))

    def after_answer(self, state: dict | None) -> tuple[Any, Any]:
        """Refresh the session lists and point the Export tab at the session just answered."""
        sid = (state or {}).get("session_id")
        vid = (state or {}).get("video_id")
        val = str(sid) if sid is not None else None
        return (gr.update(choices=self.session_choices(vid), value=val),
                gr.update(choices=self.session_choices(None), value=val))


def _html(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
            .replace('"', "&quot;"))
