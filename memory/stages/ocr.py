"""The ocr stage: on-screen text (signs, slides, captions, credits) read by tesseract, as timed lines.

One sequential decode of the video samples a frame every `sample_s` seconds. With the "lines"
reader (the default) every sample is searched for lines of text (`memory.screen_text`), and the
samples of a shot, in runs of at most `chunk` samples, go to a worker that follows each line from
sample to sample, reads it in its first `votes` samples and votes (`memory.screen_text_shot`): a
line's span runs from the first to the last sample it was seen in, and the same line in
neighbouring runs or shots becomes one span. A run of a short shot goes on past the cut (a credit roll
over quick cuts is read as one roll, `memory.screen_text_roll`).

The "page" reader (`memory.screen_text_page`, the stage's reader before) keeps a tiny grey
signature of each sample and reads a whole frame when it is the first of a shot, a shot's keyframe
that differs from the last frame read, or a picture that changed within the shot; a frame read
stands for the unchanged samples after it. `read_text(image)` is that reader for one picture; the
agent's `verify_frame` calls it.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from memory import screen_text_page
from memory.decode import frame_time, open_input, stream_start, upright, video_stream
from memory.stages import StageContext
from memory.screen_text import ScreenTextConfig
from memory.screen_text_align import same_row, union
from memory.screen_text_page import PageConfig
from memory.screen_text_shot import is_piece, read_frames, role_and_name
from memory.store import Store

NAME = "ocr"
DEPENDS = ("shots", "keyframes")

SIG_W, SIG_H = 64, 36  # size of the grey signature a sample is compared by


@dataclass(frozen=True)
class OcrConfig(PageConfig):
    """How frames are chosen and read (chosen by measurement: bench/retrieval.py, bench/ocr_recall.py).
    It extends the "page" reader's `PageConfig` (upscaling, passes, confidences, psm, language), so one
    flat config serves both readers and the stage's stored settings."""

    reader: str = "lines"            # "lines": every sample searched for text lines, read and voted per shot;
                                     # "page": whole changed frames read by tesseract's page layout
    votes: int = 3                   # "lines": a line is read in this many samples while it stays on screen
    chunk: int = 30                  # "lines": at most this many samples of a shot go to one worker
    min_chunk: int = 12              # "lines": a run shorter than this goes on past a cut (a credit roll over
                                     # quick cuts is read from all its samples; a card over a cut is one line)
    sample_s: float = 1.0            # seconds between sampled frames while scanning for changes
    change: float = 0.004            # a sample is "changed" when this fraction of signature pixels moved ...
    change_level: int = 24           # ... by more than this many grey levels (0-255): ignores noise and fades
    min_gap_s: float = 2.0           # at most one extra read per this many seconds within a shot
    max_reads_per_min: float = 20.0  # hand-held footage changes all the time: cap the reads per minute
    workers: int = 0                 # tesseract processes at once; 0: one per core
    same_ratio: float = 0.85         # two readings of a line are the same line above this similarity


# -- one picture ----------------------------------------------------------------------------------
def read_text(image: Image.Image | np.ndarray, config: OcrConfig = OcrConfig()) -> list[tuple[str, float]]:
    """The text lines of a picture by the whole-frame reader, top to bottom: [(text, confidence 0..1)]."""
    return screen_text_page.read_text(image, config)


def _read_shot(times: list[float], frames: list[np.ndarray], votes: int) -> list[dict[str, Any]]:
    """The lines on screen in consecutive samples of one shot, each with the sample times it was seen."""
    return [{"start_s": times[s.first], "end_s": times[s.last], "text": s.text, "conf": s.conf, "words": s.words,
             "box": s.box}
            for s in read_frames(frames, ScreenTextConfig(), votes=votes)]


# -- choosing frames ------------------------------------------------------------------------------
def _changed(a: np.ndarray, b: np.ndarray, config: OcrConfig) -> bool:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))  # [SIG_H, SIG_W]
    return float((diff > config.change_level).mean()) > config.change


@dataclass(frozen=True)
class _Shot:
    start_s: float
    end_s: float
    keyframes: tuple[float, ...]


