"""The Ask tab's outputs built from the event dicts so far: trace, timeline, answer, evidence.

Pure functions of the events (and a callback that decides which thumbnails the page may load), so
an ask in progress and a replay of a saved session draw the same view.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from ui import timeline, trace
from ui.answer import answer_html
from ui.fmt import fmt_clock

OUTPUTS = 6  # what `build` returns: trace, timeline, answer, evidence, seek state, JSON summary


_SOURCE_WORDS = {"ocr": "screen text", "speech": "speech", "fts": "words", "image": "picture"}


def event_dict(ev: Any) -> dict[str, Any]:
    """An event (dataclass with to_dict, or already a dict) as a dict."""
    return ev.to_dict() if hasattr(ev, "to_dict") else dict(ev)


def evidence(events: Sequence[dict[str, Any]], image: Callable[[str], Any],
             limit: int) -> tuple[list[tuple[Any, str]], list[float]]:
    """Gallery items (image, caption) and the time each one seeks to; `image` turns a thumbnail path
    into something the page may show (or None), at most `limit` items."""
    items: list[tuple[Any, str]] = []
    times: list[float] = []
    seen: set[str] = set()

    def add(thumb: str | None, t: float, caption: str) -> None:
        if not thumb or thumb in seen or len(items) >= limit:
            return
        img = image(thumb)
        if img is None:
            return
        seen.add(thumb)
        items.append((img, caption))
        times.append(float(t))

    for e in events:  # frames the agent verified come first: they are what it looked at
        if e.get("kind") == "verification" and not e.get("error"):
            add(e.get("thumb"), e.get("t_s", 0.0), f"{fmt_clock(e.get('t_s'))} · checked: {e.get('verdict', 'uncertain')}")
    for e in events:
        if e.get("kind") == "tool_result" and not e.get("error"):
            for c in e.get("clips") or []:
                t = c.get("keyframe_s") if c.get("keyframe_s") is not None else c.get("start_s", 0.0)
                add(c.get("thumb"), t, f"{fmt_clock(t)} · found in {' + '.join(_SOURCE_WORDS.get(s, s) for s in c.get('sources') or []) or 'search'}")
    return items, times


def build(events: list[dict[str, Any]], duration: float | None, shots: list[dict], running: bool,
          error: str | None = None, *, image: Callable[[str], Any], gallery_max: int) -> tuple[Any, ...]:
    """Every output of an ask / replay step, from the events so far: trace messages, timeline figure,
    answer HTML (with its time links), evidence gallery, seek state and the JSON summary."""
    msgs = trace.to_messages(events, running=running)
    if error:
        msgs.append(gr.ChatMessage(content=f"⚠️ {error}", metadata={"title": "The agent stopped",
                                                                    "status": "done"}))
    fig = timeline.build_figure(events, duration, shots)
    answer = next((e for e in reversed(events) if e.get("kind") == "answer"), None)
    task = next((e for e in events if e.get("kind") == "task"), {})
    cites = (answer or {}).get("citations") or []
    gallery, times = evidence(events, image, gallery_max)
    state = {"session_id": task.get("session_id"), "video_id": task.get("video_id"),
             "citations": cites, "gallery_times": times}
    summary = {"session_id": task.get("session_id"), "question": task.get("question"),
               "status": (answer or {}).get("status", "running" if running else "failed"),
               "answer": (answer or {}).get("text"), "citations": cites, "steps": len(events)}
    if error:
        summary["error"] = error
    answer_view = answer_html(answer, events, running=running, error=error)
    return msgs, fig, answer_view, gallery, state, summary
