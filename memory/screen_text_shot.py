"""Video text across the frames of a shot: follow each line from frame to frame, read it a few times
while it stays, vote, and keep a role and its name on one line.

A line found at the same place in consecutive frames is one track. A track is read in its first
`votes` frames (the strips are cut as the frames go by and all of the shot's go to tesseract in
one call; a frame unchanged since the last is not even searched again) and then stands for itself while it stays, so a
credit held for ten seconds costs `votes` reads. The track's text is the reading most like the
others, weighted by confidence: one frame's "Jane" loses to two frames' "Jane Doe". Tracks that are
on screen together then join when a person would read them as one line: a role above its name
("Narrated by" / "Jane Doe") or a role beside it ("Music   Tom Reyes").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import cv2
import numpy as np
from PIL import Image

from memory import screen_text
from memory.screen_text import Box, FoundLine, ScreenTextConfig, best_reading, find_lines, grey, overlap, strips

_WORDY = re.compile(r"[^\W_]{3,}")  # a line holds a word of three letters or digits at least

# A short line that names a role and waits for its name.
_ROLE = re.compile(r"(\b(by|from|of)|:)$|^(music|animation|narrator|director|producer|editor|camera|sound|"
                   r"written|script|voice|design|photography|cinematography|illustration|starring|with)\b",
                   re.IGNORECASE)


@dataclass(frozen=True)
class ScreenLine:
    """A line of on-screen text read in one or more frames of a shot."""

    text: str
    conf: float         # mean confidence of the winning readings, 0..1
    box: Box            # where it is on screen (frame pixels)
    first: int          # index (into the frames given) of the first frame it is on screen
    last: int           # index of the last frame it is on screen
    votes: int          # readings that agreed with the text


@dataclass(eq=False)  # tracks are compared by identity
class _Track:
    box: Box
    light: bool
    first: int
    last: int
    look: np.ndarray      # the line's ink, small (`_look`): a new text at the same place is a new track
    cut: int = 0          # strips cut from it so far (one reading each)
    readings: list[tuple[str, float]] = field(default_factory=list)


def _changed(a: np.ndarray, b: np.ndarray, config: ScreenTextConfig) -> bool:
    """Whether two small grey signatures of frames differ (a still picture need not be searched again)."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float((diff > config.still_level).mean()) > config.still_share


def _look(g: np.ndarray, box: Box, light: bool) -> np.ndarray:
    """Where a line's ink is, coarsely [6, 48]: the pixels near its letters' own level, which moving
    footage behind them rarely reaches, so the look changes with the text, not with the footage."""
    left, top, right, bottom = box
    crop = g[top:bottom, left:right].astype(np.int16)
    ink = (255 - crop) if light else crop
    mask = (ink <= np.percentile(ink, 5) + 45).astype(np.float32)
    return cv2.resize(mask, (48, 6), interpolation=cv2.INTER_AREA)


def _same_look(a: np.ndarray, b: np.ndarray) -> bool:
    return float(np.abs(a - b).mean()) < 0.12


def _same_place(a: Box, b: Box) -> bool:
    ha, hb = a[3] - a[1], b[3] - b[1]
    return overlap(a, b) > 0.6 and 0.75 < ha / max(1, hb) < 1.33 and \
        abs((a[2] - a[0]) - (b[2] - b[0])) < 0.25 * max(a[2] - a[0], b[2] - b[0])


def _vote(readings: list[tuple[str, float]]) -> tuple[str, float, int]:
    """The reading most like the others, weighted by confidence: (text, conf, agreeing readings)."""
    said = [(t, c) for t, c in readings if t]
    if not said:
        return "", 0.0, 0
    def support(t: str) -> float:
        return sum(c * SequenceMatcher(None, t.lower(), u.lower()).ratio() for u, c in said)
    best = max(said, key=lambda tc: (support(tc[0]), len(tc[0])))[0]
    agree = [c for t, c in said if SequenceMatcher(None, best.lower(), t.lower()).ratio() >= 0.8]
    return best, round(float(np.mean(agree)), 3), len(agree)


