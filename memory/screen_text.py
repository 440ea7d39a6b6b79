"""Video text in one frame: find the lines of text, make each a clean strip, read all strips at once.

Credits, title cards, lower thirds and end cards sit over moving, coloured footage in small or
light-on-dark type, where tesseract's own binarisation and page layout on the whole frame lose
lines. Here the frame is searched for text first: a morphological top-hat (kernel wider than a
letter stroke) keeps thin light strokes ("light") or thin dark strokes ("dark") and drops the
backgrounds around them; connected components of letter size that sit side by side at the same
height become line boxes. Each line is cut out of the full-resolution grey frame, its own top-hat
taken (so light-on-dark becomes black on white and the footage behind it becomes white), scaled to
the line height tesseract reads best, in a few cleanings, and every strip of the frame is read as
one line (`--psm 7`) by a single tesseract process. A frame in which no line is found costs no
tesseract call.

`memory.screen_text_shot.read_frames` reads a shot's frames with this, voting across frames.
"""
from __future__ import annotations

import os
import re
from collections.abc import ItemsView, Iterator, Mapping
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from memory.screen_text_extend import widened_box
from memory.screen_text_words import Reading, Word, unglued, without_stray_ends

Box = tuple[int, int, int, int]  # left, top, right, bottom in the frame's pixels


@dataclass(frozen=True)
class ScreenTextConfig:
    """How text lines are found, cleaned and read (chosen by measurement: bench/ocr_recall.py)."""

    work_height: int = 720          # lines are searched for in the grey frame scaled to at most this height
    stroke_kernel: float = 1 / 24   # top-hat kernel (fraction of the work height): wider than any stroke of text
    min_contrast: int = 40          # a stroke stands this many grey levels (0-255) above/below its surroundings
    levels: tuple[int, ...] = (40, 100, 160)  # stroke masks cut at each of these contrasts: bright text over
                                              # bright footage separates from it only at the higher cuts
    min_char_px: int = 6            # letters shorter than this (work pixels) are noise, not text
    max_char_frac: float = 0.16     # letters taller than this fraction of the work height are not text
    min_chars: int = 3              # a line holds at least this many letter-like components
    baseline_share: float = 0.6     # at least this share of a line's letters end on its baseline
    line_gap: float = 1.2           # letters join a line when the gap is under this many letter heights
    row_gap: float = 1.2            # pieces of a row closer than this many line heights are one line
    max_lines: int = 24             # at most this many lines read per frame (the most letter-like first)
    edge_px: int = 3                # a line this close (work pixels) to the frame's top or bottom is cut by
                                    # it (a credit roll entering or leaving): its letters are read in pieces
    line_px: int = 44               # each strip is scaled so its line is this tall (tesseract likes ~30 px caps)
    pad: float = 0.35               # margin kept above and below a line, as a fraction of its height
    pad_x: float = 0.8              # margin kept left and right of a line, as a fraction of its height: the
                                    # search may miss a first or last letter that touches bright footage
    psm: int = 7                    # each strip is read as one line of text
    min_conf: float = 0.5           # words below this confidence (0..1) are dropped
    min_line_conf: float = 0.6      # lines whose mean word confidence is below this are dropped
    variants: tuple[str, ...] = ("strokes", "ink", "plain", "tight", "fill")  # strips read per line (`strips`)
    ink_range: int = 45             # "ink" strips: pixels within this many grey levels of the darkest are text
    tight_range: int = 15           # "tight" strips: the same, this close: light text over light footage,
    tight_contrast: int = 110       # cut only where the ground is within this many grey levels of the ink
    tight_min_ink: float = 0.05     # and only where at least this share of its pixels are ink (letters)
    fill_max_ink: float = 0.4       # "fill" strips: at most this share at the fill's level (more: a pale band)
    still_level: int = 24           # a frame is unchanged since the last when under `still_share` of its
    still_share: float = 0.004      # 64x36 signature's pixels moved by more than `still_level` grey levels
    single_read_conf: float = 0.85  # a line read in only one frame of a shot must be at least this confident
    short_letters: int = 5          # a line of at most this many letters and digits ("ate.", "Sow") is footage
    short_votes: int = 3            # read as letters unless this many readings agree on it and their mean
    short_conf: float = 0.9         # confidence is at least this (a logo, a sign, a score stays and reads so)
    fuse_frames: int = 3            # lines are also searched in the fusion of a shot's last this many changed
                                    # frames (`memory.screen_text_fuse`): still text over moving footage; 0: off
    lang: str = "eng"               # tesseract language pack


