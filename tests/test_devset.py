"""The development set: its questions agree with the videos' ground truth, and the overlay renderer puts
text where and when its truth says (tests/fixtures/overlays.py, tests/fixtures/devset.py, bench/devset.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
import pytesseract
from PIL import Image

from bench.agent_dev import true_spans
from bench.agent_score import has_phrase
from bench.devset import KINDS, QUESTIONS
from tests.fixtures.devset import SIZE, DevVideo, build_video, script_truth
from tests.fixtures.devset_scripts import SCRIPTS
from tests.fixtures.overlays import Card, Style, draw_card, render_overlay_video

SCRIPT = {s.name: s for s in SCRIPTS}


@pytest.fixture(scope="module")
def truths() -> dict[str, DevVideo]:
    return {s.name: script_truth(s) for s in SCRIPTS}


def _frame(path: Path, t_s: float) -> Image.Image:
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            if f.time is not None and f.time >= t_s:
                return f.to_image().convert("RGB")
    raise AssertionError(f"no frame at {t_s}s")


def _read(frame: Image.Image, top: int, bottom: int, left: int = 0, right: int | None = None) -> str:
    """tesseract's reading of a strip of the frame, light text kept as black on white (a weak check:
    big light text only; reading real video text well is the OCR stage's job, not this test's)."""
    rgb = np.asarray(frame)[max(0, top - 8):bottom + 8, left:right]
    mask = np.where(rgb.min(axis=2) > 190, 0, 255).astype(np.uint8)
    return pytesseract.image_to_string(Image.fromarray(mask), config="--psm 7")


def test_question_set_has_every_kind_and_enough_unanswerable() -> None:
    assert len(QUESTIONS) >= 40 and len({q.question for q in QUESTIONS}) == len(QUESTIONS)
    assert {q.kind for q in QUESTIONS} == set(KINDS)
    assert sum(q.kind == "unanswerable" for q in QUESTIONS) >= 6
    for q in QUESTIONS:
        assert q.video in SCRIPT
        assert (q.kind == "unanswerable") == (not q.answers) == (not q.refs), q.question


def test_videos_are_two_to_four_minutes_and_speech_never_overlaps(truths: dict[str, DevVideo]) -> None:
    for t in truths.values():
        assert 120.0 <= t.duration_s <= 240.0, t.name
        for a, b in zip(t.speech, t.speech[1:]):
            assert a.start_s < a.end_s <= b.start_s
        assert all(0.0 <= x.start_s < x.end_s <= t.duration_s for x in t.speech + t.screen)


def test_each_answer_is_said_or_shown_inside_its_spans(truths: dict[str, DevVideo]) -> None:
    for q in QUESTIONS:
        if q.kind == "unanswerable":
            continue
        t = truths[q.video]
        spans = true_spans(q, t)
        assert spans and all(0.0 <= a < b <= t.duration_s for a, b in spans), q.question
        inside = " ".join(x.text for x in t.speech + t.screen
                          if any(x.start_s >= a - 1e-6 and x.end_s <= b + 1e-6 for a, b in spans))
        # The first alternative is the script's own wording; the others are spellings a transcript may use.
        assert all(has_phrase(inside, p) for p in q.answers[0]), (q.question, inside)
        assert all(has_phrase(t.text(), p) for p in q.answers[0])


def test_a_list_question_spans_three_sentences(truths: dict[str, DevVideo]) -> None:
    lists = [q for q in QUESTIONS if q.kind == "list_over_sentences"]
    assert lists
    for q in lists:
        t = truths[q.video]
        (a, b), = true_spans(q, t)
        said = [s for s in t.speech if a <= s.start_s and s.end_s <= b]
        assert len(said) >= 3
        # Each item of the list is in a different sentence: no one sentence holds the whole answer.
        assert not any(all(has_phrase(s.text, p) for p in q.answers[0]) for s in said)


def test_the_two_funders_share_one_card(truths: dict[str, DevVideo]) -> None:
    t = truths["city_birds"]
    a, b = (next(x for x in t.screen if name in x.text) for name in ("Alder Family", "Northwind"))
    assert (a.start_s, a.end_s) == (b.start_s, b.end_s)


def test_overlay_text_is_on_screen_at_its_time_and_not_before(tmp_path: Path) -> None:
    size = (640, 360)
    cards = [Card("title", ("Wild Neighbours",), 1.0, 3.0, Style(font_px=72, outline_px=3)),
             Card("credit", ("Camera Lucia Ferrante", "Music Tom Reyes"), 3.0, 9.0,
                  Style(font_px=44, position="scroll", outline_px=2))]
    out = tmp_path / "ov.mp4"
    truth = render_overlay_video(cards, out, base_clips=("cityCC0.mpg",), duration_s=9.0, size=size, fps=10)
    assert [x.text for x in truth] == ["Wild Neighbours", "Camera Lucia Ferrante", "Music Tom Reyes"]
    title, camera = truth[0], truth[1]
    (top, bottom), = draw_card(cards[0], *size)[1]
    assert "Neighbours" in _read(_frame(out, (title.start_s + title.end_s) / 2), top, bottom)
    assert "Neighbours" not in _read(_frame(out, 0.3), top, bottom)
    # A rolling credit is fully in frame for only part of the time its card is on, moving up at a fixed speed.
    assert cards[1].start_s < camera.start_s < camera.end_s < cards[1].end_s
    roll, extents = draw_card(cards[1], *size)
    t = (camera.start_s + camera.end_s) / 2
    shift = size[1] - (t - cards[1].start_s) * (size[1] + roll.height) / (cards[1].end_s - cards[1].start_s)
    top, bottom = (round(y + shift) for y in extents[0])
    assert 0 <= top < bottom <= size[1]
    assert "Ferrante" in _read(_frame(out, t), top, bottom)


@pytest.mark.slow
def test_a_devset_video_is_built_with_its_truth(artifacts: Path) -> None:
    script = SCRIPT["night_bus"]
    video = build_video(script, artifacts / "devset")
    assert video.to_dict() | {"path": ""} == script_truth(script).to_dict() | {"path": ""}
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type:format=duration",
                            "-of", "default=nw=1", str(video.path)], capture_output=True, text=True, check=True).stdout
    assert "codec_type=audio" in probe and "codec_type=video" in probe
    duration = float(next(x for x in probe.splitlines() if x.startswith("duration=")).split("=")[1])
    assert abs(duration - video.duration_s) < 0.2
    name = next(x for x in video.screen if x.text == "Mark Bennett")
    card = next(Card(c.kind, c.lines, name.start_s, name.end_s, c.style)
                for c in script.cues if "Mark Bennett" in c.lines)
    (top, bottom), _ = draw_card(card, *SIZE)[1]
    assert "Bennett" in _read(_frame(video.path, (name.start_s + name.end_s) / 2), top, bottom, 0, SIZE[0] // 2)
