"""`python -m agent ask|export|sessions ...`: the agent from the command line.

ask     VIDEO_OR_ID "QUESTION" [--data-dir D] [--profile P] [--json]   (indexes a new file first; steps on stderr)
export  SESSION_ID --format FMT [--out PATH] [--data-dir D]             (prints the written path)
sessions [--video ID] [--data-dir D]                                   (saved sessions as JSON lines)
Errors print one line on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import json
import sys

from agent import prompts
from agent.context import Event
from assets.errors import is_user_error


def describe(e: Event) -> str:
    """One line per event for the terminal."""
    d = e.to_dict()
    k = e.kind
    if k == "task":
        return f"[{e.n}] task: {d['question']} (session {d['session_id']})"
    if k == "tool_call":
        return f"[{e.n}] call {d['tool']} {json.dumps(d['arguments'])}"
    if k == "tool_result":
        if d["error"]:
            return f"[{e.n}] {d['tool']} error: {d['error']}"
        spans = ", ".join(f"{c['ref']} {prompts.fmt_span(c['start_s'], c['end_s'])}" for c in d["clips"])
        return f"[{e.n}] {d['tool']}: {len(d['clips'])} clips {spans}"
    if k == "verification":
        return f"[{e.n}] verify {d['ref'] or prompts.fmt_time(d['t_s'])}: {d['verdict']} ({', '.join(d['methods'])})"
    if k == "belief":
        top = d["hypotheses"][:3]
        return f"[{e.n}] beliefs: " + "; ".join(f"{h['ref']} {h['confidence']:.2f}" for h in top)
    if k == "answer":
        return f"[{e.n}] answer ({d['status']}): {d['text']}"
    return f"[{e.n}] {k}: {d.get('text', '')}"


def _progress(stage: str, fraction: float, message: str) -> None:
    print(f"index {stage} {fraction:4.0%} {message}", file=sys.stderr, flush=True)


def _ask(a: argparse.Namespace) -> int:
    from agent.loop import Budget
    from agent.policy import make_policy
    from agent.session import ask, resolve_video, session_json
    from memory.library import Library

    with Library(a.data_dir) as lib:
        video = resolve_video(lib, a.video, _progress)
        policy = make_policy(a.profile, lib)
        budget = Budget(max_steps=a.max_steps, max_tool_calls=a.max_tool_calls, max_seconds=a.max_seconds)
        session_id = None
        for event in ask(lib, video.id, a.question, policy=policy, budget=budget):
            if event.kind == "task":
                session_id = event.to_dict()["session_id"]
            print(describe(event), file=sys.stderr, flush=True)
        out = session_json(lib.store, session_id)
        if a.json:
            print(json.dumps(out))
        else:
            print(out["answer"])
            for c in out["citations"]:
                print(f"  {prompts.fmt_span(c['start_s'], c['end_s'])} confidence {c['confidence']:.2f}")
    return 0


def _export(a: argparse.Namespace) -> int:
    from agent.export import ExportConfig, export, export_to
    from memory.library import Library

    config = ExportConfig(accurate_cuts=not a.fast)
    with Library(a.data_dir, image_encoder=None) as lib:
        path = (export_to(lib, a.session_id, a.format, a.out, config) if a.out
                else export(lib, a.session_id, a.format, None, config))
    print(path)
    return 0


def _sessions(a: argparse.Namespace) -> int:
    from agent.session import list_sessions
    from memory.library import Library

    with Library(a.data_dir, image_encoder=None) as lib:
        for s in list_sessions(lib.store, a.video):
            print(json.dumps(s))
    return 0


def parser() -> argparse.ArgumentParser:
    from agent.export import FORMATS

    p = argparse.ArgumentParser(prog="python -m agent", description="CiteClip's agent: ask and export.")
    sub = p.add_subparsers(dest="verb", required=True)
    q = sub.add_parser("ask", help="answer a question about a video, citing clips")
    q.add_argument("video", help="a video id, sha256 (prefix) or file (indexed first when new)")
    q.add_argument("question")
    q.add_argument("--data-dir", default=None)
    q.add_argument("--profile", default="lite", choices=["lite", "full", "auto", "openai"])
    q.add_argument("--json", action="store_true", help="print the session as one JSON object")
    q.add_argument("--max-steps", type=int, default=12)
    q.add_argument("--max-tool-calls", type=int, default=8)
    q.add_argument("--max-seconds", type=float, default=180.0)
    e = sub.add_parser("export", help="export a session's citations")
    e.add_argument("session_id", type=int)
    e.add_argument("--format", required=True, choices=FORMATS)
    e.add_argument("--out", default=None, help="where to write it (a file, or a folder for session-N.EXT); default: the data dir's exports folder")
    e.add_argument("--fast", action="store_true", help="clips: cut at keyframes without re-encoding")
    e.add_argument("--data-dir", default=None)
    s = sub.add_parser("sessions", help="list saved sessions")
    s.add_argument("--video", type=int, default=None)
    s.add_argument("--data-dir", default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        return {"ask": _ask, "export": _export, "sessions": _sessions}[a.verb](a)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI contract: one line, non-zero exit
        if not is_user_error(exc):
            raise  # our own bug: it keeps its traceback
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
