"""`python -m memory index|search`: exactly one JSON object, DESIGN's fields, one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import synth

ROOT = Path(__file__).resolve().parent.parent
INDEX_FIELDS = {"video_id", "duration_s", "shots", "keyframes", "speech_segments", "ocr_lines", "visual",
                "unreadable_fraction", "warning", "seconds"}


def _run(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CITECLIP_IMAGE_ENCODER": ""}
    return subprocess.run([sys.executable, "-m", "memory", *args, "--data-dir", str(home)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_index_then_search_json(media: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    p = _run("index", str(media / "cityCC0.mpg"), "--json", home=home)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)  # exactly one JSON object on stdout
    assert set(out) == INDEX_FIELDS
    assert out["shots"] == 2 and out["keyframes"] == 2 and out["duration_s"] == pytest.approx(7.6)
    assert out["visual"] is False  # no CLIP/SigLIP weights on this machine
    s = _run("search", str(out["video_id"]), "city at night", "-k", "3", "--json", home=home)
    assert s.returncode == 0, s.stderr
    hits = json.loads(s.stdout)["hits"]
    assert isinstance(hits, list) and len(hits) <= 3
    for h in hits:
        assert set(h) == {"start_s", "end_s", "score", "sources", "snippet"}
    # the same file by path finds the same video
    s2 = _run("search", str(media / "cityCC0.mpg"), "city", "--json", home=home)
    assert s2.returncode == 0 and json.loads(s2.stdout) == json.loads(_run(
        "search", str(out["video_id"]), "city", "--json", home=home).stdout)


@pytest.mark.parametrize("kind", ["text", "empty", "missing"])
def test_bad_input_is_one_line_on_stderr(tmp_path: Path, kind: str) -> None:
    home = tmp_path / "home"
    path = tmp_path / "bad.mp4"
    if kind == "text":
        synth.text_file_as_mp4(path)
    elif kind == "empty":
        path.write_bytes(b"")
    p = _run("index", str(path), "--json", home=home)
    assert p.returncode != 0 and p.stdout == ""
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.mp4" in lines[0], p.stderr


def test_search_unknown_video(tmp_path: Path) -> None:
    p = _run("search", "42", "anything", "--json", home=tmp_path / "home")
    assert p.returncode != 0 and p.stdout == ""
    assert p.stderr.strip().splitlines() == ["error: no video with id 42"]  # no server path in a user's error
