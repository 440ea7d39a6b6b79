"""On-screen text: the page reader on prepared frames, frame choice within shots, the line reader over
every sample, merged spans, the stage's rows."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from memory.stages import ocr
from memory.stages.ocr import OcrConfig, _Read, _Shot, merge_lines, merge_spans, read_text, scan, scan_lines
from memory.store import Store
from tests.fixtures.narrated import FONT, Narrated

pytestmark = pytest.mark.timeout(600)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _card(text: str, size: int, w: int, h: int, fg: tuple, bg: str = "checker") -> Image.Image:
    img = Image.new("RGB", (w, h), (90, 60, 20))
    d = ImageDraw.Draw(img)
    if bg == "checker":  # large squares: tesseract's own binarisation and layout fail on these
        cell = h // 6
        for y in range(0, h, cell):
            for x in range(0, w, cell):
                if (x // cell + y // cell) % 2:
                    d.rectangle([x, y, x + cell, y + cell], fill=(210, 170, 60))
        # A sign: the text sits on a light plate, the plate on the pattern.
        font = ImageFont.truetype(FONT, size)
        x0, y0, x1, y1 = d.textbbox((w // 8, h // 2), text, font=font)
        d.rectangle([x0 - 20, y0 - 20, x1 + 20, y1 + 20], fill=(240, 240, 230))
    elif bg == "dark":
        d.rectangle([0, 0, w, h], fill=(15, 20, 30))
    d.text((w // 8, h // 2), text, font=ImageFont.truetype(FONT, size), fill=fg)
    return img


@pytest.mark.parametrize("text, size, w, h, fg, bg", [
    ("Exit 8 North Gate", 64, 1280, 720, (15, 15, 15), "checker"),      # a sign on a pattern
    ("SUNDAY MORNING", 60, 1280, 720, (245, 245, 245), "dark"),         # light title on a dark frame
    ("Platform Trains North", 8, 320, 180, (10, 10, 10), "plain"),     # tiny text in a small frame: upscaled
])
def test_read_text_reads_video_style_text(text: str, size: int, w: int, h: int, fg: tuple, bg: str) -> None:
    if bg == "plain":
        img = Image.new("RGB", (w, h), (235, 235, 225))
        ImageDraw.Draw(img).text((10, h // 2), text, font=ImageFont.truetype(FONT, size), fill=fg)
    else:
        img = _card(text, size, w, h, fg, bg)
    lines = read_text(img)
    assert len(lines) == 1 and _norm(text) in _norm(lines[0][0]), lines  # a plate's edge may add a letter
    assert all(0.0 <= c <= 1.0 for _, c in lines)
    if bg == "plain":  # the upscaling is what makes the small text readable
        assert not any(_norm(text) in _norm(t) for t, _ in read_text(img, OcrConfig(max_upscale=1.0)))


def test_read_text_drops_what_it_cannot_read_confidently() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)  # [h, w, 3]
    assert read_text(Image.fromarray(noise)) == []
    assert read_text(Image.new("RGB", (640, 360), (30, 120, 60))) == []


def test_tesseract_alone_gets_one_omp_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit once went into os.environ, reached the index workers started later, and their
    # faster-whisper then transcribed nothing. Only tesseract's own processes may get it.
    import shutil

    import pytesseract

    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    seen = tmp_path / "seen.txt"
    spy = tmp_path / "tesseract"
    spy.write_text(f'#!/bin/sh\necho "${{OMP_THREAD_LIMIT:-unset}}" >> {seen}\nexec {shutil.which("tesseract")} "$@"\n')
    spy.chmod(0o755)
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(spy))
    lines = read_text(_card("SUNDAY MORNING", 60, 1280, 720, (245, 245, 245), "dark"))
    assert lines and "SUNDAY" in lines[0][0].upper()  # tesseract really ran through the spy
    assert set(seen.read_text().split()) == {"1"}
    assert "OMP_THREAD_LIMIT" not in os.environ
    monkeypatch.setenv("OMP_THREAD_LIMIT", "3")  # a user's own setting wins
    read_text(_card("SUNDAY MORNING", 60, 1280, 720, (245, 245, 245), "dark"))
    assert seen.read_text().split()[-1] == "3"


def test_merge_lines_joins_consecutive_identical_lines_into_one_span() -> None:
    reads = [
        _Read(0.0, 1.0, 0, [("Quarterly Budget", 0.95)]),
        _Read(2.0, 3.0, 0, [("Quarterly Budget", 0.9), ("Slide 2", 0.9)]),
        _Read(4.0, 5.0, 1, [("Quarterly Budgel", 0.97)]),  # a one-letter misreading is the same line
        _Read(6.0, 7.0, 1, [("Travel Costs", 0.9)]),
        _Read(8.0, 9.0, 1, [("Quarterly Budget", 0.9)]),   # back again after a gap: a new span
    ]
    spans = merge_lines(reads)
    got = [(s["text"], s["start_s"], s["end_s"]) for s in spans]
    assert got == [("Quarterly Budgel", 0.0, 5.0), ("Slide 2", 2.0, 3.0), ("Travel Costs", 6.0, 7.0),
                   ("Quarterly Budget", 8.0, 9.0)]
    assert spans[0]["conf"] == 0.97  # the best reading is kept


def test_every_screen_line_of_the_fixture_is_read_with_its_span(narrated: Narrated) -> None:
    # One shot per scene, keyframes at the middles; scene 5 changes its text half-way with no cut.
    shots = [_Shot(s.start_s, s.end_s, ((s.start_s + s.end_s) / 2,)) for s in narrated.scenes]
    reads, counts = scan(str(narrated.path), shots, OcrConfig(), duration_s=narrated.duration_s)
    spans = merge_lines(reads)
    assert counts["frames_read"] <= len(narrated.screen) + 2  # an unchanged picture is not read again
    for truth in narrated.screen:
        match = [s for s in spans if _norm(s["text"]) == _norm(truth.text)]
        assert len(match) == 1, (truth.text, spans)
        s = match[0]
        assert abs(s["start_s"] - truth.start_s) <= 1.0, (truth, s)
        assert truth.end_s - 1.5 <= s["end_s"] <= truth.end_s, (truth, s)  # seen until the last sample before it left
    assert len(spans) == len(narrated.screen)  # nothing read that is not there


def test_merge_spans_joins_a_line_across_runs_of_samples() -> None:
    spans = [
        {"start_s": 0.0, "end_s": 29.0, "text": "Alder Family Foundation", "conf": 0.9},
        {"start_s": 30.0, "end_s": 34.0, "text": "Alder Farnily Foundation", "conf": 0.7},  # the next run
        {"start_s": 3.0, "end_s": 5.0, "text": "Made possible with support from", "conf": 0.9},
        {"start_s": 50.0, "end_s": 52.0, "text": "Alder Family Foundation", "conf": 0.9},  # back after a gap
    ]
    got = [(s["text"], s["start_s"], s["end_s"]) for s in merge_spans(spans)]
    assert got == [("Alder Family Foundation", 0.0, 34.0), ("Made possible with support from", 3.0, 5.0),
                   ("Alder Family Foundation", 50.0, 52.0)]  # the better reading kept


def test_merge_spans_keeps_rows_of_a_table_that_differ_in_their_figures() -> None:
    rows = [{"start_s": 68.0, "end_s": 80.0, "text": "Bedroom 1: 3.6 x 3.4m", "conf": 0.9},
            {"start_s": 68.0, "end_s": 79.0, "text": "Bedroom 2: 2.6 x 2.4m", "conf": 0.9},
            {"start_s": 80.0, "end_s": 82.0, "text": "Bedroom 2: 2.6 x 2.4m", "conf": 0.8}]   # the next run
    got = [(s["text"], s["start_s"], s["end_s"]) for s in merge_spans(rows)]
    assert got == [("Bedroom 1: 3.6 x 3.4m", 68.0, 80.0), ("Bedroom 2: 2.6 x 2.4m", 68.0, 82.0)]


def test_merge_spans_joins_a_role_and_its_name_read_in_neighbouring_runs() -> None:
    """A role card over a cut: its label read in one run of samples, its name below it in the next."""
    spans = [{"start_s": 165.0, "end_s": 166.0, "text": "Filmed by", "conf": 0.9, "box": (520, 300, 760, 330)},
             {"start_s": 167.0, "end_s": 168.0, "text": "Declan Moyo", "conf": 0.8, "box": (470, 340, 810, 395)},
             {"start_s": 167.0, "end_s": 168.0, "text": "Thanks for watching", "conf": 0.9,  # far below: no name
              "box": (470, 600, 810, 640)}]
    got = [(s["text"], s["start_s"], s["end_s"]) for s in merge_spans(spans)]
    assert got == [("Filmed by Declan Moyo", 165.0, 168.0), ("Thanks for watching", 167.0, 168.0)]
    later = [dict(spans[0]), dict(spans[1], start_s=171.0, end_s=172.0)]  # a name long after: another card
    assert [s["text"] for s in merge_spans(later)] == ["Filmed by", "Declan Moyo"]


def test_the_line_reader_reads_every_screen_line_of_the_fixture_with_its_span(narrated: Narrated) -> None:
    shots = [_Shot(s.start_s, s.end_s, ()) for s in narrated.scenes]
    spans, counts = scan_lines(str(narrated.path), shots, OcrConfig(), duration_s=narrated.duration_s)
    lines = merge_spans(spans)
    assert counts["samples"] >= narrated.duration_s - 1
    for truth in narrated.screen:
        match = [s for s in lines if _norm(s["text"]) == _norm(truth.text)]
        assert len(match) == 1, (truth.text, lines)
        assert abs(match[0]["start_s"] - truth.start_s) <= 1.0, (truth, match[0])
        assert truth.end_s - 1.5 <= match[0]["end_s"] <= truth.end_s, (truth, match[0])
    assert len(lines) == len(narrated.screen), lines  # nothing read that is not there


def test_write_replaces_rows_and_invalidates_text_vectors(fresh_db: Store) -> None:
    vid = fresh_db.add_video("b" * 64, "t", "/x", 1).id
    result = {"lines": [{"start_s": 0.0, "end_s": 6.0, "text": "Exhibit Hall Closed", "conf": 0.95}],
              "frames_read": 1, "samples": 7}
    with fresh_db.atomic():
        ocr.write(fresh_db, vid, result)
        fresh_db.mark_stage(vid, "text_vectors", 1.0, {})
    with fresh_db.atomic():
        info = ocr.write(fresh_db, vid, result)
    assert info == {"ocr_lines": 1, "frames_read": 1, "samples": 7}
    assert [r["text"] for r in fresh_db.db.query("SELECT text FROM ocr WHERE video_id = ?", [vid])] == \
        ["Exhibit Hall Closed"]
    assert not fresh_db.stage_done(vid, "text_vectors")
    assert len(list(fresh_db.db.query("SELECT rowid FROM ocr_fts WHERE ocr_fts MATCH 'exhibit'"))) == 1


def test_merge_spans_drops_a_piece_of_a_line_read_whole_nearby() -> None:
    spans = [
        {"start_s": 28.0, "end_s": 33.0, "text": "Music Tom Reyes", "conf": 0.96},
        {"start_s": 32.0, "end_s": 32.0, "text": "lom Reyes", "conf": 0.93},      # the same row, read in part
        {"start_s": 31.0, "end_s": 31.0, "text": "Okafor", "conf": 0.95},         # a piece of a row read later
        {"start_s": 33.0, "end_s": 34.0, "text": "Editing Sam Okafor", "conf": 0.95},
        {"start_s": 60.0, "end_s": 62.0, "text": "Reyes", "conf": 0.95},          # alone, long after: kept
    ]
    got = [s["text"] for s in merge_spans(spans)]
    assert got == ["Music Tom Reyes", "Editing Sam Okafor", "Reyes"], got
