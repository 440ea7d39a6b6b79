"""Credit rolls: text that moves up (or down) the screen at a constant speed, read as one still picture.

A roll's lines keep their columns, size and spacing and all move by the same amount between samples, so
the lines found in consecutive samples pair up (same columns, same size) with one common vertical move;
`find_roll` finds that move and fits the roll's speed to every line it followed. Knowing the speed, each
sample is shifted back by the roll's motion onto a tall canvas where the roll stands still and the
footage behind it moves: fused there (the darkest of each pixel for light text, the lightest for dark,
as `memory.screen_text_fuse` does for still text), the footage fades and every line of the roll is whole
in one picture, however the samples cut it. `roll_lines` finds the roll's lines on that canvas and says
where each one was in every sample that shows it whole: a track that follows the line by its motion.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from memory.screen_text import Box, FoundLine, ScreenTextConfig, find_lines


@dataclass(frozen=True)
class RollConfig:
    """How a credit roll is told from still text and footage."""

    min_moves: int = 3      # a roll: at least this many line moves between samples agree on one speed ...
    min_pairs: int = 2      # ... found between at least this many pairs of samples
    min_chars: int = 6      # lines followed to find a roll hold this many letter-like components (a credit
                            # does; pieces of footage that pair up across samples seldom do)
    min_speed: float = 0.2  # a move of at least this many line heights per sample (less: still text, jitter)
    agree: float = 0.2      # moves within this many line heights of each other are one speed
    band: float = 1.0       # the roll's columns, widened by this many line heights each side
    min_cover: int = 2      # a line on the canvas is seen whole in at least this many samples
    reach: int = 2          # a roll's line is where its motion brings it this many samples before and after
                            # the stretch it was found moving in (its lines enter and leave there)
    still_there: float = 0.5  # outside the stretch it was found moving in, a roll's line is where its motion
                              # brings it when its strokes correlate with the canvas's this well
    register: float = 0.4     # a line's move between two samples measured by registering it with its
                              # surroundings counts when the strokes correlate this well (`registered_roll`;
                              # footage moving behind the letters keeps it well under 1)
    register_scale: float = 1.0  # lines are registered at this fraction of the frame's resolution


@dataclass(frozen=True)
class Roll:
    """A credit roll in a run of samples."""

    first: int          # index of the first sample it moved in
    last: int           # index of the last sample it moved in
    speed: float        # vertical move per sample in frame pixels (negative: up the screen)
    light: bool         # light text on darker footage
    left: int           # the columns its lines stand in (frame pixels)
    right: int

    def offset(self, i: int) -> int:
        """How far sample `i` is shifted down onto the canvas (the roll's motion since its first sample)."""
        return round(-self.speed * (i - self.first)) + self.pad

    @property
    def pad(self) -> int:
        """Canvas rows above the first sample's top: a roll moving down needs room above it."""
        return max(0, round(self.speed * (self.last - self.first)))


def same_size(a: Box, b: Box) -> bool:
    """Whether two line boxes are of about one height and one width."""
    ha, hb = a[3] - a[1], b[3] - b[1]
    return 0.75 < ha / max(1, hb) < 1.33 and abs((a[2] - a[0]) - (b[2] - b[0])) < 0.25 * max(a[2] - a[0], b[2] - b[0])


def moved_to(a: Box, b: Box) -> bool:
    """Whether `b` may be line `a` moved up or down (a credit roll): same columns, same size."""
    w = max(a[2] - a[0], b[2] - b[0])
    return abs(a[0] - b[0]) < 0.08 * w and abs(a[2] - b[2]) < 0.08 * w and same_size(a, b)


def ink(g: np.ndarray, box: Box, light: bool) -> np.ndarray:
    """The strokes (top-hat, kernel a line height wide) of a picture inside `box` (clipped to the
    picture): letters stay, the footage's broad shapes go."""
    h = max(3, box[3] - box[1])
    m = h // 2
    top, left = max(0, box[1] - m), max(0, box[0] - m)
    region = g[top:box[3] + m, left:box[2] + m]
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, ((h | 1), (h | 1)))
    s = cv2.morphologyEx(region, cv2.MORPH_TOPHAT if light else cv2.MORPH_BLACKHAT, kernel)
    return s[max(0, box[1]) - top:box[3] - top, max(0, box[0]) - left:box[2] - left].astype(np.float32)