@dataclass(frozen=True)
class FoundLine:
    """A line of text found in a frame, before it is read."""

    box: Box            # in the frame's pixels
    light: bool         # light text on a darker ground (it is inverted before reading)
    chars: int          # letter-like components in it (how text-like it is)
    core: Box | None = None  # the box the search found, where `box` is it widened (`widened_box`)


@dataclass(frozen=True)
class ReadLine:
    """A line read in one frame."""

    box: Box
    text: str           # "" when nothing was read confidently
    conf: float         # mean word confidence, 0..1


class _TesseractEnv(Mapping[str, str]):
    """Our process's environment as it is now, plus OMP_THREAD_LIMIT=1 (unless the user set one)."""

    def _merged(self) -> dict[str, str]:
        return {"OMP_THREAD_LIMIT": "1", **os.environ}

    def __getitem__(self, key: str) -> str:
        return self._merged()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())

    def items(self) -> ItemsView[str, str]:  # what Popen reads: one merge, not one per key
        return self._merged().items()


def one_thread_tesseract() -> None:
    """One OpenMP thread per tesseract process (several processes use the cores better than one).

    Only tesseract's environment gets the limit. Setting it in os.environ would reach every process
    started later (index workers) and any OpenMP runtime that starts later in this one: with it,
    faster-whisper transcribed nothing (0 segments) for every video indexed after an OCR pass.
    pytesseract passes its module-level `environ` to Popen, so that name gets the overlay.
    """
    import pytesseract.pytesseract as pt

    if not isinstance(getattr(pt, "environ", None), _TesseractEnv):
        pt.environ = _TesseractEnv()


def grey(image: Image.Image | np.ndarray) -> np.ndarray:
    """The picture as a grey uint8 array [h, w]."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"))
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image


def _work(g: np.ndarray, config: ScreenTextConfig) -> tuple[np.ndarray, float]:
    """The grey frame at the search resolution and the factor from it back to the frame."""
    scale = min(1.0, config.work_height / g.shape[0])
    if scale >= 1.0:
        return g, 1.0
    w = cv2.resize(g, (round(g.shape[1] * scale), round(g.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return w, 1.0 / scale


def _strokes(g: np.ndarray, k: int, light: bool) -> np.ndarray:
    """Thin light (white top-hat) or thin dark (black top-hat) structures of a grey image."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    return cv2.morphologyEx(g, cv2.MORPH_TOPHAT if light else cv2.MORPH_BLACKHAT, kernel)


