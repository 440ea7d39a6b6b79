"""Credit lines read whole, once (round six's failure kinds): white type over pale footage, a first word the
search misses over a lighter patch, words that different frames lose merged by their places, and a card
over a cut read in part in each run of samples."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from bench.ocr_cards import MEDIA, clip_frames
from bench.ocr_recall import is_read
from memory.screen_text import ScreenTextConfig, find_lines, grey
from memory.screen_text_align import Placed, union, widened
from memory.screen_text_extend import widened_box
from memory.screen_text_shot import is_piece, read_frames
from memory.stages.ocr import merge_spans
from tests.fixtures.overlays import Card, Style, draw_card

needs_media = pytest.mark.skipif(not (MEDIA / "vtest.avi").exists(), reason="needs ../shared/media")

W, H = 1280, 720
LINE = "Riverstone Community Bank"


def _pale_frames(n: int) -> list[np.ndarray]:
    """A white credit over a real clip's footage made pale (sunlit concrete), `n` moving grey frames."""
    card, _ = draw_card(Card("credit", (LINE,), 0.0, 5.0, Style(font_px=30, font="bold")), W, H)
    out = []
    for frame in clip_frames("vtest.avi", n, step=8):
        pale = ImageEnhance.Brightness(frame.resize((W, H))).enhance(1.0).convert("RGBA")
        pale.alpha_composite(card)
        out.append(grey(pale.convert("RGB")))
    return out


@needs_media
def test_white_type_over_pale_footage_is_read_whole_once() -> None:
    lines = [s.text for s in read_frames(_pale_frames(4))]
    assert sum(is_read(LINE, [t]) for t in lines) == 1, lines
    assert not any(is_piece(t, LINE) for t in lines), lines


@needs_media
def test_a_line_is_widened_over_letters_the_search_missed_and_not_over_solid_footage() -> None:
    g = _pale_frames(1)[0]
    line = max(find_lines(g), key=lambda f: f.box[2] - f.box[0])
    left, top, right, bottom = line.box
    cut = (left + (right - left) // 3, top, right, bottom)   # as if the first word were not found
    assert abs(widened_box(g, cut, True, ScreenTextConfig().tight_range)[0] - left) <= bottom - top
    solid = np.full((H, W), 90, np.uint8)
    solid[300:330, 400:900] = 250                           # a bright bar beside a line is not its letters
    solid[300:330, 200:390:12] = 250
    assert widened_box(solid, (200, 300, 390, 330), True, 15) == (200, 300, 390, 330)


def _words(*spec: tuple[float, float, str]) -> tuple[Placed, ...]:
    return tuple((x0, x1, text, 0.93) for x0, x1, text in spec)


def test_words_different_frames_lose_are_kept_in_their_places() -> None:
    whole = ((528, 590, "Filmed"), (598, 616, "in"), (624, 672, "Port"), (680, 751, "Merrin"))
    readings = [_words(whole[0], whole[3]), _words(whole[0], whole[1], whole[2]), _words(whole[0], whole[3]),
                _words(whole[1], whole[2], whole[3])]
    text, words = widened("Filmed Merrin", readings)
    assert text == "Filmed in Port Merrin" and [w[2] for w in words] == text.split()
    # pieces of a word split by a spurious space add nothing; a word read once only is not added
    split = [_words((528, 560, "Fil"), (562, 590, "med"), whole[3]), _words(whole[0], whole[3]),
             _words(whole[0], whole[2], whole[3])]
    assert widened("Filmed Merrin", split)[0] == "Filmed Merrin"


def test_a_card_over_a_cut_read_in_part_in_each_run_is_one_line() -> None:
    box = (528, 602, 751, 619)
    spans = [{"start_s": 13.0, "end_s": 13.0, "text": "Filmed in Port", "conf": 0.95, "box": box,
              "words": _words((528, 590, "Filmed"), (598, 616, "in"), (624, 672, "Port"))},
             {"start_s": 14.0, "end_s": 16.0, "text": "Filmed Merrin", "conf": 0.9, "box": box,
              "words": _words((529, 590, "Filmed"), (681, 751, "Merrin"))},
             {"start_s": 14.0, "end_s": 16.0, "text": "Elena Marsh", "conf": 0.9, "box": (89, 500, 300, 530),
              "words": _words((529, 590, "Elena"), (600, 680, "Marsh"))}]
    assert [(s["text"], s["start_s"], s["end_s"]) for s in merge_spans(spans)] == [
        ("Filmed in Port Merrin", 13.0, 16.0), ("Elena Marsh", 14.0, 16.0)]
    # two lines at one place whose words differ are not one line
    assert union(_words((528, 590, "Camera"), (600, 700, "Lucia")), _words((528, 590, "Editing"))) is None



@needs_media
def test_white_letters_outlined_in_black_over_pale_footage_are_read_by_their_fill() -> None:
    """A two-line outlined title over a pale car park is found by its dark outline, which reads as hollow
    letters; its white fill reads it ("fill" strips). Without them a line is misread ("Pape TWO")."""
    title = ("Part Two", "The Delta")
    card, _ = draw_card(Card("title", title, 0.0, 5.0, Style(font_px=56, font="bold", outline_px=2)), W, H)
    frames = []
    for frame in clip_frames("vtest.avi", 3, step=8):
        f = frame.resize((W, H)).convert("RGBA")
        f.alpha_composite(card)
        frames.append(grey(f.convert("RGB")))
    lines = [s.text for s in read_frames(frames)]
    assert all(sum(is_read(t, [x]) for x in lines) == 1 for t in title), lines
    no_fill = [s.text for s in read_frames(frames, ScreenTextConfig(variants=("strokes", "ink", "plain", "tight")))]
    assert not all(is_read(t, no_fill) for t in title), no_fill
