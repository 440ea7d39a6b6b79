"""A widened line read both ways (round seven): the widened strip's reading is kept where it completes the
line, the found box's where the widening took in footage that garbles or adds words."""
from __future__ import annotations


from bench.ocr_recall import is_read
from memory.screen_text import FoundLine, find_lines, read_lines
from memory.screen_text_words import Reading
from memory.screen_text_widen import core_line, wide_is_better
from tests.test_screen_text_align import LINE, needs_media, _pale_frames


def _r(*words: tuple[str, float]) -> Reading:
    ws = tuple((i * 100, w, c, i * 100 + 80) for i, (w, c) in enumerate(words))
    return Reading(" ".join(w for w, _ in words), sum(c for _, c in words) / len(words), ws)


def test_the_widened_reading_is_kept_only_where_it_is_better() -> None:
    found = _r(("Filmed", 0.95), ("and", 0.96), ("edited", 0.95), ("by", 0.96))
    assert not wide_is_better(_r(("Filmed", 0.9), ("fand", 0.6), ("edited", 0.95), ("by", 0.96)), found)
    assert not wide_is_better(_r(("rag", 0.6), ("Filmed", 0.95), ("and", 0.96), ("edited", 0.95), ("by", 0.96)),
                              found)
    assert wide_is_better(_r(("Reported", 0.84), ("by", 0.93)), _r(("Report", 0.96),))   # the cut end read whole
    assert wide_is_better(_r(("Riverstone", 0.96), ("Bank", 0.9)), _r(("stone", 0.96),))
    assert wide_is_better(_r(("The", 0.93), ("Tinker", 0.95), ("Trust", 0.95)), _r(("Tinker", 0.95), ("Trust", 0.95)))
    assert not wide_is_better(_r(("Tinker", 0.95),), _r(("Tinker", 0.95), ("Trust", 0.95)))   # a word lost
    # the narrower strip's unsure piece of a cut word need not be kept; an unsure piece at the widened end
    # is of the next word where the widening completed the cut one
    assert wide_is_better(_r(("Community", 0.95), ("Bank", 0.96)), _r(("1ity", 0.78), ("Bank", 0.96)))
    assert wide_is_better(_r(("one", 0.71), ("Community", 0.96), ("Bank", 0.96)), _r(("unity", 0.58), ("Bank", 0.96)))
    assert not wide_is_better(_r(("Community", 0.95),), _r(("1ity", 0.78), ("Bank", 0.96)))   # a sure word lost


@needs_media
def test_a_widening_into_footage_keeps_the_found_boxs_reading_and_a_cut_line_is_completed() -> None:
    g = _pale_frames(1)[0]
    line = max(find_lines(g), key=lambda f: f.box[2] - f.box[0])
    left, top, right, bottom = line.box   # the line whole (its own widening took in a word the search missed)
    h = bottom - top
    # widened over footage beside the line: the found box's reading stays, whole, with nothing added
    whole = (left, top, right, bottom)
    into = FoundLine((max(0, left - 6 * h), top, right + 6 * h, bottom), line.light, line.chars, whole)
    assert core_line(into) is not None
    text = read_lines(g, [into])[0].text
    assert is_read(LINE, [text]) and len(text.split()) == len(LINE.split()), text
    # a found box that cut off the first word: the widened strip's reading completes it
    cut = FoundLine(whole, line.light, line.chars, (left + (right - left) // 3, top, right, bottom))
    text = read_lines(g, [cut])[0].text
    assert text.split()[0] == LINE.split()[0], text
