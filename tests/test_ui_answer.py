"""What a person reads of an answer, a job card and the example questions (pure functions, no page)."""
from __future__ import annotations

import re

from tests.ui_events import session_events
from ui.answer import answer_html
from ui.markup import jobs_html
from ui.suggest import example_questions


def _answer(events: list[dict]) -> dict:
    return next(e for e in events if e["kind"] == "answer")


def test_an_answer_reads_as_a_sentence_with_time_links_and_what_checked_it() -> None:
    events = session_events()
    html = answer_html(_answer(events), events)
    text = re.sub(r"<[^>]+>", "", html)
    assert text.startswith("The red scene is at 0:10.")
    assert "data-start='10.000' data-end='14.000'" in html and "▶ 0:10" in text
    # The verification the citation rests on (step 7: ocr read RED at 0:12) says what was checked.
    assert "Checked against the on-screen text and the picture at 0:12" in text
    assert "%" not in text and "evidence steps" not in text and "step" not in text


def test_unverified_and_not_found_say_so_in_words_with_the_reason() -> None:
    events = session_events()
    unverified = {**_answer(events), "status": "unverified", "reason": "the frame at 0:12 shows no red"}
    assert "Not confirmed: the frame at 0:12 shows no red" in answer_html(unverified, events)
    assert "Not confirmed: the moments found did not pass a check" in answer_html(
        {**unverified, "reason": None}, events)
    assert "Not found in this video." in answer_html({"text": "", "status": "not_found", "citations": []}, events)
    quoted = answer_html({**_answer(events), "quote": "RED <b>"}, events)
    assert "“RED &lt;b&gt;”" in quoted  # the video's own text is escaped, never markup


def test_the_panel_while_running_and_after_an_error() -> None:
    assert "Working" in answer_html(None, running=True)
    assert answer_html(None) == ""
    assert "Type a question first." in answer_html(None, error="Type a question first.")


def test_job_cards_use_words_and_show_skipped_and_stopped_stages() -> None:
    done = {"id": 2, "title": "talk.mp4", "status": "done", "error": None, "reindex": True,
            "stages": {"probe": {"fraction": 1.0, "message": "done"},
                       "image_vectors": {"fraction": 1.0, "message": "done"}},
            "result": {"video_id": 1, "shots": 4, "speech_segments": 9, "ocr_lines": 3, "visual": False,
                       "seconds": 12.3}}
    failed = {"id": 3, "title": "notavideo.mp4", "status": "failed", "error": "not a video", "reindex": False,
              "stages": {"hash": {"fraction": 1.0, "message": "hashing"}, "probe": {"fraction": 0.0,
                                                                                     "message": "starting"}},
              "result": None}
    html = jobs_html([done, failed], {2: {"image_vectors": "no image model installed"}})
    text = re.sub(r"<[^>]+>", " ", html)
    assert "Re-indexing" in text and "Reading the video" in text and "Checking the file" in text
    assert "skipped: no image model installed" in text
    assert "data-stage='probe' data-state='stopped'" in html  # a failed job's bar does not sit at 0%
    assert "0%" not in text and "hashing" not in text and "image_vectors" not in text


def test_example_questions_come_from_the_videos_own_text_and_speech() -> None:
    screen = [{"text": "Lisbon", "start_s": 3.0, "conf": 0.9}, {"text": "Lisbon", "start_s": 5.0, "conf": 0.95},
              {"text": "Ana Costa", "start_s": 20.0, "conf": 0.9}, {"text": "%%3#1", "start_s": 1.0, "conf": 0.9},
              {"text": "Blurry", "start_s": 9.0, "conf": 0.2}]
    speech = [{"text": "We flew to Porto first. Then Porto again, and the bridge in Porto."},
              {"text": "In Lisbon we met Ana Costa."}]
    qs = example_questions(screen, speech)
    assert qs[:2] == ["When is “Lisbon” shown on screen?", "When is “Ana Costa” shown on screen?"]
    assert "What is said about Porto?" in qs and not any("Blurry" in q or "%%" in q for q in qs)
    assert example_questions([], []) == []  # nothing read or heard: no examples rather than generic ones
