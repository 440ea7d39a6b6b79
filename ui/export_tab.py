"""The Export tab: write a session's exports on request and offer them as downloads."""
from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from assets.errors import is_user_error
from ui.context import UIContext, choice_id
from ui.jobs import plain_error

log = logging.getLogger(__name__)

EXPORT_LABELS = {"json": "JSON", "csv": "CSV", "srt": "SRT subtitles", "vtt": "WebVTT", "edl": "EDL (CMX 3600)",
                 "chapters": "YouTube chapters", "clips": "Cut clips (.zip)"}
CUT = ("clips",)  # the one format that re-encodes video: made only on request


class ExportTab:
    """The Export tab's callbacks."""

    def __init__(self, ctx: UIContext) -> None:
        self.ctx = ctx

    def formats(self) -> tuple[str, ...]:
        """The export formats, in button order (all known labels when the agent room cannot load)."""
        try:
            return self.ctx.agent.formats
        except ImportError:  # the agent room is missing: the page still opens, exports say why
            return tuple(EXPORT_LABELS)

    def prepare(self, session_value: Any, wanted: tuple[str, ...]) -> tuple[Any, ...]:
        """Write the `wanted` exports of a session; one DownloadButton update per format (the others left
        as they are), then a note."""
        sid = choice_id(session_value)
        formats = self.formats()
        if sid is None:
            return (*[gr.update(value=None, interactive=False) for _ in formats], "Pick a session.")
        ups, notes = [], []
        for fmt in formats:
            if fmt not in wanted:
                ups.append(gr.skip())
                continue
            try:
                path = self.ctx.agent.export(self.ctx.library, sid, fmt)
                ups.append(gr.update(value=str(path), interactive=True))
            except Exception as exc:  # noqa: BLE001 - one failing format must not hide the others
                (log.info if is_user_error(exc) else log.exception)("export %s of %s: %s", fmt, sid, exc)
                ups.append(gr.update(value=None, interactive=False))
                notes.append(f"{EXPORT_LABELS.get(fmt, fmt)}: {plain_error(exc)}")
        ready = "Cut clips are ready." if wanted == CUT else f"Downloads of session #{sid} are ready."
        if wanted != CUT and CUT[0] in formats:
            ready += " Cut clips are made when you press **Cut clips**."
        return (*ups, ready + ("" if not notes else "\n\n⚠️ " + "\n\n⚠️ ".join(notes)))

    def prepare_quick(self, session_value: Any) -> tuple[Any, ...]:
        """A session picked: write every export that needs no cutting (they take moments), and clear the
        previous session's cut clips."""
        ups = self.prepare(session_value, tuple(f for f in self.formats() if f not in CUT))
        return (*[gr.update(value=None, interactive=False) if f in CUT else u
                  for f, u in zip(self.formats(), ups)], ups[-1])

    def prepare_clips(self, session_value: Any) -> tuple[Any, ...]:
        """Cut clips pressed: cut the cited moments into a zip (re-encoding takes a while)."""
        return self.prepare(session_value, CUT)

    def prepare_exports(self, session_value: Any) -> tuple[Any, ...]:
        """API: write every export of a session at once."""
        return self.prepare(session_value, self.formats())

    def export_choices(self) -> Any:
        """The session picker's choices: every past session."""
        return gr.update(choices=self.ctx.session_choices(None))

    def after_answer(self, state: dict[str, Any] | None) -> tuple[Any, Any]:
        """Refresh the session lists and point the Export tab at the session just answered."""
        sid = (state or {}).get("session_id")
        vid = (state or {}).get("video_id")
        val = str(sid) if sid is not None else None
        return (gr.update(choices=self.ctx.session_choices(vid), value=val),
                gr.update(choices=self.ctx.session_choices(None), value=val))
