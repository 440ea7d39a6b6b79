"""Scoring one agent answer against a development-set question (bench/devset.py): pure functions, so the
benchmark's figures can be tested on hand-made answers.

- citation hit: a cited span overlaps a true span;
- answer right: one alternative's phrases all occur in the answer text (lower case, punctuation as spaces,
  each phrase starting at a word boundary, so "birch" matches "birches");
- the status and its reason are read through `read_status`, the one place that knows how the agent spells
  them (answered / unverified / not_found today; a synonym or a separate reason field is read the same);
- for a question the video cannot answer, the outcome is correct when the status is not_found, or when the
  answer is unverified because nothing supported it (`not_found_outcome` says which);
- words of the answer absent from memory: words of the answer text (its status label and time codes
  removed) that no line of the video's transcript or screen text holds.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Span = tuple[float, float]

_STATUS_SYNONYMS = {"answered": "answered", "verified": "answered", "supported": "answered",
                    "unverified": "unverified", "unsupported": "unverified",
                    "not_found": "not_found", "notfound": "not_found", "no_answer": "not_found", "none": "not_found"}
# A label the agent puts before an unverified answer: "Unverified (reason): text" or "Unverified: text".
_LABEL = re.compile(r"^\s*unverified\s*(?:\(([^)]*)\))?\s*:\s*", re.IGNORECASE)
# A time code the answer cites a moment with ("0:30.8-0:35.6", "1:02:03"): a reference, not a word of the answer.
_TIMECODE = re.compile(r"(?<![\w.])\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?(?![\w])")
# A cited span as answers write it ("1:17.8-1:20.0"); a time said in the answer ("6:30 pm") is kept.
_CITED_SPAN = re.compile(r"(?<![\w.])\d{1,2}(?::\d{2}){1,2}\.\d+\s*-\s*\d{1,2}(?::\d{2}){1,2}\.\d+(?![\w])")
_UNSUPPORTED = ("nothing supported", "no evidence", "not supported", "unsupported", "no support")


@dataclass(frozen=True)
class Status:
    """An answer's status, normalised, and the reason given for it ("" when none)."""

    status: str                  # answered | unverified | not_found (anything else passes through lower-cased)
    reason: str


def norm(text: str) -> str:
    """Lower-case words and numbers, single-spaced (punctuation and case do not count)."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def has_phrase(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text`, starting at a word boundary (case and punctuation aside)."""
    p = norm(phrase)
    return bool(p) and f" {p}" in f" {norm(text)}"


def answer_right(answer: str, alternatives: Sequence[Sequence[str]]) -> bool:
    """One alternative's phrases all occur in the answer, its time codes left out ("1:17.8" does not say
    "8"); False when there are no alternatives."""
    words = _CITED_SPAN.sub(" ", answer)
    return any(all(has_phrase(words, p) for p in alt) for alt in alternatives)


def overlaps(a: Span, b: Span) -> bool:
    """Two spans share time; a zero-length span (a line read on one frame) counts when it lies inside."""
    if a[0] == a[1] or b[0] == b[1]:
        return min(a[1], b[1]) >= max(a[0], b[0])
    return min(a[1], b[1]) > max(a[0], b[0])


def citation_hit(cited: Iterable[Span], truth: Sequence[Span]) -> bool:
    """A cited span overlaps a true span."""
    return any(overlaps(c, t) for c in cited for t in truth)


def read_status(status: str, text: str, reason: str | None = None) -> Status:
    """The status of an answer event and the reason behind it: a separate reason field when the agent
    gives one, else the one in an "Unverified (reason):" label of the text."""
    s = _STATUS_SYNONYMS.get(status.strip().lower().replace(" ", "_"), status.strip().lower())
    if reason is None:
        m = _LABEL.match(text or "")
        reason = (m.group(1) or "") if m else ""
    return Status(s, reason.strip())


def answer_body(text: str) -> str:
    """The answer text without its status label."""
    return _LABEL.sub("", text or "", count=1)


def not_found_outcome(st: Status) -> str | None:
    """For a question the video cannot answer: "not_found" or "unverified_unsupported" when the outcome is
    correct, None when the agent gave an answer (verified, or unverified for another reason)."""
    if st.status == "not_found":
        return "not_found"
    if st.status == "unverified" and any(k in st.reason.lower() for k in _UNSUPPORTED):
        return "unverified_unsupported"
    return None


def absent_words(answer: str, memory_lines: Iterable[str]) -> list[str]:
    """Words of the answer that no memory line holds (each once, in the answer's order); time codes that
    cite a moment are not words of the answer."""
    known = set(norm(" ".join(memory_lines)).split())
    out: list[str] = []
    for w in norm(_TIMECODE.sub(" ", answer)).split():
        if w not in known and w not in out:
            out.append(w)
    return out


@dataclass(frozen=True)
class Score:
    """One question's figures."""

    hit: bool                    # a cited span overlaps a true span (False for unanswerable questions)
    right: bool                  # answerable: an alternative is in the answer; unanswerable: not_found_outcome
    verified_but_wrong: bool     # status answered, answer not right
    right_but_unverified: bool   # status unverified, answer right (answerable questions only)
    not_found_outcome: str | None  # unanswerable only: see not_found_outcome()
    absent: tuple[str, ...]      # answer words absent from memory (not counted for a not_found answer)


def score(alternatives: Sequence[Sequence[str]], truth: Sequence[Span], answer: str, st: Status,
          cited: Sequence[Span], memory_lines: Sequence[str]) -> Score:
    """Score one answer. A question with no alternatives is one the video cannot answer."""
    body = answer_body(answer)
    absent = () if st.status == "not_found" else tuple(absent_words(body, memory_lines))
    if not alternatives:
        outcome = not_found_outcome(st)
        return Score(False, outcome is not None, st.status == "answered", False, outcome, absent)
    right = answer_right(body, alternatives)
    return Score(citation_hit(cited, truth), right, st.status == "answered" and not right,
                 st.status == "unverified" and right, None, absent)
