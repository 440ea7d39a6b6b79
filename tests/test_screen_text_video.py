"""The OCR stage's line reader end to end on a video in the style of real credits: cards drawn by
tests/fixtures/overlays.py over moving real footage, read through `scan_lines` and `merge_spans`."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench.ocr_recall import is_read
from memory.stages.ocr import OcrConfig, _Shot, merge_spans, scan_lines
from tests.fixtures.overlays import MEDIA, Card, Style, render_overlay_video

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600),
              pytest.mark.skipif(not (MEDIA / "cockatoo.mp4").exists(), reason="needs ../shared/media")]

CARDS = [
    Card("lower_third", ("Dr. Maria Lopez", "Marine Biologist, Coastal Institute"), 0.5, 5.5,
         Style(font_px=34, label_px=22, band="translucent", position="lower_third")),
    Card("credit", ("Directed by", "Ana Silva"), 6.0, 11.0, Style(font_px=44, label_px=24, layout="role",
                                                                  band="translucent")),
    Card("credit", ("Made possible with support from", "Alder Family Foundation", "Northwind Arts Council"),
         11.5, 16.5, Style(font_px=28, label_px=22, layout="columns", band="translucent")),
    Card("end_card", ("Licensed under Creative Commons Attribution 4.0",), 17.0, 22.0,
         Style(font_px=18, font="sans", dim_footage=0.85)),
]


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    video = Path(tmp_path_factory.mktemp("overlays")) / "credits.mp4"
    render_overlay_video(CARDS, video, duration_s=22.0, segment_s=5.5)
    found, _ = scan_lines(str(video), [_Shot(0.0, 22.0, ())], OcrConfig(), duration_s=22.0)
    return merge_spans(found)


def _at(spans: list[dict], start_s: float, end_s: float) -> list[str]:
    return [s["text"] for s in spans if s["start_s"] < end_s and s["end_s"] > start_s]


def test_a_lower_third_is_read_line_by_line(spans: list[dict]) -> None:
    texts = _at(spans, 0.5, 5.5)
    assert is_read("Dr. Maria Lopez", texts) and is_read("Marine Biologist, Coastal Institute", texts), texts


def test_a_role_and_its_name_are_one_line(spans: list[dict]) -> None:
    texts = _at(spans, 6.0, 11.0)
    assert any(" ".join(t.lower().split()) == "directed by ana silva" for t in texts), texts


def test_two_funders_on_one_card_are_both_read(spans: list[dict]) -> None:
    texts = _at(spans, 11.5, 16.5)
    assert is_read("Alder Family Foundation", texts) and is_read("Northwind Arts Council", texts), texts
    assert not any("alder" in t.lower() and "northwind" in t.lower() for t in texts), texts


def test_a_small_light_on_dark_end_card_is_read_whole_with_its_time(spans: list[dict]) -> None:
    hit = [s for s in spans if is_read("Licensed under Creative Commons Attribution 4.0", [s["text"]])]
    assert hit, spans
    assert 16.5 <= hit[0]["start_s"] <= 18.5 and hit[0]["end_s"] >= 20.5, hit
