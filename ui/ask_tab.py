"""The Ask tab: pick a video, ask, watch the agent's trace and timeline stream in, replay past sessions,
and seek the player from citations, evidence frames and timeline clicks."""
from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ui import askview
from ui.answer import answer_html
from ui.context import UIContext, choice_id
from ui.jobs import plain_error
from ui.paths import inside
from ui.suggest import example_questions

if TYPE_CHECKING:
    from memory.store import Video

REFUSED = "refused"  # the run token of a press that must start nothing (see `AskTab.begin`)

log = logging.getLogger(__name__)


class AskTab:
    """The Ask tab's callbacks."""

    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx
        self.library = ctx.library
        self._running: set[str] = set()  # browser sessions with a question running (one run each)
        self._running_lock = threading.Lock()

    def select_video(self, video_value: Any) -> tuple[Any, ...]:
        """Video picked: load the player and its poster frame, list its past sessions, offer example
        questions from its own memory, and allow asking once it is ready."""
        vid = choice_id(video_value)
        v = self.library.video(vid) if vid is not None else None
        if v is None:
            return (gr.update(value=None), gr.update(choices=[], value=None), "", gr.update(samples=[], visible=False),
                    "", gr.update(interactive=False))
        path = self.ctx.paths.player_path(v)
        note = "" if path else f"The file of “{v.title}” is gone; answers still cite times."
        if v.status != "ready":
            note = f"“{v.title}” is {v.status}{': ' + v.error if v.error else ''}."
        shots = self._shots(v.id)
        examples = self.examples(v.id) if v.status == "ready" else []
        return (gr.update(value=path, playback_position=0),
                gr.update(choices=self.ctx.session_choices(v.id), value=None), note,
                gr.update(samples=[[q] for q in examples], visible=bool(examples)),
                self.poster_html(shots), gr.update(interactive=v.status == "ready"))

    def examples(self, video_id: int) -> list[str]:
        """Example questions about this video's own on-screen text and speech (none when it has neither)."""
        try:
            return example_questions(self.library.screen_text(video_id), self.library.transcript(video_id))
        except Exception as exc:  # noqa: BLE001 - examples are a convenience: the page works without them
            log.warning("examples of %s: %s", video_id, exc)
            return []

    def poster_html(self, shots: list[dict[str, Any]]) -> str:
        """A hidden marker naming the player's poster: a shot's key frame from early in the video (not the
        first, often black)."""
        thumbs = [s["thumb"] for s in shots if s.get("thumb")]
        if not thumbs:
            return ""
        thumb = Path(thumbs[min(len(thumbs) - 1, max(1, len(thumbs) // 5))])
        if not inside(thumb, self.library.data.thumbs_dir):  # only thumbs/ is served
            return ""
        return f"<span id='cc-poster' data-src='/gradio_api/file={escape(str(thumb))}'></span>"

    def _view(self, events: list[dict[str, Any]], duration: float | None, shots: list[dict[str, Any]],
              running: bool, error: str | None = None) -> tuple[Any, ...]:
        """Every output of an ask / replay step, from the events so far."""
        return askview.build(events, duration, shots, running, error,
                             image=self.ctx.paths.servable_image, gallery_max=self.ctx.config.gallery_max)

    def _shots(self, video_id: int) -> list[dict[str, Any]]:
        try:
            return list(self.library.shots(video_id))
        except Exception as exc:  # noqa: BLE001 - the timeline simply has no shot lane
            log.warning("shots of %s: %s", video_id, exc)
            return []

    def _checked_video(self, video_value: Any, question: str | None) -> tuple[Video, str] | str:
        """(video, question) ready to ask, or the sentence saying what is missing."""
        vid = choice_id(video_value)
        v = self.library.video(vid) if vid is not None else None
        if v is None:
            return "Pick a video first (upload one in the Library tab)."
        if v.status != "ready":
            return f"“{v.title}” is not ready yet ({v.status})."
        question = (question or "").strip()
        if not question:
            return "Type a question first."
        return v, question

    def begin(self, video_value: Any, question: str | None, request: gr.Request) -> tuple[Any, ...]:
        """An Ask press (or Enter): start a run unless one is running for this page; returns the Ask and
        Stop buttons, the answer panel, the trace's fold and the run token (`REFUSED`: start nothing)."""
        checked = self._checked_video(video_value, question)
        if isinstance(checked, str):  # a plain sentence where the answer goes; the next action replaces it
            return (gr.skip(), gr.skip(), answer_html(None, error=checked), gr.skip(), REFUSED)
        key = getattr(request, "session_hash", None) or "api"
        with self._running_lock:
            if key in self._running:
                return (gr.skip(), gr.skip(), gr.skip(), gr.skip(), REFUSED)
            self._running.add(key)
        return (gr.update(interactive=False), gr.update(interactive=True), answer_html(None, running=True),
                gr.update(open=True), f"{key}|{uuid.uuid4().hex}")

    def finish(self, request: gr.Request) -> tuple[Any, ...]:
        """A chain of Ask ended: unless a run of this page is still going (a refused second press ends
        after it), Ask again, Stop off, the trace folded. The run itself clears its mark (`ask`), since
        Gradio may drop the first chain's last steps when the same trigger fires again."""
        with self._running_lock:
            if (getattr(request, "session_hash", None) or "api") in self._running:
                return gr.skip(), gr.skip(), gr.skip()
        return gr.update(interactive=True), gr.update(interactive=False), gr.update(open=False)

    def stop(self, request: gr.Request) -> tuple[Any, Any]:
        """Stop pressed: the run is cancelled by the page; this page may ask again."""
        with self._running_lock:
            self._running.discard(getattr(request, "session_hash", None) or "api")
        return gr.update(interactive=True), gr.update(interactive=False)

    def ask(self, video_value: Any, question: str, token: str | None = None) -> Iterator[tuple[Any, ...]]:
        """Run the agent and stream its trace, timeline, answer and evidence at every step.

        From the page, `begin` has checked the input and handed a token (`REFUSED`: yield nothing new);
        through the API there is no token and a bad input raises."""
        if token == REFUSED:
            yield tuple(gr.skip() for _ in range(askview.OUTPUTS))
            return
        checked = self._checked_video(video_value, question)
        if isinstance(checked, str):
            raise gr.Error(checked)
        v, question = checked
        try:
            yield from self._run(v, question)
        finally:  # answered, failed or cancelled: this page may ask again
            if token:
                with self._running_lock:
                    self._running.discard(token.split("|", 1)[0])

    def _run(self, v: Video, question: str) -> Iterator[tuple[Any, ...]]:
        shots = self._shots(v.id)
        events: list[dict[str, Any]] = []
        yield self._view(events, v.duration_s, shots, running=True)
        try:
            policy = self.ctx.policy()
            for ev in self.ctx.agent.run(self.library, v.id, question, policy):
                events.append(askview.event_dict(ev))
                yield self._view(events, v.duration_s, shots, running=True)
        except Exception as exc:  # noqa: BLE001 - the user sees one line; the log keeps the trace
            log.exception("ask failed")
            yield self._view(events, v.duration_s, shots, running=False, error=plain_error(exc))
            return
        yield self._view(events, v.duration_s, shots, running=False)

    def replay(self, session_value: Any, step_s: float | None = None) -> Iterator[tuple[Any, ...]]:
        """Reopen a saved session and replay its steps onto the trace and the timeline."""
        sid = choice_id(session_value)
        if sid is None:
            raise gr.Error("Pick a past session first.")
        try:
            s = self.ctx.agent.load_session(self.library.store, sid)
        except Exception as exc:  # noqa: BLE001
            raise gr.Error(f"Session {sid} cannot be opened: {plain_error(exc)}") from None
        v = self.library.video(int(s["video_id"])) if s.get("video_id") is not None else None
        duration = v.duration_s if v else None
        shots = self._shots(v.id) if v else []
        steps = [askview.event_dict(e) for e in s.get("steps") or []]
        delay = self.ctx.config.replay_step_s if step_s is None else step_s
        shown: list[dict[str, Any]] = []
        for e in steps:
            shown.append(e)
            yield self._view(shown, duration, shots, running=True)
            time.sleep(delay)
        yield self._view(shown, duration, shots, running=False)

    # -- seeking the player ---------------------------------------------------------------------
    @staticmethod
    def seek_to(t: float | None) -> Any:
        """The player update that seeks to `t` seconds."""
        if t is None or not math.isfinite(float(t)):  # "nan"/"inf" from a hand-made request: nothing to seek
            return gr.skip()
        return gr.update(playback_position=max(0.0, float(t)))

    @staticmethod
    def use_example(sample: list[str] | None) -> Any:
        """An example question clicked: it goes into the question box (asking stays the user's choice)."""
        return sample[0] if sample else gr.skip()

    def seek_gallery(self, state: dict[str, Any] | None, evt: gr.SelectData) -> Any:
        """An evidence frame clicked: seek to its time."""
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
