"""Video text across the frames of a shot: follow each line from frame to frame, read it a few times
while it stays, vote, and keep a role and its name on one line.

A line found at the same place in consecutive frames is one track; so is a line that moved (a credit
roll) when it keeps its width, its height and the look of its ink. A track the search misses in a
frame (busy footage broke its letters apart) goes on where its strokes are found again, where it was
or where its own motion brings it, and survives a frame in which it is not seen. A track is read in its first
`votes` frames (the strips are cut as the frames go by and all of the shot's go to tesseract in
one call; a frame unchanged since the last is not even searched again) and then stands for itself
while it stays, so a credit held for ten seconds costs `votes` reads. The footage behind a line
moves while the line does not (`memory.screen_text_fuse`): the crops of a track, aligned, are fused
into one more strip (the darkest of each pixel for light text, the lightest for dark text), where busy
footage fades and the letters stay; and each changed frame's fusion with the changed frames before it
is searched too, for lines no single frame shows whole. A line found only there is read once a later
search finds it again (moving footage fused into a line-like shape rarely stays). The track's text is
the reading most like the others, weighted by confidence: one frame's "Jane" loses to two frames'
"Jane Doe", a reading that holds the winner and is about as confident wins, and a line seen in several
frames is kept only when two readings agree. Tracks on screen together then join when a person would
read them as one line, with the span of both: a role above its name ("Narrated by" / "Jane Doe") or a
role beside it ("Music   Tom Reyes"). A piece of a line read whole in the shot is dropped.

A credit roll (`memory.screen_text_roll`: lines found moving together at one speed) is read as a roll:
each of its lines is one track whose path is its motion, read from the roll's fused canvas and from runs
of its frames fused, and voted like any track; the tracks that followed pieces of its lines give way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import cv2
import numpy as np
from PIL import Image

from memory import screen_text
from memory.screen_text import (Box, FoundLine, ScreenTextConfig, best_reading, find_lines, grey, overlap, strip_place,
                                strips)
from memory.screen_text_align import Placed, laid_together, placed, widened
from memory.screen_text_widen import line_reading, line_strips
from memory.screen_text_fuse import fused_crops, lines_in_fused, with_fused
from memory.screen_text_roll import Roll, RollConfig, find_roll, ink, moved_to, roll_lines, same_size
from memory.screen_text_words import is_piece, line_key, rejoined

_WORDY = re.compile(r"[^\W_]{3,}")  # a line holds a word of three letters or digits at least

# A short line that names a role and waits for its name.
_WAITS = re.compile(r"(\b(by|from|of)|:)$", re.IGNORECASE)  # "Directed by", "Music:" wait for a name
# Words a role is made of ("Music", "Sound Design"): a line of nothing else waits for a name.
_ROLE_WORDS = frozenset("""music animation animator narrator narration director producer production editor editing
    camera sound design designer written writer script voice photography cinematography illustration starring
    with executive associate art costume makeup lighting graphics colour color grading research researcher
    additional original score mix mixing visual effects casting story screenplay host presenter""".split())


@dataclass(frozen=True)
class ScreenLine:
    """A line of on-screen text read in one or more frames of a shot."""

    text: str
    conf: float         # mean confidence of the winning readings, 0..1
    box: Box            # where it is on screen (frame pixels)
    first: int          # index (into the frames given) of the first frame it is on screen
    last: int           # index of the last frame it is on screen
    votes: int          # readings that agreed with the text
    path: tuple[tuple[int, Box], ...] = ()  # (frame index, box) where it was seen: a moving line's places
    words: tuple[Placed, ...] = ()          # its words' places in the frame (`memory.screen_text_align`); ()
                                            # where unknown (a roll's line, a role joined to its name)


@dataclass(eq=False)  # tracks are compared by identity
class _Track:
    box: Box
    light: bool
    first: int
    last: int
    look: np.ndarray      # the line's ink, small (`_look`): a new text at the same place is a new track
    cut: int = 0          # strips cut from it so far (one reading each)
    readings: list[tuple[str, float]] = field(default_factory=list)
    words: list[tuple[Placed, ...]] = field(default_factory=list)  # each reading's words placed in the frame
    path: list[tuple[int, Box]] = field(default_factory=list)   # where it was seen, frame by frame
    crops: list[np.ndarray] = field(default_factory=list)       # padded grey crops to fuse (`_fused`)
    ink: np.ndarray | None = None   # the line's strokes where it was last seen (`ink`), to find it again
    hidden: bool = False  # found only in fused frames and not found again yet: footage, until it stays
    crop_left: int = 0    # the left edge, in the frame, of the crops fused (`_crop`), where its fused strips lie


# A track, strips cut from it, and where they lie in the frame (`strip_place`; None where unknown).
# A track, the strips cut to read it, where its words lie (None: unplaced), the line the strips were cut from
# when some of them are of its found box (`memory.screen_text_widen.line_strips`) and how many are not.
_Pending = tuple[_Track, list[np.ndarray], tuple[float, float] | None, FoundLine | None, int]


def _changed(a: np.ndarray, b: np.ndarray, config: ScreenTextConfig) -> bool:
    """Whether two small grey signatures of frames differ (a still picture need not be searched again)."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float((diff > config.still_level).mean()) > config.still_share


