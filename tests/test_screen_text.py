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
    # Each line: `votes` reads, and on footage that moves, one of the line found again in the frames'
    # fusion and one of each track's fused crops; a few new tracks at most, not 12 reads each.
    assert sum(reads) <= (2 + 2) * variants * found + variants * 4


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


def _line_over(backgrounds: list[np.ndarray], text: str, y: int) -> list[np.ndarray]:
    """`text` in light type at the same place over each background (the footage moves, the text stays)."""
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 40)
    out = []
    for bg in backgrounds:
        img = Image.fromarray(bg)
        ImageDraw.Draw(img).text((120, y), text, fill=235, font=font)
        out.append(np.asarray(img))
    return out


def test_fusing_a_still_line_over_moving_footage_fades_the_footage() -> None:
    rng = np.random.default_rng(3)
    backgrounds = []
    for i in range(4):  # bright bars (lit windows) that move between samples
        bg = np.full((200, 800), 40, np.uint8)
        for x in range(i * 13, 800, 52):
            bg[:, x:x + 14] = 225
        backgrounds.append((bg + rng.integers(0, 8, bg.shape)).astype(np.uint8))
    frames = _line_over(backgrounds, "Jane Doe", 70)
    box = (118, 76, 330, 112)
    track = screen_text_shot._Track(box, True, 0, 3, np.zeros((6, 48), np.float32))
    track.crops = [screen_text_shot._crop(f, box, (box[2] - box[0] + 72, 72)) for f in frames]
    fused, line = screen_text_shot._fused(track)
    ground = fused < 120
    # Each crop has bright footage between the letters; fused, only the letters stay bright.
    assert all(float((c > 180).mean()) > float((fused > 180).mean()) + 0.1 for c in track.crops)
    assert ground.mean() > 0.6 and line.box[2] - line.box[0] == box[2] - box[0]


def test_a_line_missed_in_one_frame_stays_one_line() -> None:
    frames = _line_over([np.full((200, 800), 30, np.uint8)] * 5, "Northwind Arts Council", 80)
    frames[2] = np.full((200, 800), 30, np.uint8)   # a frame where the search finds nothing there
    lines = [s for s in read_frames(frames, votes=2) if is_read("Northwind Arts Council", [s.text])]
    assert len(lines) == 1 and lines[0].first == 0 and lines[0].last == 4, lines


def test_a_piece_of_a_line_gives_way_to_the_whole_line() -> None:
    assert screen_text_shot.is_piece("lom Reyes", "Music Tom Reyes")
    assert screen_text_shot.is_piece("Okafor", "Editing Sam Okafor")
    assert not screen_text_shot.is_piece("Sound Priya Nair", "Music Tom Reyes")
    assert not screen_text_shot.is_piece("Music Tom Reyes", "Music Tom Reyes")
    assert screen_text_shot.is_piece("Ones Meltwater", "Chapter One: Meltwater", strict=True)  # a letter misread


def test_a_short_line_is_not_a_piece_of_another_that_only_shares_its_letters() -> None:
    """A title's second line and an address under a name are lines of their own: their words lie far apart
    in the other line ("he" ... "delta"), or one of them is not in it at all ("org")."""
    assert not screen_text_shot.is_piece("The Delta", "Fisherman, Niger Delta", strict=True)
    assert not screen_text_shot.is_piece("riversidepictures.org", "A Riverside Pictures production", strict=True)
    assert screen_text_shot.is_piece("lom Reyes", "Music Tom Reyes", strict=True)


def _shown(text: str, box: tuple[int, int, int, int]) -> screen_text_shot.ScreenLine:
    return screen_text_shot.ScreenLine(text, 0.9, box, 0, 3, 3)


def test_a_role_joins_its_name_but_a_row_of_a_credit_roll_does_not_join_the_next() -> None:
    join = screen_text_shot._join_roles
    assert [s.text for s in join([_shown("Music", (500, 100, 600, 130)), _shown("Felix Brandt", (480, 140, 700, 170))])] \
        == ["Music Felix Brandt"]
    # A row read in part ("Camera Omar") is not a role waiting for the row below.
    assert len(join([_shown("Camera Omar", (480, 100, 700, 130)), _shown("Editing Clara Moreau", (480, 140, 760, 170))])) == 2
    # A short label in small type right above a larger name is the name's role.
    assert [s.text for s in join([_shown("Voice of the river", (520, 300, 760, 320)),
                                  _shown("Oliver Grant", (500, 330, 780, 372))])] == ["Voice of the river Oliver Grant"]
