"""The whole-frame reader: tesseract's own page layout on a prepared frame (the OCR stage's reader
before `memory.screen_text`; kept for the agent's `verify_frame` and as the benchmark's baseline).

`read_text(image)` reads one picture: the frame grey, contrast-stretched and upscaled ("plain"), and
its dark strokes (a black top-hat, "dark"), each read with `--psm 3`; lines where both read text are
kept once, the more confident.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from memory.screen_text import overlap, one_thread_tesseract


@dataclass(frozen=True)
class PageConfig:
    """How a whole frame is prepared and read."""

    target_height: int = 720         # smaller frames are upscaled to about this height (tesseract likes ~30 px text)
    max_upscale: float = 3.0         # never upscale more than this
    passes: tuple[str, ...] = ("dark", "plain")  # images read per frame: "dark" (top-hat of dark strokes),
                                                 # "light", "plain" grey
    stroke_kernel: float = 1 / 16    # top-hat kernel as a fraction of the (upscaled) height: wider than strokes
    min_conf: float = 0.6            # words below this confidence (0..1) are dropped
    min_line_conf: float = 0.75      # lines whose mean word confidence is below this are dropped
    psm: int = 3                     # tesseract page segmentation: 3 = automatic (best on captions and signs here)
    lang: str = "eng"                # tesseract language pack

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PageConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def prepare(image: Image.Image | np.ndarray, config: PageConfig = PageConfig()) -> list[tuple[str, Image.Image]]:
    """The grey images tesseract reads for one picture, one per pass in `config.passes`: [(pass, image)].

    The frame is made grey and contrast-stretched, and upscaled so that small text reaches the
    ~30 px tesseract reads best ("plain"). Video frames also put text on patterns and photos, where
    tesseract's global binarisation and page layout fail: a morphological top-hat with a kernel
    wider than a letter stroke keeps only thin strokes, dark ones ("dark": black top-hat) or light
    ones ("light": white top-hat), as black text on white. Measured on the fixtures and on text
    drawn over real footage, "dark" + "plain" read every line (white titles and outlined subtitles
    through "plain", text on checkerboards and stripes only through "dark").
    """
    from scipy import ndimage as ndi

    img = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    img = ImageOps.autocontrast(img.convert("L"), cutoff=1)
    scale = min(config.max_upscale, config.target_height / max(1, img.height))
    if scale > 1.05:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC)
    g = np.asarray(img, dtype=np.int16)  # [h, w]
    k = max(9, round(g.shape[0] * config.stroke_kernel)) | 1
    out = []
    for kind in config.passes:
        if kind == "plain":
            out.append((kind, img))
            continue
        if kind == "dark":
            strokes = ndi.grey_closing(g, size=(k, k)) - g
        elif kind == "light":
            strokes = g - ndi.grey_opening(g, size=(k, k))
        else:
            raise ValueError(f"unknown OCR pass {kind!r} (dark, light, plain)")
        top = max(40.0, float(np.percentile(strokes, 99.5)))  # stretch so the strongest strokes are black
        out.append((kind, Image.fromarray((255 - np.clip(strokes * (255.0 / top), 0, 255)).astype(np.uint8))))
    return out


_WORDY = re.compile(r"[^\W_]{2,}|\d")  # a line needs a real word or a number, not just | — ~ .


Box = tuple[int, int, int, int]  # left, top, right, bottom in the prepared image's pixels


def _lines(img: Image.Image, config: PageConfig, invert: bool = True) -> list[tuple[Box, str, float]]:
    """(box, text, confidence 0..1) of the lines tesseract reads in one prepared image."""
    import pytesseract

    one_thread_tesseract()
    # A top-hat image is always dark on white: skip tesseract's second, inverted try at weak lines.
    opts = f"--psm {config.psm}" + ("" if invert else " -c tessedit_do_invert=0")
    data = pytesseract.image_to_data(img, lang=config.lang, config=opts, output_type=pytesseract.Output.DICT)
    lines: dict[tuple[int, int, int], list[tuple[str, float, int, int]]] = {}
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        conf = float(data["conf"][i]) / 100.0
        if not word or conf < config.min_conf:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        box = (data["left"][i], data["top"][i], data["left"][i] + data["width"][i], data["top"][i] + data["height"][i])
        lines.setdefault(key, []).append((word, conf, box))
    out = []
    for words in lines.values():
        words.sort(key=lambda w: w[2][0])
        text = " ".join(w[0] for w in words)
        conf = float(np.mean([w[1] for w in words]))
        if conf >= config.min_line_conf and _WORDY.search(text):
            box = (min(w[2][0] for w in words), min(w[2][1] for w in words),
                   max(w[2][2] for w in words), max(w[2][3] for w in words))
            out.append((box, text, round(conf, 3)))
    return out


def read_text(image: Image.Image | np.ndarray, config: PageConfig = PageConfig()) -> list[tuple[str, float]]:
    """The text lines tesseract reads in a picture, top to bottom: [(text, confidence 0..1)].

    Low-confidence words are dropped, then lines that are weak or hold no word. Where the two
    polarities read lines in the same place (the text, and the halo around it read as text), only
    the more confident reading is kept.
    """
    found: list[tuple[Box, str, float]] = []
    for kind, img in prepare(image, config):
        for box, text, conf in _lines(img, config, invert=kind == "plain"):
            clash = [i for i, f in enumerate(found) if overlap(f[0], box) > 0.3]
            if all(conf > found[i][2] for i in clash):
                found = [f for i, f in enumerate(found) if i not in clash] + [(box, text, conf)]
    found.sort(key=lambda x: (x[0][1], x[0][0]))
    return [(text, conf) for _, text, conf in found]
