"""The answer as a person reads it: the text, each cited moment as a time link, the status in words.

Pure functions of the event dicts (an ask in progress and a replayed session read the same). The
links carry their span as `data-start` / `data-end`; the page script (`ui.page_js`) makes a click
seek the player there and play, and marks the spans on the player's own bar.
"""
from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from ui.fmt import fmt_clock

# What a verification method checked, as the end of "Checked against ...".
METHOD_WORDS = {"ocr": "the on-screen text", "transcript": "what is said", "speech": "what is said",
                "clip": "the picture", "image": "the picture", "vlm": "the picture"}


def confidence_words(conf: Any) -> str:
    """A confidence in words ('' when there is none)."""
    try:
        c = float(conf)
    except (TypeError, ValueError):
        return ""
    return "high confidence" if c >= 0.75 else "medium confidence" if c >= 0.45 else "low confidence"


def cite_link(c: dict[str, Any]) -> str:
    """One cited moment as a small link the page script turns into 'seek there and play'."""
    start, end = float(c.get("start_s", 0.0)), float(c.get("end_s", c.get("start_s", 0.0)))
    words = confidence_words(c.get("confidence"))
    title = f"Play {fmt_clock(start)}–{fmt_clock(end)}" + (f" ({words})" if words else "")
    return (f"<a class='cc-cite' href='#' role='button' data-start='{start:.3f}' data-end='{end:.3f}' "
            f"title='{escape(title)}'>▶ {fmt_clock(start)}</a>")


def _checked(answer: dict[str, Any], events: Sequence[dict[str, Any]]) -> str:
    """'Checked against the on-screen text at 2:38' from the verifications the citations rest on."""
    steps = {int(s) for c in answer.get("citations") or [] for s in c.get("evidence") or []
             if str(s).lstrip("-").isdigit()}
    verified = [e for e in events if e.get("kind") == "verification" and not e.get("error")
                and e.get("verdict") == "supported" and (not steps or int(e.get("n", -1)) in steps)]
    if not verified:
        return "Found in the video"
    v = verified[0]
    methods = {str(m) for m in v.get("methods") or []}
    what = list(dict.fromkeys(w for m, w in METHOD_WORDS.items() if m in methods))  # text first, then picture
    against = " and ".join(what) or "the video"
    return f"Checked against {against} at {fmt_clock(v.get('t_s'))}"


def status_line(answer: dict[str, Any], events: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """(css class, sentence) saying how far the answer can be trusted."""
    status = answer.get("status") or "answered"
    if status == "not_found":
        reason = str(answer.get("reason") or "").strip()
        return "not-found", "Not found in this video" + (f": {reason}" if reason else ".")
    if status == "unverified":
        reason = str(answer.get("reason") or "").strip() or "the moments found did not pass a check"
        return "unverified", f"Not confirmed: {reason}"
    return "answered", _checked(answer, events)


def answer_html(answer: dict[str, Any] | None, events: Sequence[dict[str, Any]] = (), *,
                running: bool = False, error: str | None = None) -> str:
    """The answer panel: text with its time links, the quote when there is one, the status in words."""
    if error:
        return f"<div class='cc-answer cc-answer-error' data-status='error'>{escape(error)}</div>"
    if not answer:
        if running:
            return "<div class='cc-answer cc-working' data-status='running'>Working on it…</div>"
        return ""
    status = answer.get("status") or "answered"
    cites = answer.get("citations") or []
    links = " ".join(cite_link(c) for c in cites)
    text = escape(str(answer.get("text") or "").strip()) or "(no answer text)"
    parts = [f"<div class='cc-answer' data-status='{escape(status)}'>",
             f"<p class='cc-answer-text'>{text} <span class='cc-cites'>{links}</span></p>"]
    quote = answer.get("quote")
    if isinstance(quote, str) and quote.strip():
        parts.append(f"<blockquote class='cc-quote'>“{escape(quote.strip())}”</blockquote>")
    cls, sentence = status_line(answer, events)
    parts.append(f"<p class='cc-status cc-status-{cls}'>{escape(sentence)}</p></div>")
    return "".join(parts)
