"""The ocr stage: on-screen text (signs, slides, captions, credits) read by tesseract, as timed lines.

One sequential decode of the video samples a frame every `sample_s` seconds and keeps a tiny
grey signature of each. Tesseract reads a frame when it is the first of a shot, when it is a shot's
keyframe (the `frames` table) and differs from the last frame read, or when the picture has changed
since the last frame read within the shot (a slide advancing, a caption appearing). A frame read
stands for the samples after it that showed the same picture, so a line's span runs from the
first frame it was read in to the last sample still showing it (a span ends within `sample_s` of
the text leaving the screen), and consecutive identical lines merge into one span.

`read_text(image)` is the same reader for one picture; the agent's `verify_frame` calls it.
"""
from __future__ import annotations

import os
import re
from collections.abc import ItemsView, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from memory.decode import frame_time, open_input, stream_start, upright, video_stream
from memory.store import Store

NAME = "ocr"
DEPENDS = ("shots", "keyframes")

SIG_W, SIG_H = 64, 36  # size of the grey signature a sample is compared by


@dataclass(frozen=True)
class OcrConfig:
    """How frames are chosen and read (chosen by measurement: see bench/retrieval.py)."""

    sample_s: float = 1.0            # seconds between sampled frames while scanning for changes
    change: float = 0.004            # a sample is "changed" when this fraction of signature pixels moved ...
    change_level: int = 24           # ... by more than this many grey levels (0-255): ignores noise and fades
    min_gap_s: float = 2.0           # at most one extra read per this many seconds within a shot
    max_reads_per_min: float = 20.0  # hand-held footage changes all the time: cap the reads per minute
    target_height: int = 720         # smaller frames are upscaled to about this height (tesseract likes ~30 px text)
    max_upscale: float = 3.0         # never upscale more than this
    passes: tuple[str, ...] = ("dark", "plain")  # images read per frame: "dark" (top-hat of dark strokes),
                                                 # "light", "plain" grey
    stroke_kernel: float = 1 / 16    # top-hat kernel as a fraction of the (upscaled) height: wider than strokes
    min_conf: float = 0.6            # words below this confidence (0..1) are dropped
    min_line_conf: float = 0.75      # lines whose mean word confidence is below this are dropped
    psm: int = 3                     # tesseract page segmentation: 3 = automatic (best on captions and signs here)
    lang: str = "eng"                # tesseract language pack
    workers: int = 0                 # tesseract processes at once; 0: one per core
    same_ratio: float = 0.85         # two readings of a line are the same line above this similarity

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OcrConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


# -- one picture ----------------------------------------------------------------------------------
def prepare(image: Image.Image | np.ndarray, config: OcrConfig = OcrConfig()) -> list[tuple[str, Image.Image]]:
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


def _one_thread_tesseract() -> None:
    """One OpenMP thread per tesseract process (several processes use the cores better than one).

    Only tesseract's environment gets the limit. Setting it in os.environ would reach every process
    started later (index workers) and any OpenMP runtime that starts later in this one: with it,
    faster-whisper transcribed nothing (0 segments) for every video indexed after an OCR pass.
    pytesseract passes its module-level `environ` to Popen, so that name gets the overlay.
    """
    import pytesseract.pytesseract as pt

    if not isinstance(getattr(pt, "environ", None), _TesseractEnv):
        pt.environ = _TesseractEnv()


def _lines(img: Image.Image, config: OcrConfig, invert: bool = True) -> list[tuple[Box, str, float]]:
    """(box, text, confidence 0..1) of the lines tesseract reads in one prepared image."""
    import pytesseract

    _one_thread_tesseract()
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


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1, min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])))


def read_text(image: Image.Image | np.ndarray, config: OcrConfig = OcrConfig()) -> list[tuple[str, float]]:
    """The text lines tesseract reads in a picture, top to bottom: [(text, confidence 0..1)].

    Low-confidence words are dropped, then lines that are weak or hold no word. Where the two
    polarities read lines in the same place (the text, and the halo around it read as text), only
    the more confident reading is kept.
    """
    found: list[tuple[Box, str, float]] = []
    for kind, img in prepare(image, config):
        for box, text, conf in _lines(img, config, invert=kind == "plain"):
            clash = [i for i, f in enumerate(found) if _overlap(f[0], box) > 0.3]
            if all(conf > found[i][2] for i in clash):
                found = [f for i, f in enumerate(found) if i not in clash] + [(box, text, conf)]
    found.sort(key=lambda x: (x[0][1], x[0][0]))
    return [(text, conf) for _, text, conf in found]


# -- choosing frames ------------------------------------------------------------------------------
def _changed(a: np.ndarray, b: np.ndarray, config: OcrConfig) -> bool:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))  # [SIG_H, SIG_W]
    return float((diff > config.change_level).mean()) > config.change


@dataclass(frozen=True)
class _Shot:
    start_s: float
    end_s: float
    keyframes: tuple[float, ...]


def _shots(ctx: Any) -> list[_Shot]:
    """The video's shots and their keyframe times; one shot for the whole video when there are none."""
    duration = float(ctx.facts.get("duration_s") or 0.0) or float("inf")
    store = ctx.open_store()
    try:
        shots = list(store.db.query("SELECT id, start_s, end_s FROM shots WHERE video_id = ? ORDER BY start_s",
                                    [ctx.video_id]))
        kf: dict[int, list[float]] = {}
        for r in store.db.query("SELECT shot_id, t_s FROM frames WHERE video_id = ? ORDER BY t_s", [ctx.video_id]):
            kf.setdefault(r["shot_id"], []).append(float(r["t_s"]))
    finally:
        store.close()
    if not shots:
        return [_Shot(0.0, duration, ())]
    return [_Shot(float(s["start_s"]), float(s["end_s"]), tuple(kf.get(s["id"], ()))) for s in shots]