def _shots(ctx: StageContext) -> list[_Shot]:
    """The video's shots and their keyframe times; one shot for the whole video when there are none."""
    duration = float(ctx.facts.get("duration_s") or 0.0) or float("inf")
    store = ctx.open_store()
    try:
        shots = store.shots(ctx.video_id)
        kf: dict[int, list[float]] = {}
        for r in store.frames(ctx.video_id):
            kf.setdefault(r["shot_id"], []).append(float(r["t_s"]))
    finally:
        store.close()
    if not shots:
        return [_Shot(0.0, duration, ())]
    return [_Shot(float(s["start_s"]), float(s["end_s"]), tuple(sorted(kf.get(s["id"], ())))) for s in shots]


@dataclass
class _Read:
    t_s: float            # when the frame is on screen
    until_s: float        # the last sample of the shot that still showed the same picture
    shot: int
    lines: list[tuple[str, float]] | None = None


def _samples(container: Any, path: str, shots: list[_Shot], config: OcrConfig) -> Iterator[tuple[float, int, Any]]:
    """(time, shot index, decoded frame) of one frame every `config.sample_s` seconds, in order."""
    stream = video_stream(container, Path(path).name)
    stream.thread_type = "AUTO"
    start = stream_start(stream)
    si, next_sample = 0, 0.0
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
        yield t, si, frame


def _total(shots: list[_Shot], duration_s: float | None) -> float:
    return duration_s or (shots[-1].end_s if shots and shots[-1].end_s != float("inf") else 0.0)


def scan_lines(path: str, shots: list[_Shot], config: OcrConfig = OcrConfig(), progress: Any = None,
               duration_s: float | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Decode once; every sample's lines found, followed and read per shot run (workers beside the
    decoder). Returns the spans of each run (not yet merged across runs) and the counts."""
    workers = config.workers or (os.cpu_count() or 1)
    total = _total(shots, duration_s)
    futures: list[Future] = []
    samples = 0
    with open_input(path) as container, ThreadPoolExecutor(max_workers=workers) as pool:
        times: list[float] = []
        frames: list[np.ndarray] = []
        shot = -1
        for t, si, frame in _samples(container, path, shots, config):
            if frames and ((si != shot and len(frames) >= config.min_chunk) or len(frames) >= config.chunk):
                futures.append(pool.submit(_read_shot, times, frames, config.votes))
                times, frames = [], []
            shot = si
            samples += 1
            times.append(t)
            frames.append(np.asarray(upright(Image.fromarray(frame.to_ndarray(format="gray")), frame.rotation)))
            if progress and total:
                progress(min(0.99, t / total), f"{samples} frames searched")
        if frames:
            futures.append(pool.submit(_read_shot, times, frames, config.votes))
        spans = [s for f in futures for s in f.result()]
    return spans, {"samples": samples, "frames_read": samples}


def scan(path: str, shots: list[_Shot], config: OcrConfig = OcrConfig(),
         progress: Any = None, duration_s: float | None = None) -> tuple[list[_Read], dict[str, int]]:
    """The "page" reader: decode once, choose the frames to read, and read them (tesseract beside the decoder)."""
    workers = config.workers or (os.cpu_count() or 1)
    reads: list[_Read] = []
    futures: list[Future] = []
    samples = 0
    total = _total(shots, duration_s)
    budget_gap = 60.0 / config.max_reads_per_min
    with open_input(path) as container, ThreadPoolExecutor(max_workers=workers) as pool:
        shot = -1
        last_sig: np.ndarray | None = None      # signature of the last frame read in this shot
        last_read_t = -1e9
        pending_kf: list[float] = []
        for t, si, frame in _samples(container, path, shots, config):
            if si != shot:
                shot, last_sig, pending_kf = si, None, list(shots[si].keyframes) if shots else []
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


def merge_spans(spans: list[dict[str, Any]], config: OcrConfig = OcrConfig()) -> list[dict[str, Any]]:
    """The same line in neighbouring runs of samples (a shot cut in runs, a cut under a credit) becomes
    one span: similar text, starting within two samples of where the other ended. The best reading is
    kept. A span that is a piece of a longer one on screen then or within two samples (`is_piece`) is
    dropped: the longer reading holds its words."""
    out: list[dict[str, Any]] = []
    for s in sorted(spans, key=lambda s: (s["start_s"], s["text"])):
        k = _key(s["text"])
        if not k:
            continue
        near = [o for o in reversed(out) if s["start_s"] <= o["end_s"] + 2 * config.sample_s + 1e-6]
        match = next((o for o in near if SequenceMatcher(None, _key(o["text"]), k).ratio() >= config.same_ratio
                      and not _rows_apart(o, s, config)), None)
        if match is None and (_laid_together(s, near) or _named(s, near)):
            continue
        if match is None:
            out.append(dict(s))
            continue
        match["end_s"] = max(match["end_s"], s["end_s"])
        if s["conf"] > match["conf"]:
            match.update(text=s["text"], conf=s["conf"], words=s.get("words", ()))
    near = 2 * config.sample_s + 1e-6
    kept = [s for s in out if not any(
        o is not s and o["start_s"] - near <= s["end_s"] and s["start_s"] <= o["end_s"] + near
        and is_piece(s["text"], o["text"], strict=True) for o in out)]
    return [{"start_s": round(s["start_s"], 3), "end_s": round(s["end_s"], 3), "text": s["text"],
             "conf": s["conf"]} for s in kept]


def _rows_apart(a: dict[str, Any], b: dict[str, Any], config: OcrConfig) -> bool:
    """Whether two alike spans are rows of one table, not one line: on screen together for more than a sample
    with other figures ("Bedroom 1: 3.6 x 3.4m" under "Bedroom 2: 2.6 x 2.4m" are 0.85 alike)."""
    together = min(a["end_s"], b["end_s"]) - max(a["start_s"], b["start_s"])
    return together > config.sample_s + 1e-6 and re.findall(r"\d+", a["text"]) != re.findall(r"\d+", b["text"])


def _laid_together(s: dict[str, Any], near: list[dict[str, Any]]) -> bool:
    """Whether span `s` is another reading of a span of `near` at its height, laid word by word with it
    (`union`: a card over a cut, read in part in each run, "Filmed in Port" then "Filmed Merrin"), which
    then holds both's words."""
    for o in near:
        if not (o.get("words") and s.get("words") and same_row(o["box"], s["box"])):
            continue
        words = union(o["words"], s["words"])
        if words is not None:
            o.update(text=" ".join(w[2] for w in words), words=words, conf=min(o["conf"], s["conf"]),
                     end_s=max(o["end_s"], s["end_s"]))
            return True
    return False


