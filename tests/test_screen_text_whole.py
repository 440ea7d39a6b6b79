"""Credit lines read whole, once (round five's failure kinds): a credit roll whose lines move by about a
multiple of their spacing per sample, a credit that ends in a stray glyph or reads as a role, a word split by
a spurious space."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.ocr_cards import MEDIA, clip_frames
from bench.ocr_recall import is_read
from memory.screen_text import find_lines
from memory.screen_text_roll import find_roll
from memory.screen_text_shot import ScreenLine, _joins, is_piece, read_frames
from memory.screen_text_words import rejoined, unglued, without_stray_ends
from tests.fixtures.overlays import Card, Style, draw_card

needs_media = pytest.mark.skipif(not (MEDIA / "cityCC0.mpg").exists(), reason="needs ../shared/media")

CREDITS = ("Camera Ilse Marchetti", "Graphics Bo-Young Park", "Sound Hamid Rezaei", "Series Editor Clare Duvall")
W, H = 1280, 720
STYLE = Style(font_px=30, font="serif_bold", position="scroll", outline_px=2)


def _roll_frames(clip: str, seconds: float, samples: int) -> tuple[list[np.ndarray], float]:
    """A credit roll drawn as tests/fixtures/overlays.py draws one, over a real clip's moving frames, one grey
    frame per second, and its move per sample in pixels (up the screen: negative)."""
    card = Card("credit", CREDITS, 0.0, seconds, STYLE)
    roll, _ = draw_card(card, W, H)
    speed = (H + roll.height) / seconds
    out = []
    for t, frame in enumerate(clip_frames(clip, samples, step=6)):
        picture = frame.resize((W, H)).convert("RGBA")
        layer = Image.new("RGBA", (W, H + 2 * roll.height), (0, 0, 0, 0))
        layer.alpha_composite(roll, (0, roll.height + H - round((t + 1) * speed)))
        picture.alpha_composite(layer.crop((0, roll.height, W, roll.height + H)))
        out.append(np.asarray(picture.convert("L")))
    return out, -speed


@needs_media
def test_a_roll_moving_about_two_line_spacings_a_sample_is_registered_at_its_own_speed() -> None:
    # lines about 45 px apart moving about 85 px a sample: each line lands near the next but one
    frames, speed = _roll_frames("cityCC0.mpg", 11.0, 7)
    found = [find_lines(g) for g in frames]
    roll = find_roll(found, frames=frames)
    assert roll is not None and abs(roll.speed - speed) < 2.0, (roll, speed)


@pytest.mark.slow  # a dozen 720p frames searched and read: 15-30 s on two shared cores
@needs_media
def test_an_aliasing_outlined_roll_is_read_whole_once() -> None:
    frames, _ = _roll_frames("cityCC0.mpg", 11.0, 12)
    texts = [s.text for s in read_frames(frames)]
    for credit in CREDITS:
        assert sum(is_read(credit, [t]) for t in texts) == 1, (credit, texts)
        assert not any(is_piece(t, credit) for t in texts), (credit, texts)


def test_stray_glyphs_at_a_lines_ends_go_and_its_words_stay() -> None:
    words = [(0, "Graphics", 0.9, 80), (90, "Bo-Young", 0.9, 190), (200, "Park", 0.9, 250), (260, "j", 0.6, 266)]
    assert [w[1] for w in without_stray_ends(words)] == ["Graphics", "Bo-Young", "Park"]
    cut = [(0, "|Camera", 0.9, 80), (90, "Ilse", 0.9, 140), (200, "Marchetti-~", 0.9, 330)]
    assert [w[1] for w in without_stray_ends(cut)] == ["Camera", "Ilse", "Marchetti"]
    kept = [(0, "Music:", 0.9, 80), (90, "Plan", 0.9, 150), (200, "a", 0.9, 212)]  # a colon and a word "a" stay
    assert [w[1] for w in without_stray_ends(kept)] == ["Music:", "Plan", "a"]


def test_a_space_read_as_an_underscore_between_a_names_words_is_a_space_again() -> None:
    words = [(0, "Filmed", 0.9, 60), (70, "by", 0.9, 90), (100, "Declan_Moyo", 0.8, 210)]
    out = unglued(words)
    assert [w[1] for w in out] == ["Filmed", "by", "Declan", "Moyo"]
    assert out[2][0] == 100 and out[3][3] == 210 and out[2][3] < out[3][0]  # the word's width shared in order
    handles = [(0, "@declan_moyo", 0.9, 120), (130, "Declan_Moyo.com", 0.9, 260), (270, "snake_case", 0.9, 370)]
    assert unglued(handles) == handles


def test_a_word_split_by_a_spurious_space_is_joined_when_another_reading_has_it_whole() -> None:
    readings = ["Mateo Li ndg ren", "Mateo Lindgren", "Mateo Lindgren"]
    assert rejoined("Mateo Li ndg ren", readings) == "Mateo Lindgren"
    # two real words that one reading ran together stay two words
    assert rejoined("Sound Hamid Rezaei", ["SoundHamid Rezaei", "Sound Hamid Rezaei"]) == "Sound Hamid Rezaei"
    assert rejoined("Mateo Li ndg ren", ["Mateo Li ndg ren"]) == "Mateo Li ndg ren"  # nothing to go by


def _line(text: str, top: int, h: int = 30) -> ScreenLine:
    return ScreenLine(text, 0.9, (400, top, 800, top + h), 0, 5, 3)


def test_a_credit_read_with_a_colon_after_it_does_not_take_the_next_credit_as_its_name() -> None:
    assert not _joins(_line("Camera Ilse Marchetti:", 300), _line("Graphics Bo-Young Park", 345))
    assert _joins(_line("Sound design:", 300), _line("Hamid Rezaei", 345))
    assert _joins(_line("Music:", 300), _line("Ada Brook", 345))
