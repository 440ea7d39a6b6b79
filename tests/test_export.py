"""Every export format parses back with its own library, and every span lies inside the video."""
from __future__ import annotations

import csv
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from agent.export import FORMATS, ExportConfig, ExportError, chapter_marks, export, neutralise
from agent.loop import run
from agent.policy import ScriptedPolicy
from tests.fixtures.agent_fake import Row, fake_library

DURATION = 40.0
SPEECH = [Row(10.0, 14.0, "my umbrella is bright yellow"), Row(25.0, 30.5, "the umbrella broke in the wind")]
QUESTION = "=HYPERLINK(\"http://evil\") where is the umbrella?"


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("media") / "test.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc=size=320x240:rate=10:duration={DURATION}", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={DURATION}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "50", "-c:a", "aac", "-shortest", str(out)], check=True)
    return out


@pytest.fixture
def session(tmp_path: Path, video: Path):
    lib = fake_library(tmp_path, duration_s=DURATION, speech=SPEECH, video_path=str(video), size=(320, 240))
    pol = ScriptedPolicy([{"action": "retrieve_clip", "arguments": {"query": "umbrella"}},
                          {"action": "verify_frame", "arguments": {"clip": "c1", "claim": "umbrella"}},
                          {"action": "verify_frame", "arguments": {"clip": "c2", "claim": "umbrella"}},
                          {"action": "answer", "arguments": {"text": "-1+1 the umbrella", "citations": ["c1", "c2"]}}])
    events = list(run(lib, lib.video_id, QUESTION, pol))
    assert events[-1].status == "answered" and len(events[-1].citations) == 2
    yield lib, events[0].session_id, [(c["start_s"], c["end_s"]) for c in events[-1].citations]
    lib.close()


def inside(spans, duration=DURATION) -> bool:
    return all(0 <= a < b <= duration + 1e-6 for a, b in spans)


def test_json(session) -> None:
    lib, sid, spans = session
    path = export(lib, sid, "json")
    assert path.parent == lib.data.exports_dir.resolve()
    obj = json.loads(path.read_text())
    assert [(c["start_s"], c["end_s"]) for c in obj["citations"]] == spans and inside(spans)
    assert obj["steps"][-1]["kind"] == "answer" and obj["video"]["duration_s"] == DURATION
    assert any(s["kind"] == "verification" for s in obj["steps"])


def test_csv_neutralises_formulas(session) -> None:
    lib, sid, spans = session
    rows = list(csv.reader(export(lib, sid, "csv").open()))
    assert rows[0][:4] == ["n", "video_id", "start_s", "end_s"] and len(rows) == 3
    assert [(float(r[2]), float(r[3])) for r in rows[1:]] == spans
    for r in rows[1:]:
        assert r[8].startswith("'=HYPERLINK") and r[9].startswith("'-1+1")
    assert neutralise("@SUM(A1)") == "'@SUM(A1)" and neutralise("+1") == "'+1" and neutralise("ok") == "ok"


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles(session, fmt: str) -> None:
    import pysubs2

    lib, sid, spans = session
    subs = pysubs2.load(str(export(lib, sid, fmt)), format_=fmt)
    got = [(e.start / 1000, e.end / 1000) for e in subs]
    assert got == spans and inside(got)
    assert subs[0].text.startswith("[1]")


def test_edl(session, video: Path) -> None:
    import opentimelineio as otio

    lib, sid, spans = session
    path = export(lib, sid, "edl")
    assert "FCM:" in path.read_text() or "TITLE:" in path.read_text()
    tl = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=30)  # 10 fps is written at 30
    clips = list(tl.find_clips())
    got = [(c.source_range.start_time.to_seconds(), c.source_range.end_time_exclusive().to_seconds()) for c in clips]
    assert len(got) == 2 and inside(got)
    for (a, b), (x, y) in zip(got, spans):
        assert abs(a - x) <= 0.1 and abs(b - y) <= 0.1  # one frame at 10 fps


def parse_chapters(text: str) -> list[tuple[int, str]]:
    out = []
    for line in text.strip().splitlines():
        m = re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{2}) (.+)", line)
        assert m, line
        out.append((int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3)), m.group(4)))
    return out


def test_chapters_follow_youtube_rules(session) -> None:
    lib, sid, spans = session
    marks = parse_chapters(export(lib, sid, "chapters").read_text())
    times = [t for t, _ in marks]
    assert times[0] == 0 and len(marks) >= 3
    assert all(b - a >= 10 for a, b in zip(times, times[1:])) and DURATION - times[-1] >= 10
    assert int(spans[0][0]) in times


def test_one_citation_still_gives_three_chapters_or_a_clear_error() -> None:
    cfg = ExportConfig()
    marks = chapter_marks([{"start_s": 100.0, "end_s": 130.0}], 600.0, cfg)
    assert [t for t, _ in marks] == [0, 100, 130]
    with pytest.raises(ExportError, match="at least 3 chapters"):
        chapter_marks([{"start_s": 5.0, "end_s": 9.0}], 25.0, cfg)


def test_clips_are_cut_inside_the_video(session, tmp_path: Path) -> None:
    lib, sid, spans = session
    path = export(lib, sid, "clips")
    with zipfile.ZipFile(path) as z:
        names = sorted(z.namelist())
        z.extractall(tmp_path / "x")
    assert len(names) == 2 and all(re.fullmatch(r"clip\d\d_\d{9}-\d{9}\.mp4", n) for n in names)
    for name, (a, b) in zip(names, spans):
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json",
                              str(tmp_path / "x" / name)], capture_output=True, text=True, check=True)
        dur = float(json.loads(out.stdout)["format"]["duration"])
        assert abs(dur - (b - a)) <= 0.25 and inside([(a, b)])


def test_outputs_stay_inside_the_exports_folder(session, tmp_path: Path) -> None:
    lib, sid, _ = session
    for bad in (tmp_path / "elsewhere.json", "../escape.json", "/etc/x.json"):
        with pytest.raises(ExportError, match="only inside"):
            export(lib, sid, "json", out=bad)
    ok = export(lib, sid, "json", out="sub/mine.json")
    assert ok == (lib.data.exports_dir / "sub" / "mine.json").resolve() and ok.is_file()
    with pytest.raises(ExportError, match="unknown format"):
        export(lib, sid, "docx")
    assert set(FORMATS) == {"json", "csv", "srt", "vtt", "edl", "chapters", "clips"}


def test_a_session_without_citations_refuses_an_edit_list_in_one_line(tmp_path: Path, video: Path) -> None:
    lib = fake_library(tmp_path, duration_s=DURATION, speech=SPEECH, video_path=str(video), size=(320, 240))
    try:
        pol = ScriptedPolicy([{"action": "answer", "arguments": {"text": "nothing here", "citations": []}}])
        events = list(run(lib, lib.video_id, QUESTION, pol))
        assert events[-1].status == "not_found"
        with pytest.raises(ExportError, match="no citations"):
            export(lib, events[0].session_id, "edl")
        assert json.loads(export(lib, events[0].session_id, "json").read_text())["citations"] == []
    finally:
        lib.close()
