"""The agent on the development set (bench/devset.py over tests/fixtures/devset.py's videos): one run, the
figures per question and in total (`python -m bench agent --set dev`; bench/agent.py parses the flags).

Per question: citation hit, answer right, verified-but-wrong, right-but-unverified, the not-found outcome
of an unanswerable question, answer words absent from memory (the video's transcript and screen text as
indexed), seconds. In total: the rates over answerable questions, the not-found correctness over
unanswerable ones (and by which outcome), counts, median and maximum seconds, and a breakdown by kind.
Indexing and the policy's load are timed separately and not counted per question.
"""
from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from bench.agent_score import Score, Span, read_status, score
from bench.devset import KINDS, QUESTIONS, DevQuestion

if TYPE_CHECKING:
    from tests.fixtures.devset import DevVideo
    from tests.fixtures.devset_scripts import VideoScript

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VIDEOS = ROOT / "test-artifacts" / "devset"  # shared with tests/test_devset.py (ignored by git)
# A question set's name (`--set`): the module of its questions and the module of its films' scripts.
SETS = {"dev": ("bench.devset", "tests.fixtures.devset_scripts"),
        "heldout": ("bench.heldout", "tests.fixtures.heldout_scripts"),
        "blind": ("bench.blind", "tests.fixtures.blind_scripts"),
        "blind2": ("bench.blind2", "tests.fixtures.blind2_scripts"),
        "blind3": ("bench.blind3", "tests.fixtures.blind3_scripts"),
        "blind4": ("bench.blind4", "tests.fixtures.blind4_scripts"),
        "blind5": ("bench.blind5", "tests.fixtures.blind5_scripts")}
TARGETS = {"citation_hit_rate": 0.9, "answer_right_rate": 0.85, "right_but_unverified": 0,
           "answers_with_absent_words": 0, "max_seconds": 20.0, "median_seconds": 10.0}


def true_spans(q: DevQuestion, video: "DevVideo") -> list[Span]:
    """The spans of `video` that answer `q`: a run of sentences, or the line of on-screen text holding
    the reference's text (exactly one such line, else the question is ambiguous and this raises)."""
    out: list[Span] = []
    for r in q.refs:
        if r.channel == "speech":
            first, last = video.sentence(r.first), video.sentence(r.last or r.first)
            out.append((first.start_s, last.end_s))
        else:
            lines = [t for t in video.screen if r.first in t.text]
            if len(lines) != 1:
                raise ValueError(f"{q.video}: {len(lines)} screen lines hold {r.first!r}")
            out.append((lines[0].start_s, lines[0].end_s))
    return out


def select(kinds: Sequence[str] = (), limit: int = 0, questions: Sequence[DevQuestion] = QUESTIONS
           ) -> list[DevQuestion]:
    """The questions of the given kinds (all when none), taking each kind in turn (so that a short or an
    interrupted run still covers every kind), the first `limit` of them (all when 0)."""
    groups = [[q for q in questions if q.kind == k] for k in KINDS if not kinds or k in kinds]
    chosen = [g[i] for i in range(max(map(len, groups), default=0)) for g in groups if i < len(g)]
    return chosen[:limit] if limit else chosen


def question_set(set_name: str) -> tuple[Sequence[DevQuestion], Sequence["VideoScript"]]:
    """A set's questions and its films' scripts (a key of SETS); imported only when asked for, since the
    scripts live with the test fixtures."""
    questions_module, scripts_module = SETS[set_name]
    return import_module(questions_module).QUESTIONS, import_module(scripts_module).SCRIPTS