def _text_moved(found: list[tuple[FoundLine, np.ndarray, bool]], before: np.ndarray, g: np.ndarray) -> bool:
    """Whether a line found in the frame before is not where it was (a credit roll over still footage, too
    small a change for the frames' signatures). Only text-like lines are asked: a piece of footage's look
    changes with the footage."""
    return any(not _same_look(_look(before, f.box, f.light), _look(g, f.box, f.light))
               for f, _, _ in found if f.chars >= RollConfig.min_chars)


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


def _look_gap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def _same_place(a: Box, b: Box) -> bool:
    return overlap(a, b) > 0.6 and same_size(a, b)


def _follow(open_: list[_Track], taken: list[_Track], f: FoundLine, look: np.ndarray) -> _Track | None:
    """The open track that found line `f` continues: one at the same place that looks the same, else the
    best-looking one it may have moved from; None for a new line."""
    free = [t for t in open_ if t not in taken and t.light == f.light]
    here = [t for t in free if _same_place(t.path[-1][1], f.box) and _same_look(t.look, look)]
    if here:
        return here[0]
    moved = [t for t in free if moved_to(t.path[-1][1], f.box) and _same_look(t.look, look)]
    return min(moved, key=lambda t: _look_gap(t.look, look), default=None)


def _found_again(t: _Track, g: np.ndarray, box: Box, min_score: float = 0.5) -> Box | None:
    """Where, within a third of a line height of `box`, the track's strokes are again (normalised
    correlation of `ink`s over at least `min_score`); None when they are not there."""
    tmpl = t.ink
    if tmpl is None or tmpl.size == 0 or float(tmpl.std()) < 1.0:
        return None
    m = max(4, (box[3] - box[1]) // 3)
    left, top = max(0, box[0] - m), max(0, box[1] - m)
    here = ink(g, (left, top, box[2] + m, box[3] + m), t.light)
    if here.shape[0] < tmpl.shape[0] or here.shape[1] < tmpl.shape[1]:
        return None
    res = cv2.matchTemplate(here, tmpl, cv2.TM_CCOEFF_NORMED)
    _, score, _, (x, y) = cv2.minMaxLoc(res)
    if score < min_score:
        return None
    return left + x, top + y, left + x + tmpl.shape[1], top + y + tmpl.shape[0]


def _ahead(t: _Track, fi: int, height: int) -> Box | None:
    """Where track `t` should be in frame `fi`: moved on at its own pace (a credit roll), or where it
    was; None when that leaves the frame."""
    (f1, b1) = t.path[-1]
    dy = 0
    if len(t.path) >= 2:
        f0, b0 = t.path[-2]
        dy = round((b1[1] - b0[1]) * (fi - f1) / max(1, f1 - f0))
    box = (b1[0], b1[1] + dy, b1[2], b1[3] + dy)
    return box if box[1] >= 0 and box[3] <= height else None


def _crop(g: np.ndarray, box: Box, size: tuple[int, int]) -> np.ndarray:
    """A `size` (w, h) window of `g` centred on `box` (edge pixels repeated where it leaves the frame)."""
    w, h = size
    cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    x0, y0 = cx - w // 2, cy - h // 2
    padded = cv2.copyMakeBorder(g, h, h, w, w, cv2.BORDER_REPLICATE)
    return padded[y0 + h:y0 + 2 * h, x0 + w:x0 + 2 * w]


def _fused(t: _Track) -> tuple[np.ndarray, FoundLine] | None:
    """The track's crops aligned and fused (`fused_crops`): footage that moved behind the letters fades."""
    return fused_crops(t.crops, t.box, t.light)


def _vote(readings: list[tuple[str, float]]) -> tuple[str, float, int]:
    """The reading most like the others, weighted by confidence: (text, conf, agreeing readings). A
    reading that holds the winner as a piece, about as confident, wins instead: the frames that read
    less lost letters to the footage ("by" where a fused frame read "Directed by"). Pieces of the text
    agree with it."""
    said = [(t, c) for t, c in readings if t]
    if not said:
        return "", 0.0, 0
    def support(t: str) -> float:
        return sum(c * SequenceMatcher(None, t.lower(), u.lower()).ratio() for u, c in said)
    best, conf = max(said, key=lambda tc: (support(tc[0]), len(tc[0]), tc[1]))
    letters = len(line_key(best).replace(" ", ""))
    whole = [(t, c) for t, c in said if c >= conf - 0.03 and is_piece(best, t)   # more letters, not spaces
             and len(line_key(t).replace(" ", "")) >= letters + 2]
    best = max(whole, key=lambda tc: (tc[1], len(tc[0])))[0] if whole else best
    best = rejoined(best, [t for t, _ in said])
    agree = [c for t, c in said if SequenceMatcher(None, best.lower(), t.lower()).ratio() >= 0.8 or is_piece(t, best)]
    return best, round(float(np.mean(agree)), 3), len(agree)


def _clash(a: ScreenLine, b: ScreenLine) -> bool:
    """Whether two lines were at one place at one time: in a frame both were seen in (a roll moves its
    lines), else where each was first seen, while both were on screen."""
    pb = dict(b.path)
    common = [(box, pb[i]) for i, box in a.path if i in pb]
    if common:
        return any(overlap(x, y) > 0.5 for x, y in common)
    return overlap(a.box, b.box) > 0.5 and b.first <= a.last and a.first <= b.last


def _joins(upper: ScreenLine, lower: ScreenLine) -> bool:
    """Whether two lines on screen together read as one (`role_and_name`, in a frame both were seen in)."""
    together = min(upper.last, lower.last) >= max(upper.first, lower.first)
    return together and role_and_name(upper.text, lower.text, *_boxes_together(upper, lower))


def role_and_name(upper: str, lower: str, upper_box: Box, lower_box: Box, labels: bool = True) -> bool:
    """Whether a line and another at the given places read as one: a role with its name below or to its right.
    A role ends in "by", "of", "from" or ":", or is only role words ("Music"), or (with `labels`) is a short
    label in smaller type right above a short line (a credit's label over its name)."""
    words = upper.split()
    role = all(w.lower().strip(":,.") in _ROLE_WORDS for w in words)
    # "Sound design:" waits for its name; "Camera Ilse Marchetti:" is a whole credit whose outline read as ":"
    role = role or (len(words) <= 2 if upper.strip().endswith(":") else bool(_WAITS.search(upper.strip())))
    (l1, t1, r1, b1), (l2, t2, r2, b2) = upper_box, lower_box
    label = labels and b1 - t1 < 0.7 * (b2 - t2) and len(lower.split()) <= 4
    if not (role or label) or len(words) > 5:
        return False
    h = max(b1 - t1, b2 - t2)
    beside = abs((t1 + b1) - (t2 + b2)) / 2 < 0.5 * h and 0 <= l2 - r1 < 12 * h
    below = 0 <= t2 - b1 < 1.6 * h and min(r1, r2) - max(l1, l2) > 0.3 * min(r1 - l1, r2 - l2)
    return below or (beside and role)


def _boxes_together(a: ScreenLine, b: ScreenLine) -> tuple[Box, Box]:
    """The two lines' boxes in one frame both were seen in (a credit roll moves them), else their boxes."""
    pb = dict(b.path)
    common = [(i, box) for i, box in a.path if i in pb]
    return (common[0][1], pb[common[0][0]]) if common else (a.box, b.box)


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
            a = ScreenLine(f"{a.text} {b.text}", min(a.conf, b.conf), box, min(a.first, b.first),
                           max(a.last, b.last), min(a.votes, b.votes))
        out.append(a)
    return out


def read_frames(frames: list[Image.Image | np.ndarray], config: ScreenTextConfig = ScreenTextConfig(),
                votes: int = 3, fuse: int = 5, gap: int = 1) -> list[ScreenLine]:
    """The text lines on screen in a shot's frames (in order), each read up to `votes` times, plus once
    from up to `fuse` of its frames fused (`_fused`), and voted; a track survives `gap` frames in which
    it was not found. A credit roll among the frames (`find_roll`) is read as one: a track per line of it,
    following the roll's motion. A role and its name joined into one line. Frames indices in the result
    index `frames`."""
    open_: list[_Track] = []
    done: list[_Track] = []
    pending: list[_Pending] = []                    # strips cut now, read in one call at the end
    found: list[tuple[FoundLine, np.ndarray, bool]] = []  # lines found, the picture to read each from, hidden
    changed: list[np.ndarray] = []                  # the last `config.fuse_frames` frames that changed
    greys: list[np.ndarray] = []                    # every frame, grey (a roll's canvas is made of them)
    in_frame: list[list[FoundLine]] = []            # the lines a search found in each frame itself
    sig: np.ndarray | None = None
    for fi, frame in enumerate(frames):
        g = grey(frame)
        greys.append(g)
        last_sig, sig = sig, cv2.resize(g, (64, 36), interpolation=cv2.INTER_AREA)
        searched = last_sig is None or _changed(sig, last_sig, config) or _text_moved(found, greys[-2], g)
        if searched:  # an unchanged picture keeps the lines found in it
            changed = (changed + [g])[-config.fuse_frames:] if config.fuse_frames > 1 else []
            fused = lines_in_fused(changed, config) if len(changed) > 1 else []
            in_frame.append(find_lines(g, config))
            found = with_fused(in_frame[-1], g, fused)
        else:
            in_frame.append([])
        still: list[_Track] = []
        seen: list[tuple[_Track, FoundLine, np.ndarray]] = []
        for f, img, hidden in found:
            look = _look(img, f.box, f.light)
            track = _follow(open_, [t for t, _, _ in seen], f, look)
            if track is not None and searched:
                track.hidden = False  # found again by a search of a new picture: it stays, as text does
            # A hidden line, once found again, is read once more than its fused crops are.
            seen.append((track or _Track(f.box, f.light, fi, fi, look, cut=votes - 1 if hidden else 0,
                                         hidden=hidden), f, img))
        # A line the search missed here (footage swallowed some letters) whose strokes are where it was,
        # or where its own motion brings it.
        for t in open_:
            if any(t is u for u, _, _ in seen):
                continue
            box = _ahead(t, fi, g.shape[0])
            box = _found_again(t, g, box) if box is not None else None
            if box is not None:
                seen.append((t, FoundLine(box, t.light, 0), g))
        for track, f, img in seen:
            track.last = fi
            track.ink = ink(g, f.box, track.light)
            track.path.append((fi, f.box))
            still.append(track)
            if track.cut < votes and not track.hidden:  # a hidden line is read once found again
                track.cut += 1
                ss, n_wide = line_strips(img, f, config)
                pending.append((track, ss, strip_place(f, config), f, n_wide))
            if len(track.crops) < fuse and (fi == track.first or searched):
                lh = track.box[3] - track.box[1]
                size = (track.box[2] - track.box[0] + 2 * lh, 2 * lh)
                if not track.crops:
                    track.crop_left = (f.box[0] + f.box[2]) // 2 - size[0] // 2
                track.crops.append(_crop(g, f.box, size))
        # A line missed in one frame (footage swallowed its letters there) is still the same line after.
        waiting = [t for t in open_ if t not in still and fi - t.last <= gap]
        done += [t for t in open_ if t not in still and t not in waiting]
        open_ = still + waiting
    roll = find_roll(in_frame, frames=greys)
    if roll is not None:  # the roll's lines, followed by its motion, stand for the tracks that followed pieces
        rolled = _roll_tracks(greys, roll, votes, config, pending)
        done = rolled + [t for t in done + open_ if not _on_roll(t, rolled)]
        open_ = []
        pending = [p for p in pending if any(p[0] is u for u in done)]
    for t in done + open_:
        fused = None if t.hidden else _fused(t)
        if fused is not None:
            left, scale = strip_place(fused[1], config)
            ss = strips(fused[0], fused[1], config)
            pending.append((t, ss, (t.crop_left + left, scale), None, len(ss)))
    texts = iter(screen_text.read_strips([s for _, ss, _, _, _ in pending for s in ss], config))
    for track, ss, place, line, n_wide in pending:
        read = [next(texts) for _ in ss]
        reading = line_reading(read, n_wide, line, config) if line is not None else best_reading(read)
        track.readings.append(reading)
        words = getattr(reading, "words", ())
        track.words.append(placed(words, *place) if place is not None and reading[0] else ())
    out = []
    for t in sorted(done + open_, key=lambda t: (-_vote(t.readings)[2], -_vote(t.readings)[1])):
        text, conf, n = _vote(t.readings)
        text, words = widened(text, t.words)   # words that other readings add in their places
        # Of two tracks at one place at one time (both polarities of a line, a line and a piece of it),
        # the one whose readings agree most stays, unless it reads as a piece of the other.
        if not _WORDY.search(text) or (n < 2 and (conf < config.single_read_conf or t.last > t.first)):
            continue  # footage read as letters once, or a line whose readings never agree
        line = ScreenLine(text, conf, t.box, t.first, t.last, n, tuple(t.path), words)
        rival = next((i for i, o in enumerate(out) if _clash(line, o)), None)
        if rival is None:
            out.append(line)
        elif is_piece(out[rival].text, text):  # a piece of the line, found on its own, gives way to it
            out[rival] = line
    out = laid_together(out)   # tracks that each followed a part of one line: one line
    # A piece of a line read whole in these frames of the shot ("Editing" of a roll's "Editing Sam Okafor",
    # "Alder Fa" where footage swallowed the rest a moment later) adds no words: the whole line holds them.
    out = [s for s in out if not any(o is not s and is_piece(s.text, o.text, strict=True) for o in out)]
    # A few letters over busy footage ("ate.") are a piece of it read as a word, unless they stay and read
    # alike and surely (a sign, a logo, a score); a role word ("Music") that joined its name is not short.
    return [s for s in _join_roles(out) if len(line_key(s.text).replace(" ", "")) > config.short_letters
            or (s.votes >= config.short_votes and s.conf >= config.short_conf)]


def _roll_tracks(greys: list[np.ndarray], roll: Roll, votes: int, config: ScreenTextConfig,
                 pending: list[_Pending]) -> list[_Track]:
    """A track per line of a credit roll, its path the line's places by the roll's motion; its strips go to
    `pending`: one from the roll's fused canvas, and one from each of `votes` runs of its frames, fused
    (each run's footage fades a little, and differently: readings that err apart)."""
    fused, lines = roll_lines(greys, roll, config)
    out = []
    for f, path in lines:
        t = _Track(path[0][1], f.light, path[0][0], path[-1][0], np.zeros((6, 48), np.float32), cut=votes,
                   path=list(path))
        lh = f.box[3] - f.box[1]
        size = (f.box[2] - f.box[0] + 2 * lh, 2 * lh)
        for run in np.array_split(np.arange(len(path)), min(votes, len(path))):
            crops = [_crop(greys[path[k][0]], path[k][1], size) for k in run]
            one = fused_crops(crops, f.box, f.light) if len(crops) > 1 else None
            img, line = one if one is not None else (greys[path[run[0]][0]], FoundLine(path[run[0]][1], f.light, 0))
            ss = strips(img, line, config)
            pending.append((t, ss, None, None, len(ss)))   # a roll's line moves: its words unplaced
        ss = strips(fused, f, config)
        pending.append((t, ss, None, None, len(ss)))
        out.append(t)
    return out


def _on_roll(t: _Track, rolled: list[_Track]) -> bool:
    """Whether a track followed (a piece of) a roll's line: in most frames it was seen in, it lay on one."""
    places = {fi: [box for r in rolled for i, box in r.path if i == fi] for fi, _ in t.path}
    on = sum(any(overlap(box, r) > 0.5 for r in places[fi]) for fi, box in t.path)
    return on * 2 > len(t.path)
