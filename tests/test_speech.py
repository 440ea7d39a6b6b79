"""Speech: faster-whisper base (real weights, offline copy) on the narrated fixture; times on the video's clock."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.retrieval import wer
from memory.stages import speech
from memory.stages.speech import SpeechConfig, transcribe
from memory.store import Store
from tests.fixtures.narrated import Narrated, make_silent

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def result(narrated: Narrated) -> tuple[list[speech.Segment], dict]:
    return transcribe(str(narrated.path), SpeechConfig(), duration_s=narrated.duration_s, models_dir=_models())


def _models() -> str:
    import os
    return os.environ["CITECLIP_MODELS"]  # set by conftest to the fetched offline copies


def test_every_sentence_is_transcribed_with_times_within_a_second(result, narrated: Narrated, artifacts: Path) -> None:
    segs, info = result
    assert info["language"] == "en" and info["has_audio"] is True
    report = []
    for truth in narrated.speech:
        # The segment that overlaps the sentence most is its transcription.
        seg = max(segs, key=lambda s: min(s.end_s, truth.end_s) - max(s.start_s, truth.start_s))
        err = wer([truth.text], [seg.text])
        report.append({"truth": truth.text, "heard": seg.text, "wer": round(err, 3),
                       "start_err_s": round(seg.start_s - truth.start_s, 3),
                       "end_err_s": round(seg.end_s - truth.end_s, 3)})
        assert abs(seg.start_s - truth.start_s) <= 1.0, report[-1]
        assert abs(seg.end_s - truth.end_s) <= 1.0, report[-1]
        assert err <= 0.35, report[-1]  # most words of every sentence
        assert seg.lang == "en"
    overall = wer([t.text for t in narrated.speech], [s.text for s in segs])
    (artifacts / "speech_wer.json").write_text(json.dumps({"wer": overall, "sentences": report}, indent=1))
    print(f"speech WER on the fixture: {overall:.3f}")
    assert len(segs) == len(narrated.speech)  # one segment per sentence: pauses split, nothing invented
    assert overall <= 0.2


def test_audio_that_starts_late_keeps_the_video_clock(narrated: Narrated, tmp_path: Path) -> None:
    """An audio stream starting 2 s after the video: segment times move by 2 s (video clock, not audio clock)."""
    shifted = tmp_path / "shifted.mp4"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-t", "14", "-i", str(narrated.path), "-itsoffset", "2",
                    "-t", "12", "-i", str(narrated.path), "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac",
                    str(shifted)], check=True)
    segs, _ = transcribe(str(shifted), SpeechConfig(), models_dir=_models())
    first = narrated.speech[0]
    assert segs, "nothing transcribed"
    assert abs(segs[0].start_s - (first.start_s + 2.0)) <= 1.0, segs[0]


def test_a_video_without_audio_has_no_speech_and_is_not_an_error(tmp_path: Path) -> None:
    segs, info = transcribe(str(make_silent(tmp_path)), SpeechConfig(), models_dir=_models())
    assert segs == [] and info["has_audio"] is False


def test_split_cuts_segments_at_pauses_and_moves_dangling_words() -> None:
    W = lambda w, a, b: SimpleNamespace(word=w, start=a, end=b)  # noqa: E731
    utterances = [(0.0, 3.0), (10.0, 13.0)]
    words = [W(" One", 0.1, 0.5), W(" two.", 0.6, 2.9), W(" The", 2.9, 3.2),
             W(" next", 10.1, 10.5), W(" one.", 10.6, 12.0)]
    pieces = speech._split(words, utterances)
    assert [p[2] for p in pieces] == ["One two.", "The next one."]
    assert pieces[1][0] == pytest.approx(10.0)  # clamped to where the utterance starts on the video's clock


def test_write_replaces_rows_and_invalidates_text_vectors(fresh_db: Store) -> None:
    vid = fresh_db.add_video("a" * 64, "t", "/x", 1).id
    result = {"segments": [{"start_s": 1.0, "end_s": 2.0, "text": "hello there", "lang": "en"}],
              "info": {"language": "en", "has_audio": True}}
    with fresh_db.atomic():
        speech.write(fresh_db, vid, result)
        fresh_db.mark_stage(vid, "text_vectors", 1.0, {})
    with fresh_db.atomic():  # a re-run replaces the rows, never duplicates them
        info = speech.write(fresh_db, vid, result)
    assert info["speech_segments"] == 1 and info["language"] == "en"
    rows = list(fresh_db.db.query("SELECT text, lang FROM speech WHERE video_id = ?", [vid]))
    assert rows == [{"text": "hello there", "lang": "en"}]
    assert not fresh_db.stage_done(vid, "text_vectors")  # new row ids: the vectors must be redone
    fts = list(fresh_db.db.query("SELECT rowid FROM speech_fts WHERE speech_fts MATCH 'hello'"))
    assert len(fts) == 1


def test_compute_skips_decoding_when_the_probe_found_no_audio() -> None:
    ctx = SimpleNamespace(path="/nonexistent.mp4", models_dir=None, config={}, facts={"has_audio": False},
                          report=lambda f, m="": None)
    assert speech.compute(ctx) == {"segments": [], "info": {"language": None, "has_audio": False}}
