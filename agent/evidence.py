"""The evidence around a moment: memory's lines (spoken sentences, on-screen text lines) a few seconds either
side of it, each with its own span, and the runs of consecutive lines an answer may quote.

A speech segment of the transcript can hold several sentences; it is split into sentences, each given a
share of the segment's span by its length, so that a quote can be one sentence of a segment. On-screen
text lines that are on screen together are one card: a run of screen lines stays inside one card (a
role and its name, a header and its funders), a run of sentences inside one stretch of speech.
Every line is memory text, never rewritten: an answer built from lines has no word memory lacks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memory.library import Library

_WAITS = re.compile(r"(\b(by|from|of)|:)$", re.IGNORECASE)  # "Directed by", "Music:" wait for a name
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(]?[A-Z0-9])")
SPEECH, SCREEN = "speech", "screen"


@dataclass(frozen=True)
class EvidenceConfig:
    pad_s: float = 5.0           # seconds either side of a moment whose lines are read with it
    pad_after_s: float = 12.0    # seconds after it read too, for a list or a reply that follows it
    speech_gap_s: float = 3.0    # sentences further apart than this are not one run
    max_run: int = 4             # lines one quote may hold
    max_chars: int = 320         # characters one quote may hold
    card_gap_s: float = 1.0      # a role line ("Produced by") and a line this close in time are one card:
                                 # the two are often read a sample apart as the card fades in


@dataclass(frozen=True)
class Line:
    """One line of memory: a spoken sentence or a line of on-screen text."""

    start_s: float
    end_s: float
    text: str
    source: str                  # speech | screen


def split_sentences(text: str) -> list[str]:
    """The sentences of a transcript segment (a segment without sentence ends is one sentence)."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def speech_lines(rows: list[dict]) -> list[Line]:
    """Sentences of transcript rows, each with its share of its row's span (by characters)."""
    out: list[Line] = []
    for r in rows:
        parts = split_sentences(str(r["text"]))
        a, b = float(r["start_s"]), float(r["end_s"])
        total = sum(len(p) for p in parts) or 1
        t = a
        for p in parts:
            end = t + (b - a) * len(p) / total
            out.append(Line(round(t, 3), round(end, 3), p, SPEECH))
            t = end
    return out


def screen_lines(rows: list[dict]) -> list[Line]:
    """On-screen text rows as lines, in time order, a text repeated later kept once (its first time)."""
    seen: set[str] = set()
    out: list[Line] = []
    for r in sorted(rows, key=lambda r: (float(r["start_s"]), float(r["end_s"]))):
        text = " ".join(str(r["text"]).split())
        key = text.lower()
        if text and key not in seen:
            seen.add(key)
            out.append(Line(float(r["start_s"]), float(r["end_s"]), text, SCREEN))
    return out


def lines_near(library: Library, video_id: int, start_s: float, end_s: float,
               config: EvidenceConfig = EvidenceConfig()) -> list[Line]:
    """Memory's lines overlapping the moment widened by `pad_s` either side: sentences, then screen lines."""
    a, b = max(0.0, start_s - config.pad_s), end_s + max(config.pad_s, config.pad_after_s)
    said = [ln for ln in speech_lines(library.transcript(video_id, a, b)) if ln.end_s >= a and ln.start_s <= b]
    return said + screen_lines(library.screen_text(video_id, a, b))


def _together(x: Line, y: Line, config: EvidenceConfig, alone: frozenset[Line] = frozenset()) -> bool:
    """Whether y may follow x in one quote: the next sentence of the same speech, or a line of the same card.
    Lines of one card overlap in time; a role line waiting for its name and a name read a sample apart
    are one card too, when neither has a partner of its own (`alone`)."""
    if x.source != y.source:
        return False
    if x.source == SPEECH:
        return 0.0 <= y.start_s - x.end_s + 1e-6 <= config.speech_gap_s + 1e-6
    gap = max(x.start_s, y.start_s) - min(x.end_s, y.end_s)
    return gap <= 0 or (gap <= config.card_gap_s and x in alone and y in alone
                        and any(_WAITS.search(ln.text.strip(" .")) for ln in (x, y)))


def _alone(seq: list[Line]) -> frozenset[Line]:
    """Screen lines no other line overlaps in time."""
    return frozenset(x for x in seq if not any(y is not x and min(x.end_s, y.end_s) >= max(x.start_s, y.start_s)
                                               for y in seq))


def runs(lines: list[Line], config: EvidenceConfig = EvidenceConfig()) -> list[tuple[Line, ...]]:
    """Every run of 1..max_run consecutive lines that belong together and fit in max_chars."""
    out: list[tuple[Line, ...]] = []
    for source in (SPEECH, SCREEN):
        seq = [ln for ln in lines if ln.source == source]
        alone = _alone(seq) if source == SCREEN else frozenset()
        for i in range(len(seq)):
            run = [seq[i]]
            out.append(tuple(run))
            for j in range(i + 1, min(len(seq), i + config.max_run)):
                if not all(_together(r, seq[j], config, alone) for r in run[-1:]) or \
                        sum(len(r.text) + 1 for r in run) + len(seq[j].text) > config.max_chars:
                    break
                run.append(seq[j])
                out.append(tuple(run))
    return out


def quote(run: tuple[Line, ...]) -> str:
    """The words of a run as one quote: sentences joined by spaces, lines of a card by " | "."""
    sep = " " if run and run[0].source == SPEECH else " | "
    return sep.join(ln.text for ln in run)


def in_memory(run: tuple[Line, ...], library: Library, video_id: int, spans: list[tuple[float, float]],
              tolerance_s: float = 1.0) -> bool:
    """Whether every line of the run is text memory holds inside one of the cited spans."""
    for ln in run:
        ok = False
        for a, b in spans:
            if ln.end_s < a - tolerance_s or ln.start_s > b + tolerance_s:
                continue
            rows = library.transcript(video_id, a - tolerance_s, b + tolerance_s) if ln.source == SPEECH \
                else library.screen_text(video_id, a - tolerance_s, b + tolerance_s)
            norm = " ".join(ln.text.split())
            if any(norm in " ".join(str(r["text"]).split()) for r in rows):
                ok = True
                break
        if not ok:
            return False
    return True