def _rate(xs: list[bool]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def totals(rows: list[dict[str, object]]) -> dict[str, object]:
    """The run's figures from its per-question rows."""
    ans = [r for r in rows if r["kind"] != "unanswerable"]
    una = [r for r in rows if r["kind"] == "unanswerable"]
    secs = [float(r["seconds"]) for r in rows]  # type: ignore[arg-type]
    by_kind = {}
    for kind in sorted({str(r["kind"]) for r in rows}):
        rs = [r for r in rows if r["kind"] == kind]
        by_kind[kind] = {"questions": len(rs), "right": sum(bool(r["right"]) for r in rs),
                         "hit": sum(bool(r["hit"]) for r in rs)}
    return {
        "questions": len(rows), "answerable": len(ans), "unanswerable": len(una),
        "citation_hit_rate": _rate([bool(r["hit"]) for r in ans]),
        "answer_right_rate": _rate([bool(r["right"]) for r in ans]),
        "not_found_correct_rate": _rate([bool(r["right"]) for r in una]),
        "not_found_outcomes": {k or "gave_an_answer": sum(r["not_found_outcome"] == k for r in una)
                               for k in ("not_found", "unverified_unsupported", None)},
        "all_right_rate": _rate([bool(r["right"]) for r in rows]),
        "verified_but_wrong": sum(bool(r["verified_but_wrong"]) for r in rows),
        "right_but_unverified": sum(bool(r["right_but_unverified"]) for r in rows),
        "answers_with_absent_words": sum(bool(r["absent_words"]) for r in rows),
        "status_counts": {k: sum(r["status"] == k for r in rows) for k in ("answered", "unverified", "not_found")},
        "median_seconds": round(statistics.median(secs), 2) if secs else None,
        "max_seconds": round(max(secs), 2) if secs else None,
        "over_20_seconds": sum(s > 20.0 for s in secs),
        "by_kind": by_kind,
    }


def row(q: DevQuestion, spans: list[Span], s: Score, status: str, reason: str, answer: str,
        cited: list[Span], seconds: float, relevance: float | None = None) -> dict[str, object]:
    """One question's entry of the JSON."""
    return {"video": q.video, "question": q.question, "kind": q.kind, "status": status, "reason": reason,
            "hit": s.hit, "right": s.right, "verified_but_wrong": s.verified_but_wrong,
            "right_but_unverified": s.right_but_unverified, "not_found_outcome": s.not_found_outcome,
            "absent_words": list(s.absent), "seconds": round(seconds, 2), "relevance": relevance, "answer": answer,
            "citations": [list(c) for c in cited], "truth": [list(t) for t in spans],
            "expected": [list(a) for a in q.answers]}


def run_dev(profile: str, cache: Path, videos_dir: Path, kinds: Sequence[str], limit: int,
            log: Callable[[str], None], save: Path | None = None, set_name: str = "dev") -> dict[str, object]:
    """Index the videos the chosen questions need, ask each question once, score it. `set_name` "dev" is
    the development set; "heldout" the held-out films and questions (bench/heldout.py), "blind" to "blind5"
    the blind sets' (bench/blind.py to bench/blind5.py), scored the same (see SETS).
    With `save`, the result so far is written there after every question ("complete" false until the
    last), so that a long run interrupted still leaves its figures."""
    from agent.loop import run
    from agent.policy import make_policy
    from memory.library import Library
    from tests.fixtures.devset import build_devset

    asked, scripts = question_set(set_name)
    questions = select(kinds, limit, asked)
    t = time.time()
    built = build_devset(videos_dir, tuple(sorted({q.video for q in questions})), scripts)
    build_s = time.time() - t
    rows: list[dict[str, object]] = []
    with Library(cache / f"data-{set_name}") as lib:
        t = time.time()
        ids = {name: lib.index_video(v.path)["video_id"] for name, v in built.items()}
        index_s = time.time() - t
        memory = {name: [x["text"] for x in lib.transcript(vid) + lib.screen_text(vid)] for name, vid in ids.items()}
        t = time.time()
        policy = make_policy(profile, lib)
        load_s = time.time() - t
        for q in questions:
            spans = true_spans(q, built[q.video])
            t = time.time()
            events = list(run(lib, ids[q.video], q.question, policy))
            secs = time.time() - t
            final = events[-1]
            st = read_status(final.status, final.text, getattr(final, "reason", None))
            cited = [(float(c["start_s"]), float(c["end_s"])) for c in final.citations]
            s = score(q.answers, spans, final.text, st, cited, memory[q.video])
            rows.append(row(q, spans, s, st.status, st.reason, final.text, cited, secs, getattr(final, "relevance", None)))
            log(f"{'HIT ' if s.hit else 'miss'} {'right' if s.right else 'wrong'} {st.status:10s} {secs:5.1f}s "
                f"[{q.kind}] {q.question} -> {final.text[:100]}")
            result = {"set": set_name, "complete": len(rows) == len(questions), "profile": profile,
                      "policy": getattr(policy, "name", "?"),
                      "videos": {name: {"path": str(v.path), "duration_s": v.duration_s} for name, v in built.items()},
                      "filters": {"kinds": list(kinds), "limit": limit, "asked": len(rows), "of": len(questions)},
                      **totals(rows), "targets": TARGETS, "build_seconds": round(build_s, 1),
                      "index_seconds": round(index_s, 1), "policy_load_seconds": round(load_s, 1),
                      "per_question": rows}
            if save is not None:
                save.parent.mkdir(parents=True, exist_ok=True)
                save.write_text(json.dumps(result, indent=1))
    return result
