"""Which thing a card is about: a review's spec card per product, a slide per building.

A card's heading ("AURION PODS 3", "THE REGAL IN 1936") or a row's label ("Kestrel Buds S: 12 hours") names
what its figures belong to. When the question names one of those things ("how much do the Aurion Pods
cost"), a card or a row that names another and not the question's says nothing about it, however well its
figure fits ("£129" on the Kestrel card). Plain text cues, no model.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from agent import textmatch
from agent.evidence import SCREEN, Line

# A row's label before its figure: "Kestrel Buds S: 12 hours", "Aurion Pods 3 - £79" (one to four words).
_ROW_LABEL = re.compile(r"^\s*([A-Z][\w'’&.-]*(?:\s+[\w'’&.-]+){0,3})\s*(?::|\s[-–—]\s)\s*\S")


# Words a heading is set in that name nothing ("AFTER THE LAST SHOW"), though the video may never say them.
_PLAIN = frozenset("""after before during since until about over under between against without within into onto
upon last first next new old best top more most less least part how what why when where who which our your their
this that these those here there now then today""".split())


def heading(text: str) -> bool:
    """Whether a screen line is a heading: set in capitals ("KESTREL BUDS S"), with a word of three letters."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters) and any(len(w) >= 3 for w in text.split())


def row_label(text: str) -> str:
    """The label a row's figure belongs to ("Kestrel Buds S" of "Kestrel Buds S: 12 hours"), "" when none."""
    m = _ROW_LABEL.match(text)
    return m.group(1) if m else ""


def names(text: str) -> set[str]:
    """The tokens a line names things by: all of a heading's, a row label's."""
    named = text if heading(text) else row_label(text)
    return set(textmatch.content_tokens(named)) if named else set()


def things(video_lines: Sequence[str]) -> set[str]:
    """The tokens naming what the video's cards are about: those of its headings that the video never writes
    in lower case (a product's name, "aurion"; not "battery" or "last")."""
    headed = set().union(*(names(t) for t in video_lines if heading(t))) if video_lines else set()
    common = {textmatch.stem(w) for t in video_lines if not heading(t) for w in re.findall(r"\b[a-z][\w'’-]*", t)}
    return {t for t in headed - common - _PLAIN if t.isalpha() and len(t) >= 3}


def off_subject(run: Sequence[Line], lines: Sequence[Line], asked: set[str], named: set[str]) -> bool:
    """Whether a run of screen lines is about another thing than the one the question names (`asked`: the
    question's tokens among the video's `things`, `named`): each of its lines is a row labelled with another
    thing, or its card (the screen lines shown with it) has a heading and names the asked thing nowhere."""
    if not asked or any(ln.source != SCREEN for ln in run):
        return False
    a, b = min(ln.start_s for ln in run), max(ln.end_s for ln in run)
    card = [ln for ln in lines if ln.source == SCREEN and max(a, ln.start_s) < min(b, ln.end_s)] or list(run)
    if not any(asked & set(textmatch.content_tokens(ln.text)) for ln in card):
        return any(heading(ln.text) for ln in card)
    return all(names(ln.text) & named and not names(ln.text) & asked and not heading(ln.text) for ln in run)
