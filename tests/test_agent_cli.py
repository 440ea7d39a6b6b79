"""`python -m agent ask|export|sessions`: the JSON contract, steps streamed on stderr, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import agent.__main__ as cli
from agent.policy import ScriptedPolicy
from tests.fixtures.agent_fake import FakeLibrary, Row

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = [{"action": "retrieve_clip", "arguments": {"query": "umbrella"}},
          {"action": "verify_frame", "arguments": {"clip": "c1", "claim": "umbrella yellow"}},
          {"action": "answer", "arguments": {"text": "It is yellow.", "citations": ["c1"]}}]


@pytest.fixture
def patched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI on a fake library (a fresh one per open, same data dir) and a scripted policy."""
    import agent.policy
    import memory.library
    from memory.datadir import DataDir

    data = tmp_path / "d"

    def make_lib(data_dir=None, image_encoder="auto"):
        return FakeLibrary(DataDir(data), duration_s=60.0, speech=[Row(10, 14, "my umbrella is bright yellow")])

    monkeypatch.setattr(memory.library, "Library", make_lib)
    monkeypatch.setattr(agent.policy, "make_policy", lambda profile, lib=None, **kw: ScriptedPolicy(list(SCRIPT)))
    return data


def test_ask_json_prints_exactly_the_design_object_and_streams_steps(patched: Path, capsys) -> None:
    assert cli.main(["ask", "1", "What colour is the umbrella?", "--json", "--data-dir", str(patched)]) == 0
    out, err = capsys.readouterr()
    obj = json.loads(out)  # exactly one JSON object on stdout
    assert set(obj) == {"session_id", "question", "answer", "citations", "steps", "seconds"}
    assert obj["answer"] == "It is yellow." and obj["question"] == "What colour is the umbrella?"
    assert obj["citations"] == [{"video_id": 1, "start_s": 10.0, "end_s": 14.0,
                                 "confidence": obj["citations"][0]["confidence"], "evidence": [2, 5]}]
    assert obj["citations"][0]["confidence"] > 0.8  # the verified claim, as in test_loop
    assert [s["kind"] for s in obj["steps"]][0] == "task" and obj["steps"][-1]["kind"] == "answer"
    lines = err.strip().splitlines()
    assert len(lines) == len(obj["steps"]) and lines[0].startswith("[0] task:")
    assert any("verify c1: supported" in line for line in lines)
    assert cli.main(["export", str(obj["session_id"]), "--format", "srt", "--data-dir", str(patched)]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.is_file() and path.suffix == ".srt" and "00:00:10,000 --> 00:00:14,000" in path.read_text()
    assert cli.main(["sessions", "--data-dir", str(patched)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["session_id"] == obj["session_id"]


def _run(*args: str, data: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", *args, "--data-dir", str(data)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,message", [
    (("ask", "999", "what?"), "no video with id 999"),
    (("ask", "/no/such/file.mp4", "what?"), "neither a video id"),
    (("export", "42", "--format", "json"), "no session with id 42"),
])
def test_errors_are_one_line(tmp_path: Path, args, message: str) -> None:
    p = _run(*args, data=tmp_path / "d")
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ") and message in p.stderr


def test_unknown_format_is_refused_by_the_parser(tmp_path: Path) -> None:
    p = _run("export", "1", "--format", "docx", data=tmp_path / "d")
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_user_errors_print_one_line_and_bugs_keep_their_traceback(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys) -> None:
    from assets.errors import UserError

    weights_missing = type("WeightsMissing", (UserError, RuntimeError), {})  # as memory's, without importing it

    def fail(exc: BaseException):
        def verb(_a) -> int:
            raise exc
        return verb

    monkeypatch.setattr(cli, "_sessions", fail(weights_missing("no lite weights\nrun: python -m model fetch")))
    assert cli.main(["sessions"]) == 1
    assert capsys.readouterr().err == "error: no lite weights\n"
    monkeypatch.setattr(cli, "_sessions", fail(RuntimeError("a bug of ours")))
    with pytest.raises(RuntimeError, match="a bug of ours"):
        cli.main(["sessions"])
