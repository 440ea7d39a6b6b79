"""Temporal fusion: text that stays still while the footage behind it moves, made to stand out.

Credits and titles are often plain white type over bright, moving footage (lit windows, sky, water),
where no single frame separates every letter from the footage around it. Over several frames the
letters stay where they are while the footage moves: the per-pixel minimum of the frames keeps light
letters light and darkens everything that changed; the per-pixel maximum does the same for dark
letters. `fuse` does this for a stack of pictures (a track's crops, aligned first, or whole frames of a
shot); `lines_in_fused` searches the fused frames for lines the single frames hide, and
`with_fused` merges those with the lines found in the frame itself.
"""
from __future__ import annotations

import cv2
import numpy as np

from memory.screen_text import Box, FoundLine, ScreenTextConfig, find_lines, light_text, overlap


WIDER = 1.25  # a line found in a fusion replaces a frame's line at its place when this many times as wide


def fuse(images: list[np.ndarray], light: bool, max_shift: float = 0.0) -> np.ndarray:
    """The pixel-by-pixel darkest (light text) or lightest (dark text) of same-sized grey pictures.

    With `max_shift` > 0 each picture is first aligned on the first by phase correlation, when the
    shift found is at most `max_shift` pixels (a line's boxes found a pixel or two apart); a larger
    shift is the footage moving, not the text, and the picture is taken as it is.
    """
    stack = [images[0]]
    ref = images[0].astype(np.float32) if max_shift > 0 else None
    for img in images[1:]:
        if ref is not None:
            (dx, dy), _ = cv2.phaseCorrelate(ref, img.astype(np.float32))
            if max(abs(dx), abs(dy)) <= max_shift:
                shift = np.float32([[1, 0, -dx], [0, 1, -dy]])
                img = cv2.warpAffine(img, shift, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        stack.append(img)
    return (np.min if light else np.max)(np.stack(stack), axis=0)


def fused_crops(crops: list[np.ndarray], box: Box, light: bool) -> tuple[np.ndarray, FoundLine] | None:
    """A line's crops (each centred on where the line was found) aligned and fused, with the line's box
    inside the fused picture; None with fewer than two crops."""
    if len(crops) < 2:
        return None
    l, tp, r, b = box
    fused = fuse(crops, light, max_shift=max(2.0, (b - tp) / 6))  # found boxes of a line differ by a pixel or two
    h, w = fused.shape
    x0, y0 = (w - (r - l)) // 2, (h - (b - tp)) // 2
    return fused, FoundLine((x0, y0, x0 + r - l, y0 + b - tp), light, 0)


def lines_in_fused(frames: list[np.ndarray], config: ScreenTextConfig) -> list[tuple[FoundLine, np.ndarray]]:
    """Lines found in the fusion of consecutive grey frames of a shot: light lines in their darkest,
    dark lines in their lightest; each with the fused picture it is to be read from."""
    out: list[tuple[FoundLine, np.ndarray]] = []
    for light in (True, False):
        fused = fuse(frames, light)
        out += [(f, fused) for f in find_lines(fused, config, polarities=(light,))]
    return out


def with_fused(found: list[FoundLine], g: np.ndarray,
               fused: list[tuple[FoundLine, np.ndarray]]) -> list[tuple[FoundLine, np.ndarray, bool]]:
    """The lines found in a frame `g` and in a fusion of it with the frames before. A fused line clearly
    wider than the frame's lines at its place replaces them (they hold pieces of its letters); one about as
    wide comes as well, and one where the frame has none: both hidden (to be read once a later search
    finds them again: a window of frames in which the text changed fuses two texts into a wrong one, and
    footage fused into a line-like shape rarely stays). A fused line whose polarity is not its box's own
    (`light_text`) is dropped: a fusion of frames showing different text makes the gaps between one
    text's letters look like strokes of the other polarity. Each line with the picture to read it from
    and whether it is hidden, top to bottom."""
    def width(f: FoundLine) -> int:
        return f.box[2] - f.box[0]

    frame = list(found)
    extra: list[tuple[FoundLine, np.ndarray, bool]] = []
    for f, img in sorted(fused, key=lambda fi: -width(fi[0])):
        if light_text(img, f.box) != f.light or any(overlap(f.box, e.box) >= 0.5 for e, _, _ in extra):
            continue
        under = [o for o in frame if overlap(f.box, o.box) >= 0.5]
        if under and all(width(f) >= WIDER * width(o) for o in under):
            frame = [o for o in frame if o not in under]
            extra.append((f, img, False))
        elif all(width(f) * WIDER > width(o) for o in under):
            extra.append((f, img, True))
    out = [(f, g, False) for f in frame] + extra
    return sorted(out, key=lambda k: (k[0].box[1], k[0].box[0]))