def _named(s: dict[str, Any], near: list[dict[str, Any]]) -> bool:
    """Whether span `s` is the name a role of `near` waits for ("Filmed by" read in one run of samples, "Declan
    Moyo" below it in the next, a card over a cut): the role's span then holds both, as one line."""
    role = next((o for o in near if "box" in o and "box" in s and len(s["text"].split()) <= 4
                 and role_and_name(o["text"], s["text"], o["box"], s["box"], labels=False)), None)
    if role is None:
        return False
    role.update(text=f"{role['text']} {s['text']}", conf=min(role["conf"], s["conf"]), words=(),
                end_s=max(role["end_s"], s["end_s"]))
    return True


# -- the stage ------------------------------------------------------------------------------------
def compute(ctx: StageContext) -> dict[str, Any]:
    """Stage compute (worker process): the merged lines and how many frames were sampled and read."""
    config = OcrConfig.from_dict(ctx.config)
    shots = _shots(ctx)
    duration_s = ctx.facts.get("duration_s")
    if config.reader == "lines":
        spans, counts = scan_lines(ctx.path, shots, config, progress=ctx.report, duration_s=duration_s)
        lines = merge_spans(spans, config)
    elif config.reader == "page":
        reads, counts = scan(ctx.path, shots, config, progress=ctx.report, duration_s=duration_s)
        lines = merge_lines(reads, config)
    else:
        raise ValueError(f"unknown OCR reader {config.reader!r} (lines, page)")
    return {"lines": lines, **counts, "config": asdict(config)}


def write(store: Store, video_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Replace the video's OCR rows (inside the caller's transaction); their text vectors are redone."""
    rows = list(result["lines"])
    store.replace_texts("ocr", video_id, rows)  # the old rows' vectors go; text_vectors runs again
    return {"ocr_lines": len(rows), "frames_read": result.get("frames_read", 0),
            "samples": result.get("samples", 0)}
