"""The app end to end through `gradio_client`: upload a narrated fixture, index it in the background
job, ask with a ScriptedPolicy through the real agent loop, get a cited answer, replay the session,
and download and parse every export. The app runs on a free port with a temp data dir."""
from __future__ import annotations

import csv
import json
import re
import time
import zipfile
from pathlib import Path

import opentimelineio as otio
import pysubs2
import pytest
from gradio_client import Client, handle_file

from agent.policy import ScriptedPolicy
from memory.library import Library
from tests.ui_app import start


def _script(query: str) -> list[dict]:
    return [
        {"thought": "Search the transcript for the city.", "action": "retrieve_clip",
         "arguments": {"query": query, "k": 3}},
        {"action": "verify_frame", "arguments": {"clip": "c1", "claim": f"the narrator talks about {query}"}},
        {"action": "answer", "arguments": {"text": f"{query} is mentioned in c1.", "citations": ["c1"]}},
    ]


@pytest.fixture(scope="module")
def session(tmp_path_factory, narrated):
    tmp = tmp_path_factory.mktemp("client")
    truth = narrated.copy_to(tmp / "fx")  # the app uploads it: a copy of the session's video
    library = Library(tmp / "data", image_encoder=None)
    query = truth.queries[2].text  # an exact name spoken and shown in scene 0 ("Lisbon")
    r = start(library, lambda: ScriptedPolicy(_script(query)))
    client = Client(r.url, verbose=False, download_files=str(tmp / "downloads"))
    yield {"client": client, "truth": truth, "query": query, "running": r, "library": library}
    r.close()
    library.close()


def _wait_ready(client: Client, title: str, timeout: float = 240) -> list:
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = client.predict(api_name="/library")["data"]
        row = next((x for x in rows if x[1] == title), None)
        if row and row[2] in ("ready", "failed"):
            return row
        time.sleep(1)
    raise AssertionError(f"{title} not indexed within {timeout} s")


def test_upload_index_ask_replay_export(session):
    client, truth = session["client"], session["truth"]
    note = client.predict(handle_file(str(truth.path)), api_name="/upload")
    assert "Queued" in note
    row = _wait_ready(client, truth.path.stem)
    assert row[2] == "ready", row
    vid = row[0]
    assert row[3] == "0:56" and row[4] == len(truth.scenes)
    m = re.search(r"speech (\d+)", row[5])
    assert m and int(m.group(1)) >= len(truth.scenes) - 2, row[5]  # whisper may split a sentence

    # The video is served from uploads/ for the player.
    player, *_ = client.predict(str(vid), api_name="/select_video")
    value = player.get("value", player)
    served = Path(value["video"] if isinstance(value, dict) else value)
    assert served.stat().st_size == truth.path.stat().st_size, player

    chat, plot, answer, gallery, summary = client.predict(str(vid), f"Where is {session['query']} mentioned?",
                                                          api_name="/ask")
    assert summary["status"] == "answered", summary
    cites = summary["citations"]
    scene0 = truth.scenes[0]
    assert cites and cites[0]["start_s"] < scene0.end_s and cites[0]["end_s"] > scene0.start_s
    titles = [m["metadata"].get("title", "") for m in chat if m.get("metadata")]
    assert any(t.startswith("retrieve_clip(") for t in titles) and any("supported" in t for t in titles)
    assert all(m["metadata"].get("status") != "pending" for m in chat if m.get("metadata"))
    lanes = json.loads(plot["plot"])["layout"]["yaxis"]["categoryarray"]
    assert lanes[0] == "shots" and lanes[-1] == "cited" and any(x.startswith("step ") for x in lanes)
    assert answer.count("class='cc-cite'") == len(cites) and session["query"] in answer

    sid = summary["session_id"]
    *_, replayed = client.predict(str(sid), api_name="/replay")
    assert replayed["citations"] == cites and replayed["status"] == "answered"

    *files, note = client.predict(str(sid), api_name="/export")
    assert "ready" in note and len(files) == 7
    files = [f.get("value", f) if isinstance(f, dict) else f for f in files]  # DownloadButton updates
    # One cited moment cannot make YouTube chapters (3 needed, 10 s apart): the page says so in words.
    if len(cites) < 3:
        assert files[5] is None and "YouTube chapters: YouTube needs at least 3 chapters" in note, note
        files = files[:5] + files[6:]
    assert all(files), note
    paths = {Path(f).suffix: Path(f) for f in files}
    data_root = str(session["library"].data.root)
    for p in paths.values():  # no export names a folder of the server
        assert p.suffix == ".zip" or data_root not in p.read_text(errors="replace"), p
    data = json.loads(paths[".json"].read_text())
    assert data["session_id"] == sid and data["citations"][0]["start_s"] == pytest.approx(cites[0]["start_s"], abs=0.01)
    rows = list(csv.DictReader(paths[".csv"].open()))
    assert len(rows) == len(cites)
    for ext in (".srt", ".vtt"):
        subs = pysubs2.load(str(paths[ext]))
        assert len(subs) == len(cites) and subs[0].start == pytest.approx(cites[0]["start_s"] * 1000, abs=50)
    # CMX3600 has SMPTE rates only; the 10 fps fixture is written at 30 (see agent/export.py).
    edl = otio.adapters.read_from_file(str(paths[".edl"]), rate=30)
    clips = list(edl.find_clips())
    assert len(clips) == len(cites)
    assert clips[0].source_range.start_time.to_seconds() == pytest.approx(cites[0]["start_s"], abs=0.05)
    if ".txt" in paths:
        chapters = paths[".txt"].read_text().splitlines()
        assert chapters[0].startswith("0:00") or chapters[0].startswith("00:00")
    with zipfile.ZipFile(paths[".zip"]) as z:
        names = z.namelist()
        assert len([n for n in names if n.endswith(".mp4")]) == len(cites)


def test_upload_rejects_non_video(session, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(Exception, match="not a video type|Invalid file type"):
        session["client"].predict(handle_file(str(bad)), api_name="/upload")


def test_upload_refuses_a_file_that_is_not_a_video_before_queueing_it(session, tmp_path):
    bad = tmp_path / "notavideo.mp4"
    bad.write_bytes(b"plain text pretending to be a video " * 100)
    jobs_before = len(session["running"].handlers.jobs.snapshot())
    note = session["client"].predict(handle_file(str(bad)), api_name="/upload")
    assert note.startswith("“notavideo.mp4” is not a video CiteClip can read") and "/" not in note, note
    assert "Errno" not in note and len(session["running"].handlers.jobs.snapshot()) == jobs_before


def test_ask_needs_a_ready_video(session):
    with pytest.raises(Exception, match="Pick a video"):
        session["client"].predict("999", "anything?", api_name="/ask")