def _lines_of(mask: np.ndarray, config: ScreenTextConfig, light: bool, back: float) -> list[FoundLine]:
    """Letter-sized components of a stroke mask grouped into lines (boxes scaled back to the frame)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    max_h = config.max_char_frac * mask.shape[0]
    fill = area / np.maximum(1, w * h)
    solid = (fill >= 0.95) & (w > 0.5 * h)  # a block, not a letter (a thin bar is an l, I or 1)
    ok = (h >= config.min_char_px) & (h <= max_h) & (fill > 0.08) & ~solid & (area >= 8) & (w <= 8 * h)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return []
    # Each letter's box widened by the allowed gap, and thinned vertically so lines above and below
    # stay apart: letters of one line overlap and join into one component of the line mask.
    joined = np.zeros(mask.shape, np.uint8)
    for i in idx:
        gap = int(config.line_gap * h[i])
        cv2.rectangle(joined, (int(x[i]) - gap // 2, int(y[i] + h[i] * 0.25)),
                      (int(x[i] + w[i]) + gap // 2, int(y[i] + h[i] * 0.75)), 255, -1)
    m, labels = cv2.connectedComponents(joined, connectivity=4)
    owner = labels[(y[idx] + h[idx] // 2).clip(0, mask.shape[0] - 1), (x[idx] + w[idx] // 2).clip(0, mask.shape[1] - 1)]
    out = []
    for line in range(1, m):
        members = idx[owner == line]
        if members.size < config.min_chars:
            continue
        # Letters of one line are of about one height: a blob of footage joined to it is not a letter.
        mid = np.median(h[members])
        members = members[(h[members] >= 0.4 * mid) & (h[members] <= 1.8 * mid)]
        if members.size < config.min_chars:
            continue
        left, top = x[members].min(), y[members].min()
        right, bottom = (x[members] + w[members]).max(), (y[members] + h[members]).max()
        if right - left < 1.5 * (bottom - top) or bottom - top > 2.0 * mid:
            continue  # not a row: footage stacked in several rows, or a blob
        # Letters stand on one baseline (descenders aside); pieces of footage rarely line up so.
        base = y[members] + h[members]
        if np.mean(np.abs(base - np.median(base)) <= 0.2 * mid) < config.baseline_share:
            continue
        if top < config.edge_px or bottom > mask.shape[0] - config.edge_px:
            continue  # cut by the frame's edge
        box = (int(left * back), int(top * back), int(right * back), int(bottom * back))
        out.append(FoundLine(box, light, int(members.size)))
    return out


def overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1, min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])))


def light_text(g: np.ndarray, box: Box) -> bool:
    """Whether the text in a line box is lighter than its ground: of the two Otsu classes of the
    box, the ground is the one its edges mostly fall in (letters rarely touch the margin)."""
    left, top, right, bottom = box
    pad = max(2, (bottom - top) // 4)
    crop = g[max(0, top - pad):bottom + pad, max(0, left - pad):right + pad]
    if crop.size == 0:
        return True
    _, b = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    edge = np.concatenate([b[0], b[-1], b[:, 0], b[:, -1]])
    return float(edge.mean()) < 0.5


def find_lines(g: np.ndarray, config: ScreenTextConfig = ScreenTextConfig(),
               polarities: tuple[bool, ...] = (True, False)) -> list[FoundLine]:
    """The lines of text in a grey frame, top to bottom; [] when there is no text. `polarities`: light
    text (True), dark text (False) or both.

    Where a light and a dark line cover the same place (a letter and its outline or shadow), the
    one whose polarity agrees with the box's own ground (`light_text`) is kept, then the one with
    more letter-like components.
    """
    work, back = _work(g, config)
    k = max(9, round(work.shape[0] * config.stroke_kernel)) | 1
    found: list[FoundLine] = []
    for light in polarities:
        strokes = _strokes(work, k, light)
        for level in config.levels:
            found += _lines_of((strokes >= level).astype(np.uint8), config, light, back)
    found.sort(key=lambda f: (light_text(g, f.box) != f.light, -f.chars))
    kept: list[FoundLine] = []
    for f in found:
        if all(overlap(f.box, k_.box) < 0.5 for k_ in kept):
            kept.append(f)
    kept.sort(key=lambda f: (f.box[1], f.box[0]))
    # A first or last word over lighter footage stood out too little to be searched: its letters are at the
    # line's ink level beside the box.
    out = []
    for f in _merge_rows(kept, config)[:config.max_lines]:
        box = widened_box(g, f.box, f.light, config.tight_range)
        out.append(FoundLine(box, f.light, f.chars, f.box if box != f.box else None))
    return out


def _merge_rows(lines: list[FoundLine], config: ScreenTextConfig) -> list[FoundLine]:
    """Pieces of one line (split where footage broke a letter or widened a word gap) made one line:
    same polarity, same height band, a gap under `config.row_gap` line heights."""
    out: list[FoundLine] = []
    for f in sorted(lines, key=lambda f: f.box[0]):
        for i, o in enumerate(out):
            (l1, t1, r1, b1), (l2, t2, r2, b2) = o.box, f.box
            h = max(b1 - t1, b2 - t2)
            if o.light == f.light and abs((t1 + b1) - (t2 + b2)) / 2 < 0.3 * h and l2 - r1 < config.row_gap * h:
                out[i] = FoundLine((min(l1, l2), min(t1, t2), max(r1, r2), max(b1, b2)), f.light, o.chars + f.chars)
                break
        else:
            out.append(f)
    return sorted(out, key=lambda f: (f.box[1], f.box[0]))


def strips(g: np.ndarray, line: FoundLine, config: ScreenTextConfig = ScreenTextConfig()) -> list[np.ndarray]:
    """The line cut from the grey frame as black text on white, its line `config.line_px` tall, once per
    variant in `config.variants`: "strokes" (the crop's own top-hat: the footage behind the letters
    becomes flat white), "ink" (only the pixels near the letters' own level: an outline, a shadow and
    bright or dark footage drop out), "tight" (the same, closer to the letters' level: white type over
    pale concrete or sunlit leaves, which "ink" keeps as black blots) and "plain" (the crop, inverted for
    light text and contrast-stretched: shadowed letters, whose shadow the top-hat turns into a grey halo),
    "fill" (a dark line's lightest pixels: white letters outlined in black, which "ink" reads hollow).
    """
    left, top, right, bottom = line.box
    lh = bottom - top
    pad, pad_x = max(2, round(lh * config.pad)), max(2, round(lh * config.pad_x))
    crop = g[max(0, top - pad):bottom + pad, max(0, left - pad_x):right + pad_x]
    scale = config.line_px / max(1, lh)
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                      interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    out = []
    for variant in config.variants:
        if variant == "strokes":
            k = max(9, round(config.line_px * 0.6)) | 1
            s = _strokes(crop, k, line.light).astype(np.float32)
            top_level = max(float(config.min_contrast), float(np.percentile(s, 99)))
            out.append((255 - np.clip(s * (255.0 / top_level), 0, 255)).astype(np.uint8))
        elif variant in ("ink", "tight", "fill"):  # the letters' own ink level: subtitles and credits are drawn
            if variant == "fill" and line.light:         # near white (or black); footage rarely reaches it
                continue
            c = (255 - crop) if line.light or variant == "fill" else crop
            ink = float(np.percentile(c, 1))
            strip = np.where(c <= ink + (config.ink_range if variant == "ink" else config.tight_range), 0, 255)
            share, most = float((strip == 0).mean()), config.fill_max_ink if variant == "fill" else 1.0
            if variant != "ink" and (float(np.median(c)) - ink >= config.tight_contrast  # "ink" separates it
                                     or not config.tight_min_ink <= share <= most):  # specks, or a pale band
                continue
            out.append(strip.astype(np.uint8))
        elif variant == "plain":
            c = (255 - crop) if line.light else crop
            lo, hi = np.percentile(c, (1, 99))
            out.append(np.clip((c.astype(np.float32) - lo) * (255.0 / max(1.0, hi - lo)), 0, 255).astype(np.uint8))
        else:
            raise ValueError(f"unknown strip variant {variant!r} (strokes, ink, tight, plain, fill)")
    return out


_WORDY = re.compile(r"[^\W_]{2,}|\d")  # a line needs a real word or a number, not just | — ~ .
_ALNUM = re.compile(r"[^\W_]")          # a word holds a letter or a digit


def read_strips(strips: list[np.ndarray], config: ScreenTextConfig = ScreenTextConfig()) -> list[Reading]:
    """The `Reading` of each strip, from one tesseract process; ("", 0.0) where nothing was read confidently.

    Each strip is its own page, read as a single line (`config.psm`), from a list file: one process
    start for the lot, and no strip's layout disturbs another's (a stack of strips read as one block
    loses words at the strips' ends).
    """
    import tempfile

    import pytesseract

    if not strips:
        return []
    one_thread_tesseract()
    with tempfile.TemporaryDirectory(prefix="citeclip-ocr-") as tmp:
        names = []
        for i, strip in enumerate(strips):
            names.append(f"{tmp}/{i}.png")
            cv2.imwrite(names[-1], strip)
        listing = f"{tmp}/pages.txt"
        with open(listing, "w") as f:
            f.write("\n".join(names) + "\n")
        data = pytesseract.image_to_data(listing, lang=config.lang,
                                         config=f"--psm {config.psm} -c tessedit_do_invert=0",
                                         output_type=pytesseract.Output.DICT)
    words: list[list[Word]] = [[] for _ in strips]
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        conf = float(data["conf"][i]) / 100.0
        page = int(data["page_num"][i]) - 1
        if word and conf >= config.min_conf and 0 <= page < len(strips):
            words[page].append((data["left"][i], word, conf, data["left"][i] + data["width"][i]))
    out = []
    for ws in words:
        ws.sort()
        while ws and not _ALNUM.search(ws[0][1]):   # an edge of the footage at a strip's end read as "|" or "~"
            ws.pop(0)
        while ws and not _ALNUM.search(ws[-1][1]):
            ws.pop()
        ws = unglued(without_stray_ends(ws))
        text = " ".join(w[1] for w in ws)
        conf = float(np.mean([w[2] for w in ws])) if ws else 0.0
        ok = conf >= config.min_line_conf and _WORDY.search(text)
        out.append(Reading(text, round(conf, 3), tuple(ws)) if ok else Reading("", 0.0))
    return out


def strip_place(line: FoundLine, config: ScreenTextConfig = ScreenTextConfig()) -> tuple[float, float]:
    """Where `strips` cuts a line's strips from its picture: (the strip's left edge in the picture's pixels,
    the strip's pixels per picture pixel), so a strip's x is `left + x / scale` in the picture."""
    left, top, right, bottom = line.box
    lh = bottom - top
    return float(max(0, left - max(2, round(lh * config.pad_x)))), config.line_px / max(1, lh)


def best_reading(readings: list[tuple[str, float]]) -> tuple[str, float]:
    """Of one line's readings (one per strip variant), the one with the most confident words in all:
    a cleaning that loses a word to the footage reads the rest a little more confidently."""
    return max(readings, key=lambda tc: (tc[1] * len(tc[0].split()), tc[1]))


def read_lines(g: np.ndarray, found: list[FoundLine], config: ScreenTextConfig = ScreenTextConfig()) -> list[ReadLine]:
    """Each found line read once per strip variant in one tesseract call; the best reading of each line
    is kept (`best_reading`; text "" where no variant was read confidently), of a widened line's strips
    the widened ones only where they read better (`memory.screen_text_widen`)."""
    from memory.screen_text_widen import line_reading, line_strips  # it builds on this module's strips

    cut = [line_strips(g, f, config) for f in found]
    texts = iter(read_strips([s for ss, _ in cut for s in ss], config))
    out = []
    for f, (ss, n_wide) in zip(found, cut):
        text, conf = line_reading([next(texts) for _ in ss], n_wide, f, config)
        out.append(ReadLine(f.box, text, conf))
    return out


def read_frame(image: Image.Image | np.ndarray, config: ScreenTextConfig = ScreenTextConfig()) -> list[ReadLine]:
    """The lines of text in one picture, top to bottom (no tesseract call when none is found)."""
    g = grey(image)
    return dedupe([r for r in read_lines(g, find_lines(g, config), config) if r.text])


def dedupe(lines: list[ReadLine]) -> list[ReadLine]:
    """Of lines read at one place (both polarities of one line), the most confident; top to bottom."""
    kept: list[ReadLine] = []
    for r in sorted(lines, key=lambda r: -r.conf):
        if all(overlap(r.box, k.box) < 0.5 for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: (r.box[1], r.box[0]))
