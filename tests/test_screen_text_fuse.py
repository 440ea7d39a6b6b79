"""Still text over moving footage: found in the fusion of a shot's frames where no single frame shows it,
crops that keep a line's last letters, and pieces of a line read whole that are not stored."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bench.ocr_cards import MEDIA, clip_frames
from bench.ocr_recall import is_read, norm
from memory import screen_text
from memory.screen_text import FoundLine, find_lines, read_lines
from memory.screen_text_fuse import fuse, with_fused
from memory.screen_text_shot import ScreenLine, _join_roles, _vote, read_frames

pytestmark = pytest.mark.skipif(not (MEDIA / "cityCC0.mpg").exists(), reason="needs ../shared/media")

BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _drawn(frames: list[Image.Image], lines: list[tuple[str, tuple[int, int]]], px: int = 44,
           anchor: str = "mt") -> list[np.ndarray]:
    """Each frame at 1280x720, grey, with the same white lines drawn at the same places."""
    out = []
    for frame in frames:
        img = frame.resize((1280, 720)).convert("L")
        d = ImageDraw.Draw(img)
        for text, xy in lines:
            d.text(xy, text, fill=240, font=ImageFont.truetype(BOLD, px), anchor=anchor)
        out.append(np.asarray(img))
    return out


def test_white_text_over_moving_lit_towers_is_read_only_in_the_fused_frames() -> None:
    # Night towers a second apart: lit windows move behind a name in plain white bold type.
    frames = _drawn(clip_frames("cityCC0.mpg", 4, step=25), [("Hannah Lindqvist", (640, 360))])
    singles = [norm(r.text) for g in frames for r in screen_text.read_frame(g)]
    assert "hannah lindqvist" not in singles, singles     # each frame alone loses or garbles letters
    texts = [norm(s.text) for s in read_frames(frames)]
    assert "hannah lindqvist" in texts, texts


def test_the_fusion_keeps_still_light_letters_and_darkens_the_footage_that_moved() -> None:
    frames = _drawn(clip_frames("cityCC0.mpg", 3, step=25), [("Hannah Lindqvist", (640, 360))])
    fused = fuse(frames, light=True)
    letters = frames[0] >= 235
    letters &= np.all(np.stack(frames) >= 235, axis=0)   # the letters' cores, the same in every frame
    assert float(fused[letters].mean()) > 230
    assert float(fused[~letters].mean()) < min(float(f[~letters].mean()) for f in frames) - 5


def test_a_box_that_misses_the_last_letter_is_still_read_whole() -> None:
    words = ["Whitfield", "Council", "Lindqvist"]
    frames = _drawn(clip_frames("vtest.avi", 1), [(w, (200 + (i % 2) * 500, 150 + i * 120)) for i, w in enumerate(words)],
                    px=40, anchor="la")
    g = frames[0]
    whole = [(f, norm(r.text)) for f in find_lines(g) for r in read_lines(g, [f]) if norm(r.text) in map(norm, words)]
    assert len(whole) >= 2, whole
    # The search lost the last letter (bright footage touched it): the box ends most of a letter early.
    short = [FoundLine((l, t, r - round(0.6 * (b - t)), b), f.light, f.chars) for f, _ in whole for l, t, r, b in [f.box]]
    assert [norm(r.text) for r in read_lines(g, short)] == [text for _, text in whole]


def test_a_fused_line_replaces_a_frame_line_only_when_clearly_wider_else_waits() -> None:
    g = np.zeros((100, 400), np.uint8)
    piece, whole = FoundLine((10, 10, 120, 40), True, 4), FoundLine((10, 10, 300, 40), True, 9)
    same = FoundLine((12, 10, 300, 40), True, 9)
    fused = np.zeros_like(g)
    fused[14:36, 14:296:6] = 240   # light strokes on a dark ground: a light line in the fused picture
    kept = with_fused([piece], g, [(whole, fused)])
    assert [(f.box, img is fused, hidden) for f, img, hidden in kept] == [(whole.box, True, False)]
    # About as wide: the frame's line stays, and the fused one is read only once found again (a fusion
    # over a change of text can read a mix of both texts).
    both = with_fused([same], g, [(whole, fused)])
    assert sorted((f.box, img is g, hidden) for f, img, hidden in both) == [(whole.box, False, True), (same.box, True, False)]
    alone = with_fused([], g, [(whole, fused)])
    assert [hidden for _, _, hidden in alone] == [True]
    # The same place read as dark text in the fusion is the gaps between light letters: dropped.
    assert with_fused([], g, [(FoundLine(whole.box, False, 9), fused)]) == []


def test_a_piece_of_a_line_read_whole_in_the_shot_is_not_stored() -> None:
    ground = [Image.fromarray(np.full((720, 1280), 25, np.uint8))]
    whole = _drawn(ground * 3, [("Alder Family Foundation", (300, 340))], anchor="la")
    piece = _drawn(ground * 2, [("Alder Fa", (300, 340))], anchor="la")   # the same line, cut short
    blank = [np.full((720, 1280), 25, np.uint8)] * 2
    texts = [s.text for s in read_frames(whole + blank + piece)]
    assert is_read("Alder Family Foundation", texts), texts
    assert len(texts) == 1, texts


def test_a_frame_that_read_only_a_piece_gives_way_to_a_reading_of_the_whole_line() -> None:
    # Three frames lost "Directed" to the footage; the fused frame read it all, as confidently.
    assert _vote([("by", 0.96), ("by", 0.95), ("Directed by", 0.96), ("by", 0.96)])[::2] == ("Directed by", 4)
    # Footage read as a word in front of the line is less confident: the clean reading stays.
    assert _vote([("Northwind Arts Council", 0.96), ("ara Northwind Arts Council", 0.84),
                  ("Northwind Arts Council", 0.95)])[0] == "Northwind Arts Council"


def test_a_role_read_later_than_its_name_is_one_line_spanning_both() -> None:
    # "Omar Haddad" read from the card's first frame, "Produced by" above it only from the second.
    role = ScreenLine("Produced by", 0.95, (568, 318, 714, 341), 1, 3, 2, ((1, (568, 318, 714, 341)),))
    name = ScreenLine("Omar Haddad", 0.96, (464, 372, 814, 407), 0, 2, 2, ((0, (464, 372, 814, 407)),))
    joined = _join_roles([name, role])
    assert [(s.text, s.first, s.last) for s in joined] == [("Produced by Omar Haddad", 0, 3)]
    later = ScreenLine("Omar Haddad", 0.96, (464, 372, 814, 407), 4, 6, 2)
    assert len(_join_roles([later, role])) == 2   # a name on screen after the role left is another card's
