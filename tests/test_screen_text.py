"""Screen text over moving real footage: lines found, read whole, voted across frames, roles joined."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bench.ocr_cards import MEDIA, Card, cards, clip_frames
from bench.ocr_recall import is_read
from memory import screen_text, screen_text_shot
from memory.screen_text_shot import _vote, read_frames

pytestmark = pytest.mark.skipif(not (MEDIA / "cockatoo.mp4").exists(), reason="needs ../shared/media")


@pytest.fixture(scope="module")
def deck() -> dict[str, Card]:
    """The dev cards over the hand-held cockatoo clip (1280x720, fast motion), by kind."""
    return {c.kind: c for c in cards(("cockatoo.mp4",))}


def _texts(card: Card) -> list[str]:
    return [s.text for s in read_frames(list(card.frames))]


def test_a_role_and_its_name_are_one_line(deck: dict[str, Card]) -> None:
    texts = _texts(deck["role"])
    assert any(t.lower() == "narrated by jane doe" for t in texts), texts


def test_roles_beside_their_names_are_joined_per_row(deck: dict[str, Card]) -> None:
    texts = _texts(deck["columns"])
    assert is_read("Animation Lena Park", texts) and is_read("Music Tom Reyes", texts), texts
    assert not is_read("Animation Lena Park Music Tom Reyes", texts), texts


def test_both_funders_on_one_card_are_read_as_separate_lines(deck: dict[str, Card]) -> None:
    texts = _texts(deck["funders"])
    assert is_read("Alder Family Foundation", texts) and is_read("Northwind Arts Council", texts), texts
    assert not any("alder" in t.lower() and "northwind" in t.lower() for t in texts), texts


def test_a_light_on_dark_end_card_is_read_whole(deck: dict[str, Card]) -> None:
    texts = _texts(deck["end"])
    assert is_read("Licensed under Creative Commons Attribution 4.0", texts), texts
    assert is_read("creativecommons.org/licenses/by/4.0", texts), texts


def test_a_lower_third_on_a_translucent_band_is_read(deck: dict[str, Card]) -> None:
    texts = _texts(deck["lower_third"])
    assert is_read("Dr. Maria Lopez", texts) and is_read("Marine Biologist, Coastal Institute", texts), texts


def test_frames_without_text_cost_no_tesseract_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(screen_text, "read_strips", lambda strips, config: calls.append(len(strips)) or [])
    ramp = np.tile(np.linspace(20, 230, 640, dtype=np.uint8), (360, 1))   # a smooth sky, a fade
    flat = np.full((360, 640, 3), (30, 90, 160), np.uint8)
    assert read_frames([ramp, flat, Image.fromarray(ramp)]) == []
    assert sum(calls) == 0


def test_a_line_that_stays_is_read_only_votes_times(deck: dict[str, Card], monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = screen_text.read_strips
    monkeypatch.setattr(screen_text, "read_strips", lambda s, c: reads.append(len(s)) or real(s, c))
    frames = list(deck["end"].frames) * 3              # the card held for 12 samples
    lines = read_frames(frames, votes=2)
    licence = [s for s in lines if is_read("Licensed under Creative Commons Attribution 4.0", [s.text])]
    assert licence and licence[0].first == 0 and licence[0].last == len(frames) - 1
    variants = len(screen_text.ScreenTextConfig().variants)
    found = len(screen_text.find_lines(screen_text.grey(frames[0])))
    assert sum(reads) <= 2 * variants * found + variants * 4   # a few new tracks at most, not 12 reads each


def test_the_vote_prefers_the_reading_most_frames_agree_on() -> None:
    assert _vote([("Jane", 0.95), ("Jane Doe", 0.8), ("Jane Doe", 0.82)])[:1] == ("Jane Doe",)
    assert _vote([("Alder Family Foundation", 0.9), ("Alder Farnily Foundation", 0.7),
                  ("Alder Family Foundation", 0.88)])[0] == "Alder Family Foundation"
    assert _vote([("", 0.0), ("", 0.0)]) == ("", 0.0, 0)


def test_text_found_on_a_real_frame_maps_back_to_frame_pixels() -> None:
    frame = clip_frames("vtest.avi", 1)[0]
    big = frame.resize((frame.width * 2, frame.height * 2))   # taller than the search height
    ImageDraw.Draw(big).text((200, 900), "Harbor Street Bakery", fill=(255, 250, 200),
                             font=ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40))
    lines = screen_text.read_frame(big)
    hit = [r for r in lines if is_read("Harbor Street Bakery", [r.text])]
    assert hit, [r.text for r in lines]
    left, top, right, bottom = hit[0].box
    assert 180 <= left <= 215 and 890 <= top <= 925 and right > 500
