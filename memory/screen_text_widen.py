"""A widened line read both ways: its widened box and the box the search found, the widened reading kept only
where it is better.

`memory.screen_text_extend` widens a line's box over columns at the line's ink level, to take in a first or
last word the search left out. Over busy footage the widened strip also takes in strokes of the footage, and
tesseract, reading the strip as one line, then garbles words that the narrower strip read cleanly ("fand" for
"and", "Den ir" for "Demir") or adds glyphs at the ends. So a line whose box was widened by more than
`MIN_WIDENING` line heights is read from both strips, and the widened reading is taken only when it keeps
every word the narrower one read surely, each as surely (a word it reads differently must be read at least as
surely, unless it is an end word the found box cut, read whole), and every word it adds is a real word read
surely (`ADDED_CONF`, two letters or digits) unless it also completed a word the found box cut.
"""
from __future__ import annotations

import re
from dataclasses import replace
from difflib import SequenceMatcher

import numpy as np

from memory.screen_text import FoundLine, ScreenTextConfig, best_reading, strip_place, strips
from memory.screen_text_words import Reading, Word

MIN_WIDENING = 0.3   # a box widened by at most this many line heights in all is read only widened
ADDED_CONF = 0.8     # a word only the widened strip reads must be read at least this surely
SURE_SLACK = 0.02    # a word both read, differently, must be read by the widened strip about as surely
_ALNUM = re.compile(r"[^\W_]")


def core_line(line: FoundLine) -> FoundLine | None:
    """The line at the box its search found, when its widening is wide enough to read it both ways."""
    if line.core is None:
        return None
    h = max(1, line.box[3] - line.box[1])
    grown = (line.core[0] - line.box[0]) + (line.box[2] - line.core[2])
    return replace(line, box=line.core, core=None) if grown > MIN_WIDENING * h else None


def line_strips(g: np.ndarray, line: FoundLine, config: ScreenTextConfig) -> tuple[list[np.ndarray], int]:
    """The strips of `line` (`strips`), then those of its found box where it was widened, and how many of
    them are of the widened box."""
    wide = strips(g, line, config)
    core = core_line(line)
    return wide + (strips(g, core, config) if core is not None else []), len(wide)


def _alike(a: str, b: str) -> bool:
    return a.lower() == b.lower() or SequenceMatcher(None, a.lower(), b.lower()).ratio() >= 0.75


def _completes(word: str, cs: tuple[Word, ...], at: int) -> bool:
    """Whether `word` is the narrower reading's first or last word with the letters its box cut off
    ("Report" of "Reported"): what the widening is for. A word inside the line is not cut by the box."""
    cut = cs[at][1].lower()
    return (at == len(cs) - 1 and word.lower().startswith(cut)) or (at == 0 and word.lower().endswith(cut))


def _past_unsure(word: str, cs: tuple[Word, ...], at: int) -> int | None:
    """Where `word` matches a later word of the narrower reading with only unsure words between, that
    word's index; None where it matches the word at `at` or none reached that way."""
    for j in range(at, len(cs)):
        if _alike(word, cs[j][1]) or _completes(word, cs, j):
            return j if j > at else None
        if cs[j][2] >= ADDED_CONF:
            return None
    return None


def wide_is_better(wide: Reading, core: Reading) -> bool:
    """Whether the widened strip's reading keeps every word of the found box's reading, in order and as
    surely, and adds only sure words (see the module's docstring)."""
    if not wide[0]:
        return False
    ws, cs = getattr(wide, "words", ()), getattr(core, "words", ())
    at, completed, unsure = 0, False, False
    for w in ws:
        skip = _past_unsure(w[1], cs, at)
        if skip is not None:
            at = skip   # the narrower strip's unsure pieces before it ("1ity" of "Community") need not be kept
        if at < len(cs) and (_alike(w[1], cs[at][1]) or _completes(w[1], cs, at)):
            if _completes(w[1], cs, at) and w[1].lower() != cs[at][1].lower():
                completed = True
            elif w[1] != cs[at][1] and w[2] < cs[at][2] - SURE_SLACK:
                return False   # a word the narrower strip read, garbled by the footage the widening took in
            at += 1
        elif w[2] < ADDED_CONF or len(_ALNUM.findall(w[1])) < 2:
            unsure = True      # a glyph or an unsure fragment: of the footage beside the line, or a cut word
    # Where the widening completed a word the found box cut, it reached the line's own words, and an unsure
    # piece at its end is of the next word (the shot's readings align it away), not of the footage.
    return all(c[2] < ADDED_CONF for c in cs[at:]) and (completed or not unsure)


def _shifted(words: tuple[Word, ...], dx: float) -> tuple[Word, ...]:
    return tuple((round(l + dx), t, c, round(r + dx)) for l, t, c, r in words)


def line_reading(readings: list[Reading], n_wide: int, line: FoundLine, config: ScreenTextConfig) -> Reading:
    """The reading of a line from its `line_strips`' readings: the widened strips' best, unless the found
    box's best is better (`wide_is_better`); its words placed as in the widened strip (`strip_place`)."""
    wide = best_reading(readings[:n_wide])
    core = core_line(line)
    if core is None or len(readings) == n_wide:
        return wide
    narrow = best_reading(readings[n_wide:])
    if not narrow[0] or wide_is_better(wide, narrow):
        return wide
    (left_w, scale), (left_c, _) = strip_place(line, config), strip_place(core, config)
    return Reading(narrow[0], narrow[1], _shifted(getattr(narrow, "words", ()), (left_c - left_w) * scale))
