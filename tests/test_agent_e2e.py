"""End to end on the lite profile with real weights: a narrated fixture (speech and on-screen text at known
times), indexed by the real memory, questioned through the real SmolLM2-135M M2LA policy.

Slow: it indexes a 56-second video (faster-whisper, tesseract, MiniLM) and loads the policy model.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, narrated):
    from memory.library import Library

    root = tmp_path_factory.mktemp("e2e")
    truth = narrated  # the session's video: indexing only reads it
    from assets import WeightsMissing

    lib = Library(root / "data")
    try:
        info = lib.index_video(truth.path)
    except WeightsMissing as e:  # only missing weights skip; any other failure of the memory fails the test
        lib.close()
        pytest.skip(f"the memory's weights are not here: {e}")
    yield lib, info["video_id"], truth
    lib.close()


@pytest.fixture(scope="module")
def policy(indexed):
    import torch

    from agent.policy import PolicyError, make_policy
    from assets import AssetError

    # One thread: on a shared 2-core machine more threads oversubscribe and decode many times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield make_policy("lite", indexed[0])
    except (PolicyError, AssetError) as e:
        pytest.skip(f"the lite policy's weights are not here: {e}")
    finally:
        torch.set_num_threads(threads)


def test_lite_answers_cite_the_right_spans(indexed, policy) -> None:
    from agent.loop import run
    from agent.session import session_json
    from tests.fixtures.agent_questions import is_right, short_questions

    lib, vid, truth = indexed
    questions = short_questions(truth)[:4]  # two about speech, two about on-screen text
    assert {q.kind for q in questions} == {"speech", "screen"}
    hits = right = 0
    for q in questions:
        events = list(run(lib, vid, q.question, policy))
        out = session_json(lib.store, events[0].session_id)
        returned = {(c["start_s"], c["end_s"]) for s in out["steps"] if s["kind"] == "tool_result" and not s["error"]
                    for c in s["clips"]}
        for c in out["citations"]:
            assert (c["start_s"], c["end_s"]) in returned  # every citation came from a tool result
            assert 0 <= c["start_s"] < c["end_s"] <= truth.duration_s + 1e-6
        hits += any(min(c["end_s"], q.end_s) > max(c["start_s"], q.start_s) for c in out["citations"])
        right += is_right(out["answer"] or "", q.expected)
        assert events[-1].status in ("answered", "unverified", "not_found")
    assert hits >= 3 and right >= 3, (hits, right)


def test_cli_ask_json_on_the_indexed_video(indexed, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    lib, vid, truth = indexed
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see the policy fixture
    p = subprocess.run([sys.executable, "-m", "agent", "ask", str(truth.path), "Why was the flight to Lisbon delayed?",
                        "--json", "--data-dir", str(lib.data.root)], cwd=root, capture_output=True, text=True,
                       timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    obj = json.loads(p.stdout)
    assert set(obj) == {"session_id", "question", "answer", "citations", "steps", "seconds"}
    assert "[0] task:" in p.stderr and "answer" in p.stderr
    assert "storm" in obj["answer"].lower()
