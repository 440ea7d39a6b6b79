"""The agent's trace as chat messages: context event dicts → `gr.ChatMessage` list.

The list is rebuilt from the whole event list at every step (a pure function), so "pending" falls
out naturally: a tool call whose result has not arrived yet is shown with a spinner, and turns
"done" with its duration once the result (or verification) that answers it is in the list. Tool
results and verifications nest under the call that asked for them (`metadata.parent_id`).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import gradio as gr

from ui.fmt import fmt_span, fmt_time, shorten

VERDICT_ICON = {"supported": "✔", "refuted": "✘", "uncertain": "?"}  # in every font, unlike emoji
STATUS_LINE = {
    "answered": "",
    "unverified": "*Unverified: the best supported answer within the budget; its evidence did not pass verification.*",
    "not_found": "*Not found in this video.*",
}


def _call_id(n: int) -> str:
    return f"call-{n}"


def _duration(start: Any, end: Any) -> float | None:
    try:
        return round(max(0.0, float(end) - float(start)), 2)
    except (TypeError, ValueError):
        return None


def _args_line(arguments: dict[str, Any]) -> str:
    parts = []
    for k, v in arguments.items():
        parts.append(f"{k}={json.dumps(v, ensure_ascii=False)}")
    return shorten(", ".join(parts), 90)


def clip_line(c: dict[str, Any]) -> str:
    """One retrieved clip as a markdown bullet: ref, span, channels, score, snippet."""
    ref = f"`{c['ref']}` " if c.get("ref") else ""
    sources = "+".join(c.get("sources") or []) or "?"
    snippet = f" — “{shorten(c.get('snippet'), 120)}”" if c.get("snippet") else ""
    score = c.get("score")
    score_txt = f" · score {float(score):.3f}" if score is not None else ""
    return f"- {ref}{fmt_span(c['start_s'], c['end_s'])} · {sources}{score_txt}{snippet}"


def _answered_calls(events: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Map a tool_call's step number → the event that answered it (tool_result or verification)."""
    out: dict[int, dict[str, Any]] = {}
    pending: list[dict[str, Any]] = []
    for e in events:
        kind = e.get("kind")
        if kind == "tool_call":
            pending.append(e)
        elif kind in ("tool_result", "verification"):
            call = e.get("call")
            if call is None:
                # Older traces carry no back-reference: answer the latest open call of that tool.
                tool = e.get("tool", "verify_frame" if kind == "verification" else None)
                for p in reversed(pending):
                    if p["n"] not in out and (tool is None or p.get("tool") == tool):
                        call = p["n"]
                        break
            if call is not None and call not in out:
                out[int(call)] = e
    return out


def citation_line(c: dict[str, Any]) -> str:
    """A citation as 'm:ss.s–m:ss.s (87%)'."""
    conf = c.get("confidence")
    conf_txt = f" ({float(conf):.0%})" if conf is not None else ""
    return f"{fmt_span(c['start_s'], c['end_s'])}{conf_txt}"


def answer_markdown(answer: dict[str, Any] | None) -> str:
    """The final answer for the answer panel: text, status line, and the cited spans."""
    if not answer:
        return ""
    lines = [answer.get("text") or "(no answer text)"]
    status = STATUS_LINE.get(answer.get("status", "answered"), "")
    if status:
        lines += ["", status]
    cites = answer.get("citations") or []
    if cites:
        lines += ["", "**Cited moments** (click a chip below to play it):"]
        for i, c in enumerate(cites, 1):
            ev = ", ".join(str(x) for x in c.get("evidence") or [])
            lines.append(f"{i}. {citation_line(c)}" + (f" — evidence steps {ev}" if ev else ""))
    return "\n".join(lines)


