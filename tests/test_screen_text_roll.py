"""Credit rolls over moving real footage: found by their motion, read whole and once; junk lines of a few
letters over footage."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.ocr_cards import MEDIA, clip_frames
from bench.ocr_recall import is_read
from memory import screen_text
from memory.screen_text import FoundLine
from memory.screen_text_roll import find_roll
from memory.screen_text_shot import is_piece, read_frames
from tests.fixtures.overlays import Card, Style, draw_card

needs_media = pytest.mark.skipif(not (MEDIA / "cityCC0.mpg").exists(), reason="needs ../shared/media")

CREDITS = ("Camera Dmitri Volkov", "Sound Aoife Brennan", "Editing Samuel Oduya", "Music Freya Dunmore")
W, H = 1280, 720


def _roll_frames(clip: str, seconds: int, style: Style) -> list[np.ndarray]:
    """A credit roll drawn as tests/fixtures/overlays.py draws one (entering at the bottom, leaving at the top
    over `seconds`), over a real clip's moving frames, one grey frame per second."""
    card = Card("credit", CREDITS, 0.0, float(seconds), style)
    roll, _ = draw_card(card, W, H)
    speed = (H + roll.height) / seconds
    footage = clip_frames(clip, seconds + 1, step=6)
    out = []
    for t, frame in enumerate(footage):
        picture = frame.resize((W, H)).convert("RGBA")
        layer = Image.new("RGBA", (W, H + 2 * roll.height), (0, 0, 0, 0))
        layer.alpha_composite(roll, (0, roll.height + H - round(t * speed)))
        picture.alpha_composite(layer.crop((0, roll.height, W, roll.height + H)))
        out.append(np.asarray(picture.convert("L")))
    return out


@pytest.mark.slow  # eleven 720p frames searched and read: 10-20 s on two shared cores
@needs_media
def test_a_credit_roll_over_moving_footage_is_read_whole_once() -> None:
    frames = _roll_frames("cityCC0.mpg", 10, Style(font_px=32, font="condensed", position="scroll", outline_px=1))
    lines = read_frames(frames)
    texts = [s.text for s in lines]
    for credit in CREDITS:
        assert sum(is_read(credit, [t]) for t in texts) == 1, (credit, texts)
        assert not any(is_piece(t, credit) for t in texts), (credit, texts)
    # each is on screen for several seconds and stored with one span of them
    spans = [s for s in lines if any(is_read(c, [s.text]) for c in CREDITS)]
    assert all(s.last - s.first >= 4 for s in spans), [(s.text, s.first, s.last) for s in spans]


def _line(left: int, top: int, width: int, chars: int = 12, h: int = 30) -> FoundLine:
    return FoundLine((left, top, left + width, top + h), True, chars)


def test_a_roll_is_found_by_lines_moving_together_and_its_speed_fitted() -> None:
    widths = (310, 298, 315)
    found = [[_line(480, 700 - 88 * i + 50 * k + (i % 2), w) for k, w in enumerate(widths)
              if 0 < 700 - 88 * i + 50 * k < 690] for i in range(9)]
    roll = find_roll(found)
    assert roll is not None and abs(roll.speed + 88) < 1.0, roll


def test_footage_pieces_moving_together_are_not_a_roll() -> None:
    # a panning shot: small letter-like pieces of footage pair up from frame to frame at one speed
    found = [[_line(100 + 200 * k, 600 - 8 * i, 60, chars=4, h=14) for k in range(5)] for i in range(10)]
    assert find_roll(found) is None
    still = [[_line(480, 300, 310), _line(480, 350, 298)] for _ in range(6)]  # a still card
    assert find_roll(still) is None


@needs_media
def test_a_few_letters_over_footage_are_not_stored_unless_read_alike_and_surely(
        monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [np.asarray(f.resize((W, H)).convert("L")) for f in clip_frames("cityCC0.mpg", 6, step=6)]
    said: dict[str, tuple[str, float]] = {"word": ("ate.", 0.8)}
    monkeypatch.setattr(screen_text, "read_strips", lambda strips, config: [said["word"]] * len(strips))
    assert not [s for s in read_frames(frames) if s.text == "ate."]
    said["word"] = ("EXIT", 0.95)   # a sign read alike in every frame, surely
    assert any(s.text == "EXIT" for s in read_frames(frames))