def _stayed(a: Box, b: Box) -> bool:
    """Whether `b` is line `a` where it was (within a pixel or two, as a still line is found again)."""
    tol = max(2, (a[3] - a[1]) // 10)
    return all(abs(p - q) <= tol for p, q in zip(a, b))


Move = tuple[int, FoundLine, FoundLine]  # sample index, the line there, the line it became in the next sample


def _moves(found: list[list[FoundLine]], config: RollConfig) -> list[Move]:
    """Every pair of lines in consecutive samples that may be one line moved vertically."""
    out = []
    for i in range(len(found) - 1):
        for a in found[i]:
            h = a.box[3] - a.box[1]
            if a.chars < config.min_chars or any(_stayed(a.box, c.box) for c in found[i + 1]):
                continue  # (a still line pairs with the line under it when both are about as wide)
            out += [(i, a, b) for b in found[i + 1] if b.light == a.light and b.chars >= config.min_chars
                    and moved_to(a.box, b.box) and abs(b.box[1] - a.box[1]) >= config.min_speed * h]
    return out


def _dy(m: Move) -> int:
    return m[2].box[1] - m[1].box[1]


def _fitted_speed(moves: list[Move]) -> float:
    """The roll's speed fitted to whole tracks: moves chained where one's end is the next one's start, each
    chain's tops regressed on the sample index together (boxes found a pixel apart average out over a
    track, where one move's error would grow with every sample)."""
    nxt = {(i, id(a)): (i + 1, b) for i, a, b in moves}
    starts = {(i + 1, id(b)) for i, _, b in moves}
    num = den = 0.0
    for i, a, _ in moves:
        if (i, id(a)) in starts:
            continue
        pts = [(i, a.box[1])]
        key = (i, id(a))
        while key in nxt:
            j, line = nxt.pop(key)
            pts.append((j, line.box[1]))
            key = (j, id(line))
        ks, ys = np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)
        num += float(((ks - ks.mean()) * (ys - ys.mean())).sum())
        den += float(((ks - ks.mean()) ** 2).sum())
    return num / den if den else float(np.median([_dy(m) for m in moves]))


def _weight(moves: list[Move]) -> int:
    """How much text a set of moves carries: footage pieces that pair up hold few letter-like components."""
    return sum(min(a.chars, b.chars) for _, a, b in moves)


def find_roll(found: list[list[FoundLine]], config: RollConfig = RollConfig(),
              frames: list[np.ndarray] | None = None) -> Roll | None:
    """The credit roll in a run of samples, from the lines found in each (`find_lines`); None when no
    lines move together at one speed. With the samples' grey `frames`, a roll found so is measured again by
    registering its lines from sample to sample (`registered_roll`) where that is sure: lines that move by
    about a multiple of their spacing per sample pair with the wrong neighbours, a line's picture with its
    surroundings does not."""
    moves = _moves(found, config)
    best: list[Move] = []
    for m in moves:
        tol = config.agree * (m[1].box[3] - m[1].box[1])
        agree = [o for o in moves if abs(_dy(o) - _dy(m)) <= tol and o[1].light == m[1].light]
        # one line of a sample moves once: of two moves from it, the one nearest this speed
        by_start: dict[tuple[int, int], Move] = {}
        for o in agree:
            k = (o[0], id(o[1]))
            if k not in by_start or abs(_dy(o) - _dy(m)) < abs(_dy(by_start[k]) - _dy(m)):
                by_start[k] = o
        agree = list(by_start.values())
        if _weight(agree) > _weight(best):
            best = agree
    if len(best) < config.min_moves or len({i for i, _, _ in best}) < config.min_pairs:
        return None
    light = sum(a.light for _, a, _ in best) * 2 >= len(best)
    roll = Roll(min(i for i, _, _ in best), max(i for i, _, _ in best) + 1, _fitted_speed(best), light,
                min(min(a.box[0], b.box[0]) for _, a, b in best), max(max(a.box[2], b.box[2]) for _, a, b in best))
    if frames is not None:
        roll = registered_roll(frames, moves, roll.light, config) or roll
    return roll


