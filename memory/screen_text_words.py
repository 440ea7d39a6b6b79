"""A line's words as tesseract read them, tidied: glyphs read from what lies beside the text dropped from the
line's ends, and a word that a spurious space split joined again where another reading of the line has it
whole; and whether one line reads as a piece of another (`is_piece`). `memory.screen_text` tidies each
strip's words, `memory.screen_text_shot` each line's vote."""
from __future__ import annotations

import re
from difflib import SequenceMatcher

_STRAY_END = "~|_=-\u2014\u2013\\/<>[]{}^`*"  # an edge of the footage or a letter's cut outline, read at a word's end
Word = tuple[int, str, float, int]  # a word read in a strip: its left edge, text, confidence 0..1, right edge
_LONE_LETTER = re.compile(r"[b-z]")          # one lowercase letter alone ("j"): not a word a line ends with


class Reading(tuple[str, float]):
    """One strip's (text, confidence 0..1), with the words it was read from (`Word`s, left to right): it
    unpacks as the pair, and the words' places let readings of one line be merged word by word."""

    words: tuple[Word, ...]

    def __new__(cls, text: str, conf: float, words: tuple[Word, ...] = ()) -> "Reading":
        self = super().__new__(cls, (text, conf))
        self.words = words
        return self


def without_stray_ends(ws: list[Word]) -> list[Word]:
    """A line's words without the glyphs tesseract reads from what lies beside the text: marks glued to the
    line's first or last word ("Marchetti-~") and a lone lowercase letter at either end ("Park j")."""
    ws = list(ws)
    for end in (0, -1):
        if len(ws) > 1 and _LONE_LETTER.fullmatch(ws[end][1]):
            ws.pop(end)
    if ws:
        left, word, conf, right = ws[0]
        ws[0] = (left, word.lstrip(_STRAY_END) or word, conf, right)
        left, word, conf, right = ws[-1]
        ws[-1] = (left, word.rstrip(_STRAY_END) or word, conf, right)
    return ws


# A space between a name's words read as "_" ("Declan_Moyo"): a lower-case letter, "_", a capitalised word.
_GLUED = re.compile(r"(?<=[a-z])_(?=[A-Z][a-z])")


def unglued(ws: list[Word]) -> list[Word]:
    """The words with a space that tesseract read as "_" between two words of a name split again ("Declan_Moyo"
    -> "Declan", "Moyo"), each with its share of the word's width; a handle or an address ("@declan_moyo",
    "my_site.org") keeps its underscores."""
    out: list[Word] = []
    for left, word, conf, right in ws:
        if "@" in word or "." in word or "/" in word or not _GLUED.search(word):
            out.append((left, word, conf, right))
            continue
        parts = _GLUED.split(word)
        width, at = (right - left) / len(word), left
        for part in parts:
            out.append((round(at), part, conf, round(at + width * len(part))))
            at += width * (len(part) + 1)
    return out


def rejoined(text: str, others: list[str]) -> str:
    """`text` with the words a spurious space split ("Li ndg ren") joined where another reading of the
    same line has the joined word ("Lindgren"): a gap inside a word that a frame's footage or a wide
    kerning opened is not in every reading."""
    seen = {w.lower() for o in others for w in re.findall(r"[^\W_][\w'-]*", o)}
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        for j in range(min(len(words), i + 4), i + 1, -1):  # the longest run of pieces that makes a word
            joined = "".join(words[i:j])
            if joined.lower() in seen and not all(w.lower() in seen and len(w) > 2 for w in words[i:j]):
                out.append(joined)
                i = j
                break
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def line_key(text: str) -> str:
    """A line's words, lower case, without punctuation: what two readings of it are compared by."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def is_piece(piece: str, whole: str, share: float = 0.7, strict: bool = False) -> bool:
    """Whether line `piece` reads as a part of the longer line `whole` (a row read in part where footage
    swallowed some letters, a credit roll's row cut by the frame): most of its characters found in
    order in `whole`, in runs of two or more. `strict`, for a line about to be dropped as another's piece: also
    within a stretch of `whole` at most 1.75 times its length, each of its words of three letters or more
    found but for a letter. "The Delta" is then no piece of "Fisherman, Niger Delta" ("he" and "delta" lie far
    apart), nor "riversidepictures.org" of "A Riverside Pictures production" (no "org")."""
    a, b = line_key(piece), line_key(whole)
    if not a or len(a) >= len(b):
        return False
    blocks = [m for m in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks() if m.size >= 2]
    if sum(m.size for m in blocks) < share * len(a):
        return False
    if not strict:
        return True
    if blocks[-1].b + blocks[-1].size - blocks[0].b > 1.75 * len(a):
        return False
    found = {i for m in blocks for i in range(m.a, m.a + m.size)}
    starts = [m.start() for m in re.finditer(r"\S+", a)]
    return all(sum(i not in found for i in range(st, st + len(w))) <= 1
               for st, w in zip(starts, a.split()) if len(w) >= 3)