@dataclass
class _Read:
    t_s: float            # when the frame is on screen
    until_s: float        # the last sample of the shot that still showed the same picture
    shot: int
    lines: list[tuple[str, float]] | None = None


def scan(path: str, shots: list[_Shot], config: OcrConfig = OcrConfig(),
         progress: Any = None, duration_s: float | None = None) -> tuple[list[_Read], dict[str, int]]:
    """Decode once, choose the frames to read, and read them (tesseract runs beside the decoder)."""
    workers = config.workers or (os.cpu_count() or 1)
    reads: list[_Read] = []
    futures: list[Future] = []
    samples = 0
    total = duration_s or (shots[-1].end_s if shots and shots[-1].end_s != float("inf") else 0.0)
    budget_gap = 60.0 / config.max_reads_per_min
    with open_input(path) as container, ThreadPoolExecutor(max_workers=workers) as pool:
        stream = video_stream(container, Path(path).name)
        stream.thread_type = "AUTO"
        start = stream_start(stream)
        si = 0                                  # current shot
        next_sample = 0.0
        last_sig: np.ndarray | None = None      # signature of the last frame read in this shot
        last_read_t = -1e9
        pending_kf: list[float] = list(shots[0].keyframes) if shots else []
        for frame in container.decode(stream):
            ft = frame_time(frame)
            if ft is None:
                continue
            t = ft - start
            if t + 1e-6 < next_sample:
                continue
            next_sample = t + config.sample_s
            while si + 1 < len(shots) and t >= shots[si + 1].start_s - 1e-6:
                si += 1
                last_sig, pending_kf = None, list(shots[si].keyframes)
            samples += 1
            sig = frame.reformat(width=SIG_W, height=SIG_H, format="gray").to_ndarray()  # [SIG_H, SIG_W] uint8
            at_kf = bool(pending_kf) and t >= pending_kf[0] - config.sample_s / 2
            if at_kf:
                while pending_kf and t >= pending_kf[0] - config.sample_s / 2:
                    pending_kf.pop(0)
            if last_sig is None:
                read = True                     # a shot's first sample
            elif not _changed(sig, last_sig, config):
                read = False                    # the same picture: the last reading still holds
            else:
                read = at_kf or (t - last_read_t >= max(config.min_gap_s, budget_gap))
            if read:
                reads.append(_Read(t, t, si))
                gray = upright(Image.fromarray(frame.to_ndarray(format="gray")), frame.rotation)
                futures.append(pool.submit(read_text, gray, config))
                last_sig, last_read_t = sig, t
            elif reads and reads[-1].shot == si:
                reads[-1].until_s = t           # seen unchanged up to this sample
            if progress and total:
                progress(min(0.99, t / total), f"{len(reads)} frames read")
        for r, f in zip(reads, futures):
            r.lines = f.result()
    return reads, {"samples": samples, "frames_read": len(reads)}


# -- spans ----------------------------------------------------------------------------------------
def _key(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def merge_lines(reads: list[_Read], config: OcrConfig = OcrConfig()) -> list[dict[str, Any]]:
    """Lines read in consecutive frames that say the same thing become one span (start_s, end_s, text, conf)."""
    spans: list[dict[str, Any]] = []
    open_: list[dict[str, Any]] = []   # spans that the previous frame read extended
    for r in sorted(reads, key=lambda r: r.t_s):
        still: list[dict[str, Any]] = []
        for text, conf in r.lines or []:
            k = _key(text)
            if not k:
                continue
            match = next((s for s in open_ if s not in still
                          and SequenceMatcher(None, s["_key"], k).ratio() >= config.same_ratio), None)
            if match is None:
                match = {"start_s": r.t_s, "end_s": r.until_s, "text": text, "conf": conf, "_key": k}
                spans.append(match)
            else:
                match["end_s"] = max(match["end_s"], r.until_s)
                if conf > match["conf"]:  # keep the best reading of the line
                    match.update(text=text, conf=conf, _key=k)
            still.append(match)
        open_ = still
    return [{"start_s": round(s["start_s"], 3), "end_s": round(max(s["end_s"], s["start_s"]), 3),
             "text": s["text"], "conf": s["conf"]} for s in spans]


# -- the stage ------------------------------------------------------------------------------------
def compute(ctx: Any) -> dict[str, Any]:
    """Stage compute (worker process): the merged lines and how many frames were sampled and read."""
    config = OcrConfig.from_dict(ctx.config)
    shots = _shots(ctx)
    reads, counts = scan(ctx.path, shots, config, progress=ctx.report, duration_s=ctx.facts.get("duration_s"))
    lines = merge_lines(reads, config)
    return {"lines": lines, **counts, "config": asdict(config)}


def write(store: Store, video_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Replace the video's OCR rows (inside the caller's transaction); their text vectors are redone."""
    db = store.db
    # New rows get new ids, so the old OCR vectors point at nothing: drop them and re-run text_vectors.
    db.execute("DELETE FROM vectors WHERE video_id = ? AND kind = 'ocr'", [video_id])
    db.execute("DELETE FROM stages WHERE video_id = ? AND name = 'text_vectors'", [video_id])
    db.execute("DELETE FROM ocr WHERE video_id = ?", [video_id])
    rows = [{"video_id": video_id, **line} for line in result["lines"]]
    if rows:
        db["ocr"].insert_all(rows)
    return {"ocr_lines": len(rows), "frames_read": result.get("frames_read", 0),
            "samples": result.get("samples", 0)}
