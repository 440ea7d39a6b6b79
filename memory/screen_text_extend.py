"""A found line widened to the letters the search missed at its ends.

The search for lines (`memory.screen_text.find_lines`) takes letters by their contrast with what lies
around them; a first or last word over a lighter part of the footage (white type whose first word sits
on pale concrete) stands out too little and is left out of the line's box, and so out of every strip
read. The letters are still there at the line's own ink level: in the line's row, columns beside the box
that hold pixels within `ScreenTextConfig.tight_range` grey levels of the letters' level, with gaps no
wider than a word space, continue the line. A bright patch of footage (a sky, a wall) is solid, not
strokes: a widening whose columns are mostly ink is not taken.
"""
from __future__ import annotations

import numpy as np


Box = tuple[int, int, int, int]  # left, top, right, bottom in the frame's pixels

GAP = 0.5        # a run of empty columns wider than this many line heights ends the line
REACH = 6.0      # a line is widened by at most this many line heights at each end
MIN_INK = 2      # a column holds the line's ink when at least this many of its pixels are at the ink level
MAX_SOLID = 0.6  # a widening in which more than this share of pixels are at the ink level is footage


def _reach(cols: np.ndarray, start: int, step: int, h: int) -> int:
    """How far from `start` (exclusive), going `step` (-1 left, +1 right), ink columns continue the line."""
    last, x, gap = start, start + step, max(2, round(GAP * h))
    limit = round(REACH * h)
    while 0 <= x < cols.size and abs(x - start) <= limit:
        if cols[x]:
            last = x
        elif abs(x - last) > gap:
            break
        x += step
    return last


def widened_box(g: np.ndarray, box: Box, light: bool, near: int) -> Box:
    """`box` widened left and right over columns of its row that hold pixels within `near` grey levels of
    its letters' own level, as long as the widening looks like strokes, not a solid patch."""
    left, top, right, bottom = box
    h = bottom - top
    if h <= 0 or right <= left:
        return box
    band = g[top:bottom].astype(np.int16)
    ink = (255 - band) if light else band
    at_ink = ink <= float(np.percentile(ink[:, left:right], 1)) + near
    cols = at_ink.sum(axis=0) >= MIN_INK
    new_left = _reach(cols, left, -1, h)
    new_right = _reach(cols, right - 1, 1, h) + 1
    if new_left < left and at_ink[:, new_left:left].mean() > MAX_SOLID:
        new_left = left
    if new_right > right and at_ink[:, right:new_right].mean() > MAX_SOLID:
        new_right = right
    return new_left, top, new_right, bottom
