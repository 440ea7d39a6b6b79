"""Exports as they leave the app: no folder of the server in any of them, subtitles that read as
sentences, and the command line writing where --out says."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.export import FORMATS, export
from agent.loop import run
from agent.policy import ScriptedPolicy
from tests.fixtures.agent_fake import Row, fake_library
from tests.test_export import video  # noqa: F401 - the module's ffmpeg test clip, reused as a fixture

ROOT = Path(__file__).resolve().parent.parent
DURATION = 40.0
SPEECH = [Row(10.0, 14.0, "my umbrella is bright yellow"), Row(25.0, 30.5, "the umbrella broke in the wind")]
ANSWER = ("The umbrella is yellow. It is bright enough to see from the other side of the street, "
          "which the narrator says twice. Then it breaks in the wind.")


@pytest.fixture
def session(tmp_path: Path, video: Path):  # noqa: F811
    lib = fake_library(tmp_path, duration_s=DURATION, speech=SPEECH, video_path=str(video), size=(320, 240))
    pol = ScriptedPolicy([{"action": "retrieve_clip", "arguments": {"query": "umbrella"}},
                          {"action": "verify_frame", "arguments": {"clip": "c1", "claim": "umbrella"}},
                          {"action": "answer", "arguments": {"text": ANSWER, "citations": ["c1"]}}])
    events = list(run(lib, lib.video_id, "where is the umbrella?", pol))
    assert events[-1].status == "answered" and events[-1].citations
    yield lib, events[0].session_id
    lib.close()


def test_no_export_names_a_folder_of_the_server(session) -> None:
    lib, sid = session
    root = str(Path(lib.data.root).resolve())
    for fmt in (f for f in FORMATS if f != "clips"):
        try:
            text = export(lib, sid, fmt).read_text()
        except Exception as exc:  # noqa: BLE001 - chapters may be refused: its sentence must not leak either
            text = str(exc)
        assert root not in text and str(lib.data.root) not in text, fmt
        assert "/tmp/" not in text and "/uploads/" not in text, (fmt, text[:300])


def test_subtitles_are_whole_sentences_without_a_status_prefix(session) -> None:
    import pysubs2

    lib, sid = session
    subs = pysubs2.load(str(export(lib, sid, "srt")))
    text = subs[0].plaintext
    assert text.startswith("[1] The umbrella is yellow.") and not text.endswith("…"), text
    assert text.rstrip().endswith((".", "!", "?")), text  # stopped at a sentence's end


def test_the_command_line_writes_where_out_says(session, tmp_path: Path) -> None:
    lib, sid = session
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "agent", "export", str(sid), "--format", "srt", "--out", "clip.srt",
                           "--data-dir", str(lib.data.root)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = work / "clip.srt"
    assert out.is_file() and Path(proc.stdout.strip()) == out.resolve()
    assert "-->" in out.read_text()
