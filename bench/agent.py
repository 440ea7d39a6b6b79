"""`python -m bench agent [--set dev|heldout|blind|blind2|blind3|blind4|blind5|old|all] [--json]`: the agent on labelled
fixtures.

`--set dev` (the default): the development set, questions a viewer asks about three films built from the
real clips with credits, title cards, lower thirds and narration (bench/devset.py, bench/agent_dev.py):
per question and in total, citation hit, answer right, verified-but-wrong, right-but-unverified,
not-found correctness of unanswerable questions, answer words absent from memory, seconds.
`--questions kind,...` and `--limit N` ask fewer for a quick run.

`--set heldout`: the held-out set, two other films and their questions (bench/heldout.py), run and scored
exactly as `--set dev` (same fields); its films are cached with the development set's under --videos.

`--set blind`: the blind set, two more films and their questions (bench/blind.py), run and scored exactly as
`--set dev` and cached the same way; run once, for the final measurement, and not tuned on. `--set blind2`:
the second blind set (bench/blind2.py: a travel vlog and an explainer talk), run, scored and kept the same way;
`--set blind3` the third (bench/blind3.py: a DIY how-to and an open-night report), the same way again;
`--set blind4` the fourth (bench/blind4.py: an earbuds review and a history-society talk), the same way again.
`--set blind5` the fifth (bench/blind5.py: a flat-to-rent tour and a youth football club's season review), the
same way again.

`--set old`: the 14 questions on the 10-minute espeak-ng fixture (8 with `--short`), with the figures this
benchmark has always reported, so that they stay comparable:
- citation_hit_rate: share of questions whose answer cites a span overlapping the true span;
- answer_accuracy: share whose answer text holds the expected words;
- unbacked_citation_share: share of citations whose span no tool result in the session returned (must be 0);
- median_steps (context events per session), median_decisions (tool calls plus the answer: the actions
  taken; a step with a single option is not decoded), median_seconds per question;
- the baseline, measured on the same questions in the same run: the top search hit for the raw question,
  with no agent (no planning, no verification), and the agent's ratios against it.
`--set all` runs both and prints {"old": ..., "dev": ...}.
Indexing time is reported separately and not counted per question. The fixture videos and their index are
cached under --cache (re-used when present); the development-set videos under --videos.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.agent_dev import DEFAULT_VIDEOS, SETS, run_dev
from bench.devset import KINDS

DEFAULT_CACHE = Path(__file__).resolve().parent / "out" / "agent-cache"  # ignored by git


def _overlaps(a: float, b: float, x: float, y: float) -> bool:
    return min(b, y) > max(a, x)


def _backed(citation: dict[str, Any], steps: list[dict[str, Any]]) -> bool:
    """A citation is backed when a tool_result of the session returned exactly its span."""
    for s in steps:
        if s["kind"] == "tool_result" and not s.get("error"):
            for c in s["clips"]:
                if abs(c["start_s"] - citation["start_s"]) < 1e-3 and abs(c["end_s"] - citation["end_s"]) < 1e-3:
                    return True
    return False


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench agent")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--set", default="dev", choices=(*SETS, "old", "all"),
                    help="dev: the development set; heldout: the held-out films and questions; blind, blind2, "
                         "blind3, blind4, blind5: the blind sets'; old: the 10-minute espeak-ng fixture's 14 "
                         "questions; all: old and dev")
    ap.add_argument("--profile", default="lite")
    ap.add_argument("--short", action="store_true", help="old set: the 56-second fixture and its 8 questions")
    ap.add_argument("--limit", type=int, default=0, help="ask only the first N questions (of each set)")
    ap.add_argument("--questions", default="", help="dev, heldout and blind sets: only these kinds, "
                    "comma-separated (" + ", ".join(KINDS) + ")")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core machine more threads oversubscribe and "
                         "run many times slower)")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the fixtures' data dirs are kept")
    ap.add_argument("--videos", default=str(DEFAULT_VIDEOS),
                    help="where the dev, held-out and blind videos are cached")
    ap.add_argument("--save", default="",
                    help="dev, heldout and blind sets: also write the result to this file, after every question")
    a = ap.parse_args(argv)
    kinds = tuple(k.strip() for k in a.questions.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        ap.error(f"unknown question kind(s): {', '.join(unknown)}")
    import os

    from memory.datadir import DataDir

    import torch

    torch.set_num_threads(max(1, a.threads))
    # The bench's own data dir reads the one copy of the offline weights (as the tests do).
    os.environ.setdefault("CITECLIP_MODELS", str(DataDir.resolve().models_dir))
    log = (lambda *x: print(*x, file=sys.stderr, flush=True))
    results: dict[str, dict[str, Any]] = {}
    if a.set in ("old", "all"):
        results["old"] = run_old(a, log)
    if a.set in ("dev", "all"):
        results["dev"] = run_dev(a.profile, Path(a.cache), Path(a.videos), kinds, a.limit, log,
                                 Path(a.save) if a.save else None)
    if a.set in SETS and a.set != "dev":
        results[a.set] = run_dev(a.profile, Path(a.cache), Path(a.videos), kinds, a.limit, log,
                                 Path(a.save) if a.save else None, a.set)
    result = results[a.set] if a.set != "all" else results
    if a.json:
        print(json.dumps(result))
    else:
        short = {k: {kk: vv for kk, vv in v.items() if kk != "per_question"} for k, v in results.items()}
        print(json.dumps(short[a.set] if a.set != "all" else short, indent=1))
    return 0


def run_old(a: argparse.Namespace, log: Callable[..., None]) -> dict[str, Any]:
    """The old fixture's questions, with the figures and field names this benchmark has always had."""
    import torch

    from agent.loop import run
    from agent.policy import make_policy
    from agent.session import session_json
    from memory.library import Library
    from tests.fixtures.agent_questions import is_right, long_questions, short_questions
    from tests.fixtures.narrated import make_narrated

    cache = Path(a.cache)
    truth = make_narrated(cache / "media", long=not a.short)
    questions = short_questions(truth) if a.short else long_questions(truth)
    if a.limit:
        questions = questions[: a.limit]
    with Library(cache / ("data-short" if a.short else "data-long")) as lib:
        t = time.time()
        info = lib.index_video(truth.path)
        index_s = time.time() - t
        vid = info["video_id"]
        t = time.time()
        policy = make_policy(a.profile, lib)
        load_s = time.time() - t
        rows = []
        for q in questions:
            t = time.time()
            events = list(run(lib, vid, q.question, policy))
            secs = time.time() - t
            out = session_json(lib.store, events[0].session_id)
            cites = out["citations"]
            hit = any(_overlaps(c["start_s"], c["end_s"], q.start_s, q.end_s) for c in cites)
            right = is_right(out["answer"] or "", q.expected)
            base = lib.search(vid, q.question, k=1)
            rows.append({
                "question": q.question, "kind": q.kind, "hit": hit, "right": right, "status": events[-1].status,
                "citations": [[c["start_s"], c["end_s"]] for c in cites], "truth": [q.start_s, q.end_s],
                "unbacked": sum(not _backed(c, out["steps"]) for c in cites), "n_citations": len(cites),
                "steps": len(out["steps"]), "decisions": sum(1 for s in out["steps"] if s["kind"] in (
                    "tool_call", "answer")), "seconds": round(secs, 2), "answer": out["answer"],
                "baseline_hit": bool(base) and _overlaps(base[0].start_s, base[0].end_s, q.start_s, q.end_s),
                "baseline_right": bool(base) and is_right(base[0].snippet, q.expected),
            })
            log(f"{'HIT ' if hit else 'miss'} {'right' if right else 'wrong'} {secs:5.1f}s {q.question} -> "
                f"{(out['answer'] or '')[:90]}")
    n = len(rows)
    n_cites = sum(r["n_citations"] for r in rows)
    hit_rate = sum(r["hit"] for r in rows) / n
    acc = sum(r["right"] for r in rows) / n
    base_hit = sum(r["baseline_hit"] for r in rows) / n
    base_acc = sum(r["baseline_right"] for r in rows) / n
    return {
        "set": "old",
        "fixture": {"path": str(truth.path), "duration_s": truth.duration_s, "questions": n,
                    "speech_questions": sum(r["kind"] == "speech" for r in rows),
                    "screen_questions": sum(r["kind"] == "screen" for r in rows)},
        "profile": a.profile, "policy": getattr(policy, "name", "?"),
        "status_counts": {k: sum(r["status"] == k for r in rows) for k in ("answered", "unverified", "not_found")},
        "citation_hit_rate": round(hit_rate, 4),
        "answer_accuracy": round(acc, 4),
        "unbacked_citation_share": round(sum(r["unbacked"] for r in rows) / n_cites, 4) if n_cites else 0.0,
        "median_steps": statistics.median(r["steps"] for r in rows),
        "median_decisions": statistics.median(r["decisions"] for r in rows),
        "median_seconds": round(statistics.median(r["seconds"] for r in rows), 2),
        "max_seconds": round(max(r["seconds"] for r in rows), 2),
        "baseline": {"what": "top-1 search hit of the raw question, no agent",
                     "citation_hit_rate": round(base_hit, 4), "answer_accuracy": round(base_acc, 4)},
        "ratios": {"citation_hit_vs_baseline": round(hit_rate / base_hit, 3) if base_hit else None,
                   "accuracy_vs_baseline": round(acc / base_acc, 3) if base_acc else None},
        "torch_threads": torch.get_num_threads(), "index_seconds": round(index_s, 1),
        "policy_load_seconds": round(load_s, 1),
        "targets": {"citation_hit_rate": 0.9, "answer_accuracy": 0.8, "unbacked_citation_share": 0.0,
                    "median_seconds": 20.0},
        "per_question": rows,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
