"""Names put right in a transcript: the words of a plain decode, with the short spans that a decode
given the screen's names (`memory.speech_vocab`) heard as one of those names taken from it instead.

A vocabulary prompt does spell names as shown, but it also changes how Whisper decodes the rest: it
can stop placing timestamps, lose the words at the end of a 30 s window or take a whole window for
silence. Taking from the prompted decode only the spans where it wrote a name keeps everything else
exactly as the plain decode heard it.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Protocol, TypeVar


class TimedWord(Protocol):
    """A word of faster-whisper's decode (its `Word`): text with its leading space, and times."""

    @property
    def word(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


W = TypeVar("W", bound=TimedWord)


def _norm(word: str) -> str:
    return re.sub(r"[^\w'\u2019-]", "", word.lower()).strip("'\u2019-")


def name_words(names: Sequence[str]) -> frozenset[str]:
    """The words of the names, normalised as transcript words are compared."""
    return frozenset(n for name in names for n in (_norm(w) for w in name.split()) if n)


def fix_names(plain: Sequence[Sequence[W]], hinted: Sequence[W], names: Sequence[str], max_span: int = 3
              ) -> list[list[W]]:
    """`plain`'s words (grouped as its segments) with each span of at most `max_span` words that `hinted`
    heard as vocabulary words replaced by `hinted`'s words. Only a span where every replacing word is a
    word of `names` and differs from what `plain` heard is taken; nothing is inserted or deleted."""
    vocab = name_words(names)
    flat = [(i, k, w) for i, seg in enumerate(plain) for k, w in enumerate(seg)]  # (segment, place, word)
    a = [_norm(w.word) for _, _, w in flat]
    b = [_norm(w.word) for w in hinted]
    out: list[list[W]] = [list(seg) for seg in plain]
    swaps: list[tuple[int, int, list[W]]] = []  # (first plain word, plain words replaced, new words)
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        new = b[j1:j2]
        if (op == "replace" and i2 - i1 <= max_span and j2 - j1 <= max_span
                and all(w in vocab for w in new) and any(w not in a[i1:i2] for w in new)):
            swaps.append((i1, i2 - i1, list(hinted[j1:j2])))
    for i1, n, new in reversed(swaps):  # from the end: earlier positions stay valid
        seg, at, _ = flat[i1]
        if flat[i1 + n - 1][0] != seg:
            continue  # a span across two segments would move words between them: keep it as it was
        out[seg][at:at + n] = new
    return out
