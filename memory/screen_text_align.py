"""Readings of one line merged word by word, by where each word stands on screen.

Small type over busy footage is read in pieces: one frame loses "Merrin", the next "in Port", and no single
reading holds the whole line "Filmed in Port Merrin". Each word tesseract reads has a place in its strip, and
a strip's place in the frame is known, so the readings' words can be laid side by side in the frame: the
words that stand at one place form a column, each column is voted on its own, and the columns read left to
right give the line with every word that several readings agree on, in its place. The same lays two spans of
one line read in neighbouring runs of samples (a card over a cut) side by side (`union`).
"""
from __future__ import annotations

import re
from dataclasses import replace
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

from memory.screen_text_words import Word

if TYPE_CHECKING:
    from memory.screen_text_shot import ScreenLine

Placed = tuple[float, float, str, float]  # a word's left and right edge in the frame's pixels, text, conf 0..1

_LETTERS = re.compile(r"[^\W_]")
ADDED_CONF = 0.8   # a word no winning reading holds joins the line only when read at least this surely ...
ADDED_VOTES = 2    # ... by at least this many readings
NEAR_FRAMES = 3    # parts of one line read in frames at most this many apart (footage hid it between) join


def placed(words: tuple[Word, ...], left: float, scale: float) -> tuple[Placed, ...]:
    """A strip's words placed in the frame: the strip's left edge there is `left`, `scale` strip pixels
    stand for one frame pixel."""
    return tuple((left + l / scale, left + r / scale, text, conf) for l, text, conf, r in words)


def _key(text: str) -> str:
    return "".join(_LETTERS.findall(text.lower()))


def _alike(a: str, b: str) -> bool:
    return SequenceMatcher(None, _key(a), _key(b)).ratio() >= 0.75


def _same_place(a: Placed, b: Placed) -> bool:
    """Whether two words cover one place: they overlap by over half the narrower one."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    return inter > 0.5 * max(1.0, min(a[1] - a[0], b[1] - b[0]))


def columns(readings: list[tuple[Placed, ...]]) -> list[list[tuple[int, Placed]]]:
    """The words of all readings grouped by place, left to right: each column holds at most one word of
    each reading (with the reading's index). A word at a place where its reading already has a word is a
    piece of a word split by a spurious space ("Fa mily"): it makes no column of its own. Readings of fewer
    words go first, so whole words make the columns and pieces join them."""
    cols: list[list[tuple[int, Placed]]] = []
    for ri, words in sorted(enumerate(readings), key=lambda rw: len(rw[1])):
        for w in words:
            at = [c for c in cols if any(_same_place(w, o) for _, o in c)]
            free = [c for c in at if all(r != ri for r, _ in c)]
            if not at:
                cols.append([(ri, w)])
            elif free:
                free[0].append((ri, w))
    return sorted(cols, key=lambda c: sum(w[0] for _, w in c) / len(c))


def _winner(col: list[tuple[int, Placed]]) -> tuple[Placed, int]:
    """A column's word most like the others, weighted by confidence, and how many readings agree on it."""
    words = [w for _, w in col]
    best = max(words, key=lambda w: (sum(o[3] for o in words if _alike(w[2], o[2])), w[3]))
    agree = [w for w in words if _alike(best[2], w[2])]
    left, right = sum(w[0] for w in agree) / len(agree), sum(w[1] for w in agree) / len(agree)
    return (left, right, best[2], sum(w[3] for w in agree) / len(agree)), len(agree)


def widened(text: str, readings: list[tuple[Placed, ...]]) -> tuple[str, tuple[Placed, ...]]:
    """The voted `text` of a line with the words other readings add in their places, and its words placed.

    The columns of all readings are voted; a column whose word is not in `text` joins it when at least
    `ADDED_VOTES` readings read it alike, on average at least `ADDED_CONF` surely, and it holds two letters
    or digits (footage beside a line is read as a lone glyph). The line is widened only when all its own
    words stay, in order. Its words are () when no reading of it has places (a roll's canvas)."""
    own = next((ws for ws in readings if ws and " ".join(w[2] for w in ws) == text), ())
    cols = [_winner(c) for c in columns([ws for ws in readings if ws])]
    if not own or not cols:
        return text, own
    said = [_key(w) for w in text.split()]
    kept: list[Placed] = []
    at = 0   # words of `text` matched so far, in order
    for word, votes in cols:
        if at < len(said) and _alike(word[2], said[at]):
            kept.append(own[at] if at < len(own) else word)
            at += 1
        elif (votes >= ADDED_VOTES and word[3] >= ADDED_CONF and len(_key(word[2])) >= 2
              and not any(min(word[1], o[1]) - max(word[0], o[0]) > 0 for o in own)):
            kept.append(word)   # read alike by several frames, where the line's own words leave a gap
    if at < len(said) or len(kept) <= len(own):
        return text, own
    return " ".join(w[2] for w in kept), tuple(kept)


def union(a: tuple[Placed, ...], b: tuple[Placed, ...]) -> tuple[Placed, ...] | None:
    """Two readings of one line (spans of neighbouring runs) laid side by side: their words by place, the
    surer of two alike words at one place. None unless they agree at some place, differ at none, and
    together hold more words than either."""
    cols = columns([a, b])
    both = [c for c in cols if len(c) == 2]
    if not both or any(not _alike(c[0][1][2], c[1][1][2]) for c in both) or len(cols) <= max(len(a), len(b)):
        return None
    words = tuple(max((w for _, w in c), key=lambda w: w[3]) for c in cols)
    if any(min(u[1], v[1]) - max(u[0], v[0]) > 0.25 * min(u[1] - u[0], v[1] - v[0]) for u, v in zip(words, words[1:])):
        return None   # a word and a piece of it, not two words side by side
    return words


def same_row(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two boxes lie at one height (their middles within half the taller's height)."""
    return abs((a[1] + a[3]) - (b[1] + b[3])) / 2 < 0.5 * max(a[3] - a[1], b[3] - b[1])


def laid_together(lines: list[ScreenLine]) -> list[ScreenLine]:
    """Lines of a shot on one row, on screen within `NEAR_FRAMES` of each other, that are readings of one
    line (tracks that each followed a part of it: "Riverstone Community" and "Community Bank"), made one
    line by `union`."""
    out: list[ScreenLine] = []
    for s in sorted(lines, key=lambda s: -len(s.words)):
        for i, o in enumerate(out):
            near = s.first <= o.last + NEAR_FRAMES and o.first <= s.last + NEAR_FRAMES
            if not (o.words and s.words and same_row(o.box, s.box) and near):
                continue
            words = union(o.words, s.words)
            if words is not None:
                box = (min(o.box[0], s.box[0]), min(o.box[1], s.box[1]), max(o.box[2], s.box[2]),
                       max(o.box[3], s.box[3]))
                out[i] = replace(o, text=" ".join(w[2] for w in words), words=words, box=box, conf=min(o.conf, s.conf),
                                 first=min(o.first, s.first), last=max(o.last, s.last), votes=min(o.votes, s.votes))
                break
        else:
            out.append(s)
    return out