def to_messages(events: Sequence[dict[str, Any]], running: bool = False) -> list[gr.ChatMessage]:
    """The chat messages for a trace of event dicts; `running` adds a pending 'working' line."""
    answered = _answered_calls(events)
    msgs: list[gr.ChatMessage] = []
    for e in events:
        kind, n = e.get("kind"), int(e.get("n", 0))
        if kind == "task":
            msgs.append(gr.ChatMessage(role="user", content=e.get("question", "")))
        elif kind == "thought":
            msgs.append(gr.ChatMessage(content=e.get("text", ""), metadata={
                "title": f"Thought · step {n}", "id": f"thought-{n}", "status": "done",
                **_dur(e.get("started"), e.get("finished"))}))
        elif kind == "observation":
            msgs.append(gr.ChatMessage(content=e.get("text", ""), metadata={
                "title": f"Observation · step {n}", "id": f"obs-{n}", "status": "done"}))
        elif kind == "tool_call":
            result = answered.get(n)
            meta: dict[str, Any] = {"title": f"{e.get('tool', '?')}({_args_line(e.get('arguments') or {})})",
                                    "id": _call_id(n)}
            if result is None:
                meta |= {"status": "pending", "log": f"step {n}"}
            else:
                meta |= {"status": "done", "log": f"step {n}", **_dur(e.get("started"), result.get("finished"))}
            body = "```json\n" + json.dumps(e.get("arguments") or {}, indent=1, ensure_ascii=False) + "\n```"
            msgs.append(gr.ChatMessage(content=body, metadata=meta))
        elif kind == "tool_result":
            msgs.append(_result_message(e))
        elif kind == "verification":
            msgs.append(_verification_message(e, answered))
        elif kind == "belief":
            msgs.append(_belief_message(e))
        elif kind == "answer":
            msgs.append(gr.ChatMessage(content=answer_markdown(e)))
    if running and not any(e.get("kind") == "answer" for e in events):
        msgs.append(gr.ChatMessage(content="", metadata={"title": "Working…", "status": "pending",
                                                          "id": "working"}))
    return msgs


def _dur(start: Any, end: Any) -> dict[str, float]:
    d = _duration(start, end)
    return {"duration": d} if d is not None else {}


def _result_message(e: dict[str, Any]) -> gr.ChatMessage:
    n = int(e.get("n", 0))
    meta: dict[str, Any] = {"id": f"result-{n}", "status": "done"}
    if e.get("call") is not None:
        meta["parent_id"] = _call_id(int(e["call"]))
    if e.get("error"):
        meta["title"] = f"{e.get('tool', 'tool')} refused · step {n}"
        return gr.ChatMessage(content=str(e["error"]), metadata=meta)
    clips = e.get("clips") or []
    meta["title"] = f"{len(clips)} clip{'s' if len(clips) != 1 else ''} · step {n}"
    body = "\n".join(clip_line(c) for c in clips) or "No clip matched."
    return gr.ChatMessage(content=body, metadata=meta)


def _verification_message(e: dict[str, Any], answered: dict[int, dict[str, Any]]) -> gr.ChatMessage:
    n = int(e.get("n", 0))
    meta: dict[str, Any] = {"id": f"verify-{n}", "status": "done"}
    call = e.get("call")
    if call is None:
        call = next((c for c, r in answered.items() if r is e), None)
    if call is not None:
        meta["parent_id"] = _call_id(int(call))
    if e.get("error"):
        meta["title"] = f"verify_frame refused · step {n}"
        return gr.ChatMessage(content=str(e["error"]), metadata=meta)
    verdict = e.get("verdict", "uncertain")
    target = e.get("ref") or fmt_time(e.get("t_s"))
    meta["title"] = f"{VERDICT_ICON.get(verdict, '?')} {verdict} · {target} at {fmt_time(e.get('t_s'))} · step {n}"
    methods = ", ".join(e.get("methods") or []) or "none"
    body = (f"**Claim:** {e.get('claim', '')}\n\n**Methods:** {methods}\n\n"
            f"**Evidence:** {shorten(e.get('evidence'), 600)}")
    frames = sorted((f for f in e.get("frames") or [] if f.get("t_s") is not None), key=lambda f: f["t_s"])
    if frames:  # what a vision-language policy looked at, in time order
        body += "\n\n**Frames the model looked at:** " + ", ".join(fmt_time(f["t_s"]) for f in frames)
        body += "\n\n" + " ".join(f"![{fmt_time(f['t_s'])}](/gradio_api/file={f['thumb']})"
                                   for f in frames if f.get("thumb"))
    return gr.ChatMessage(content=body, metadata=meta)


def _belief_message(e: dict[str, Any]) -> gr.ChatMessage:
    n = int(e.get("n", 0))
    hyps = e.get("hypotheses") or []
    if not hyps:
        body = "No hypothesis yet."
    else:
        rows = ["| hypothesis | confidence | for | against |", "|---|---|---|---|"]
        for h in hyps[:8]:
            rows.append(f"| {shorten(h.get('text') or h.get('ref') or '', 80)} | "
                        f"{float(h.get('confidence', 0)):.0%} | {len(h.get('supporting') or [])} | "
                        f"{len(h.get('refuting') or [])} |")
        body = "\n".join(rows)
    return gr.ChatMessage(content=body, metadata={"title": f"Beliefs · step {n}", "id": f"belief-{n}",
                                                  "status": "done"})