def _joins(upper: ScreenLine, lower: ScreenLine) -> bool:
    """Whether two co-visible lines read as one: a role with its name below or to its right."""
    words = upper.text.split()
    waits = re.search(r"(\b(by|from|of)|:)$", upper.text.strip(), re.IGNORECASE)
    # "Directed by", "Music:", "Music" wait for a name; "Music Tom Reyes" already has one.
    if not _ROLE.search(upper.text.strip()) or len(words) > 5 or (not waits and len(words) > 2):
        return False
    if min(upper.last, lower.last) < max(upper.first, lower.first):
        return False
    (l1, t1, r1, b1), (l2, t2, r2, b2) = upper.box, lower.box
    h = max(b1 - t1, b2 - t2)
    beside = abs((t1 + b1) - (t2 + b2)) / 2 < 0.5 * h and 0 <= l2 - r1 < 12 * h
    below = 0 <= t2 - b1 < 1.6 * h and min(r1, r2) - max(l1, l2) > 0.3 * min(r1 - l1, r2 - l2)
    return beside or below


def _join_roles(lines: list[ScreenLine]) -> list[ScreenLine]:
    lines = sorted(lines, key=lambda s: (s.box[1], s.box[0]))
    used: set[int] = set()
    out = []
    for i, a in enumerate(lines):
        if i in used:
            continue
        j = next((j for j in range(len(lines)) if j != i and j not in used and _joins(a, lines[j])), None)
        if j is not None:
            b = lines[j]
            used.add(j)
            box = (min(a.box[0], b.box[0]), min(a.box[1], b.box[1]), max(a.box[2], b.box[2]), max(a.box[3], b.box[3]))
            a = ScreenLine(f"{a.text} {b.text}", min(a.conf, b.conf), box, max(a.first, b.first),
                           min(a.last, b.last), min(a.votes, b.votes))
        out.append(a)
    return out


def read_frames(frames: list[Image.Image | np.ndarray], config: ScreenTextConfig = ScreenTextConfig(),
                votes: int = 3) -> list[ScreenLine]:
    """The text lines on screen in a shot's frames (in order), each read up to `votes` times and voted;
    a role and its name joined into one line. Frames indices in the result index `frames`."""
    open_: list[_Track] = []
    done: list[_Track] = []
    pending: list[tuple[_Track, list[np.ndarray]]] = []   # strips cut now, read in one call at the end
    found: list[FoundLine] = []
    sig: np.ndarray | None = None
    for fi, frame in enumerate(frames):
        g = grey(frame)
        last_sig, sig = sig, cv2.resize(g, (64, 36), interpolation=cv2.INTER_AREA)
        if last_sig is None or _changed(sig, last_sig, config):
            found = find_lines(g, config)   # an unchanged picture keeps the lines found in it
        still: list[_Track] = []
        for f in found:
            track = next((t for t in open_ if t not in still and t.light == f.light and _same_place(t.box, f.box)
                          and _same_look(t.look, _look(g, t.box, t.light))), None)
            if track is None:
                track = _Track(f.box, f.light, fi, fi, _look(g, f.box, f.light))
            track.last = fi
            still.append(track)
            if track.cut < votes:
                track.cut += 1
                pending.append((track, strips(g, f, config)))
        done += [t for t in open_ if t not in still]
        open_ = still
    n = len(config.variants)
    texts = screen_text.read_strips([s for _, ss in pending for s in ss], config)
    for i, (track, _) in enumerate(pending):
        track.readings.append(best_reading(texts[i * n:(i + 1) * n]))
    out = []
    for t in sorted(done + open_, key=lambda t: -_vote(t.readings)[1]):
        text, conf, n = _vote(t.readings)
        # Of two tracks at one place at one time (both polarities of a line), the better read stays.
        if not _WORDY.search(text) or (n < 2 and conf < config.single_read_conf):
            continue  # footage read as letters once, or a line only ever read in pieces
        if not any(overlap(t.box, o.box) > 0.5 and o.first <= t.last and t.first <= o.last for o in out):
            out.append(ScreenLine(text, conf, t.box, t.first, t.last, n))
    return _join_roles(out)