def register_band(a: np.ndarray, b: np.ndarray, band: Box, light: bool, scale: float = 1.0) -> tuple[float, float]:
    """(vertical move, correlation) of the text in `band` of picture `a` to where it is in picture `b`, by
    normalised correlation of their strokes (`ink`) over the band's columns. The band's whole picture is
    registered (a line with what lies above and below it), so lines alike in size and spacing do not stand
    in for each other; picture `b` is padded so a band that partly leaves it is still found."""
    h = a.shape[0]
    left, right = max(0, band[0]), min(a.shape[1], band[2])
    tmpl = ink(a, (left, max(0, band[1]), right, min(h, band[3])), light)
    m = max(4, (band[3] - band[1]) // 8)
    wide = ink(b, (max(0, left - m), 0, min(b.shape[1], right + m), h), light)
    if scale != 1.0:
        tmpl, wide = (cv2.resize(x, (max(1, round(x.shape[1] * scale)), max(1, round(x.shape[0] * scale))),
                                 interpolation=cv2.INTER_AREA) for x in (tmpl, wide))
    if float(tmpl.std()) < 1.0 or tmpl.shape[1] > wide.shape[1]:
        return 0.0, 0.0
    pad = tmpl.shape[0]
    wide = cv2.copyMakeBorder(wide, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=0.0)
    res = cv2.matchTemplate(wide, tmpl, cv2.TM_CCOEFF_NORMED)
    _, score, _, (_, y) = cv2.minMaxLoc(res)
    return (y - pad) / scale - max(0, band[1]), float(score)


def registered_roll(frames: list[np.ndarray], moves: list[Move], light: bool,
                    config: RollConfig = RollConfig()) -> Roll | None:
    """The roll by registration: each line that may have moved (`_moves`), with half a line height around
    it, registered in the next sample (`register_band`); the move most of the sure registrations agree on
    (weighted by their letters) is the roll's, and the lines that made it its stretch and columns. None
    when too few agree."""
    regs: list[tuple[int, FoundLine, float]] = []
    for i, a in {(i, id(a)): (i, a) for i, a, _ in moves if a.light == light}.values():
        left, top, right, bottom = a.box
        h = bottom - top
        dy, score = register_band(frames[i], frames[i + 1], (left - h, top - h // 2, right + h, bottom + h // 2),
                                  light, config.register_scale)
        if score >= config.register and config.min_speed * h <= abs(dy) < frames[i].shape[0] / 2:
            regs.append((i, a, dy))
    best: list[tuple[int, FoundLine, float]] = []
    for _, a, dy in regs:
        agree = [r for r in regs if abs(r[2] - dy) <= config.agree * (a.box[3] - a.box[1])]
        if sum(r[1].chars for r in agree) > sum(r[1].chars for r in best):
            best = agree
    if len(best) < config.min_moves or len({i for i, _, _ in best}) < config.min_pairs:
        return None
    return Roll(min(i for i, _, _ in best), max(i for i, _, _ in best) + 1, float(np.median([r[2] for r in best])),
                light, min(a.box[0] for _, a, _ in best), max(a.box[2] for _, a, _ in best))


def canvas(frames: list[np.ndarray], roll: Roll) -> tuple[np.ndarray, np.ndarray]:
    """The roll's samples shifted back by its motion and fused (darkest pixel for light text, lightest for
    dark) on one tall canvas, and how many samples cover each canvas row."""
    h, w = frames[0].shape
    height = h + abs(roll.offset(roll.last) - roll.offset(roll.first))
    fill = 255 if roll.light else 0
    out = np.full((height, w), fill, np.uint8)
    cover = np.zeros(height, np.int32)
    pick = np.minimum if roll.light else np.maximum
    for i in range(roll.first, roll.last + 1):
        y = roll.offset(i)
        out[y:y + h] = pick(out[y:y + h], frames[i])
        cover[y:y + h] += 1
    return out, cover


def _canvas_config(config: ScreenTextConfig, frame_h: int, canvas_h: int) -> ScreenTextConfig:
    """The line search's settings for the tall canvas: searched at the frames' scale, not squeezed into the
    frame's work height, with letter-size limits and kernels as in one frame."""
    work = min(config.work_height, frame_h)
    tall = round(canvas_h * work / frame_h)
    ratio = work / tall
    return replace(config, work_height=tall, stroke_kernel=config.stroke_kernel * ratio,
                   max_char_frac=config.max_char_frac * ratio, max_lines=4 * config.max_lines)


def roll_rows(lines: list[FoundLine], roll: Roll) -> list[FoundLine]:
    """A roll's lines on its canvas as whole rows: pieces of one row (words the line search split where a
    wide word gap or an outlined letter broke the chain) made one line, each as wide as the roll's
    columns, so the crop holds the whole row however much of it the search found."""
    rows: list[FoundLine] = []
    for f in sorted(lines, key=lambda f: f.box[0]):
        if f.box[2] <= roll.left or f.box[0] >= roll.right:
            rows.append(f)  # footage beside the roll: `roll_lines` drops it
            continue
        for i, o in enumerate(rows):
            (l1, t1, r1, b1), (l2, t2, r2, b2) = o.box, f.box
            if o.light == f.light and min(b1, b2) - max(t1, t2) >= 0.5 * min(b1 - t1, b2 - t2) and r1 > roll.left:
                rows[i] = FoundLine((l1, min(t1, t2), r1, max(b1, b2)), f.light, o.chars + f.chars)
                break
        else:
            rows.append(FoundLine((min(f.box[0], roll.left), f.box[1], max(f.box[2], roll.right), f.box[3]),
                                  f.light, f.chars))
    return sorted(rows, key=lambda f: (f.box[1], f.box[0]))


def _still_there(strokes: np.ndarray, g: np.ndarray, box: Box, light: bool, config: RollConfig) -> bool:
    """Whether a roll's line (its strokes on the canvas) is at `box` in a frame outside the stretch the roll
    was found moving in: it entered or went on rolling where the search did not pair its lines."""
    here = ink(g, box, light)
    if here.shape != strokes.shape or float(here.std()) < 1.0 or float(strokes.std()) < 1.0:
        return False
    return float(cv2.matchTemplate(here, strokes, cv2.TM_CCOEFF_NORMED).max()) >= config.still_there


def roll_lines(frames: list[np.ndarray], roll: Roll, config: ScreenTextConfig = ScreenTextConfig(),
               roll_config: RollConfig = RollConfig()) -> tuple[np.ndarray, list[tuple[FoundLine, list[tuple[int, Box]]]]]:
    """The fused canvas of a roll and its lines: each line's box on the canvas and where it was, by the roll's
    motion, in every sample that shows it whole (within `reach` samples of the stretch the roll was found
    moving in, or where its strokes are found again)."""
    h = frames[0].shape[0]
    fused, cover = canvas(frames, roll)
    lines = roll_rows(find_lines(fused, _canvas_config(config, h, fused.shape[0]), polarities=(roll.light,)), roll)
    out = []
    for f in lines:
        left, top, right, bottom = f.box
        lh = bottom - top
        band = roll_config.band * lh
        if left < roll.left - band or right > roll.right + band or int(cover[top:bottom].min()) < roll_config.min_cover:
            continue  # footage beside the roll, or a line only one sample saw
        strokes = ink(fused, f.box, f.light)
        path = []
        for i in range(len(frames)):
            y = top - roll.offset(i)
            box = (left, y, right, y + lh)
            if config.edge_px <= y and y + lh <= h - config.edge_px and (
                    roll.first - roll_config.reach <= i <= roll.last + roll_config.reach
                    or _still_there(strokes, frames[i], box, f.light, roll_config)):
                path.append((i, box))
        if len(path) >= roll_config.min_cover:
            out.append((f, path))
    return fused, out
