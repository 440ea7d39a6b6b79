"""`python -m bench ocr [--json]`: recall of on-screen text lines and indexing speed, the OCR stage's
old whole-frame reader ("page") vs the line reader ("lines", memory.screen_text), in one run.

- overlay: the credits, titles, lower thirds and end card of `tests/fixtures/overlays.sample_cards`
  drawn over moving real footage, indexed end to end (Library.index_video) with each reader; the
  video's screen_text rows are scored against the fixture's ground truth.
- deck: the same, end to end, on the larger rendered sample of `bench/ocr_overlay_deck.py` (about
  40 lines over all four clips).
- cards: the stand-in cards of bench/ocr_cards.py (some adversarial), read frame by frame
  (`read_text`, the union of its lines) and as one shot (`read_frames`); seconds per frame.
- speed: the 10-minute narrated fixture indexed with the line reader (every stage but the visual
  one) and its OCR stage alone with the page reader: wall seconds and real-time factors.

A ground-truth line counts as read when a line read matches it by character similarity (difflib
ratio of the normalised texts >= 0.9) or holds its words in order.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from dataclasses import replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from bench.ocr_cards import CLIPS, Card, cards
from memory.screen_text import ScreenTextConfig
from memory.screen_text_shot import read_frames

SIMILAR = 0.9  # difflib ratio above which a line read is the ground-truth line


def norm(text: str) -> str:
    """Lower-case words and numbers, single-spaced (punctuation and case do not count)."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def is_read(truth: str, lines: list[str]) -> bool:
    """Whether a ground-truth line is among the lines read (similar, or its words inside a longer line)."""
    t = norm(truth)
    return any(SequenceMatcher(None, t, norm(x)).ratio() >= SIMILAR or f" {t} " in f" {norm(x)} " for x in lines)


def _old(card: Card) -> list[str]:
    from memory.stages.ocr import read_text

    return sorted({text for f in card.frames for text, _ in read_text(f)})


def _new(card: Card, config: ScreenTextConfig) -> list[str]:
    return [s.text for s in read_frames(list(card.frames), config)]


def run_cards(clips: tuple[str, ...] = CLIPS, config: ScreenTextConfig = ScreenTextConfig()) -> dict:
    """Recall and seconds per frame of both readers over every card; misses listed per card."""
    deck = cards(clips)
    out: dict = {"cards": len(deck), "frames": sum(len(c.frames) for c in deck),
                 "lines": sum(len(c.truth) for c in deck), "per_card": []}
    for name, reader in (("old", _old), ("new", lambda c: _new(c, config))):
        hits, seconds = 0, 0.0
        for i, card in enumerate(deck):
            t0 = time.perf_counter()
            lines = reader(card)
            seconds += time.perf_counter() - t0
            got = [t for t in card.truth if is_read(t, lines)]
            hits += len(got)
            if name == "old":
                out["per_card"].append({"clip": card.clip, "kind": card.kind, "truth": list(card.truth)})
            out["per_card"][i][name] = {"read": lines, "missed": [t for t in card.truth if t not in got]}
        out[name] = {"recall": round(hits / out["lines"], 3), "s_per_frame": round(seconds / out["frames"], 3)}
    return out


READERS = ("page", "lines")  # the stage's old reader, its new one
TEXT_STAGES = ("speech", "ocr", "text_vectors")


def _index(video: Path, reader: str, stages: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Index `video` in a fresh data dir with the OCR stage's `reader`: its screen_text rows and stages."""
    from memory.indexer import IndexerConfig
    from memory.library import Library, LibraryConfig

    indexer = IndexerConfig(stage_options={"ocr": {"reader": reader}})
    if stages is not None:
        indexer = replace(indexer, stages=tuple(f"memory.stages.{n}" for n in stages))
    with tempfile.TemporaryDirectory(prefix="citeclip-ocr-bench-") as tmp:
        lib = Library(Path(tmp) / "data", image_encoder=None, config=LibraryConfig(indexer=indexer))
        try:
            vid = lib.index_video(video)["video_id"]
            return {"rows": lib.screen_text(vid), "stages": lib.store.stages(vid)}
        finally:
            lib.close()


def run_overlay(work: Path, name: str = "overlays_sample") -> dict[str, Any]:
    """Both readers end to end on a rendered overlay video: recall, misses, the stage's seconds.
    "overlays_sample": the fixture module's sample; "overlays_deck": the larger `bench.ocr_overlay_deck`."""
    from tests.fixtures.overlays import render_overlay_video, sample_cards

    from bench.ocr_overlay_deck import DURATION_S, deck

    cards, duration_s = (sample_cards(), 40.0) if name == "overlays_sample" else (deck(), DURATION_S)
    video, truth_file = work / f"{name}.mp4", work / f"{name}.json"
    if video.is_file() and truth_file.is_file():
        truth = json.loads(truth_file.read_text())
    else:
        truth = [t.__dict__ for t in render_overlay_video(cards, video, duration_s=duration_s)]
        truth_file.write_text(json.dumps(truth))
    out: dict[str, Any] = {"video_s": duration_s, "lines": len(truth), "truth": [t["text"] for t in truth]}
    for reader in READERS:
        got = _index(video, reader, ("probe", "shots", "keyframes", "ocr"))
        texts = [r["text"] for r in got["rows"]]
        hits = [t["text"] for t in truth if is_read(t["text"], texts)]
        out[reader] = {"recall": round(len(hits) / len(truth), 3), "rows": len(texts),
                       "missed": [t["text"] for t in truth if t["text"] not in hits], "read": texts,
                       "ocr_seconds": round(got["stages"]["ocr"]["seconds"], 2)}
    return out


def run_speed(work: Path) -> dict[str, Any]:
    """The 10-minute narrated fixture: the line reader in the whole text pipeline, the page reader's OCR."""
    from tests.fixtures.narrated import make_narrated

    fixture = make_narrated(work, long=True)
    dur = fixture.duration_s
    out: dict[str, Any] = {"video_s": dur, "screen_lines": len(fixture.screen)}
    for reader in ("lines", "page"):
        stages = None if reader == "lines" else ("probe", "shots", "keyframes", "ocr")
        got = _index(fixture.path, reader, stages)
        st = got["stages"]
        lines = {norm(r["text"]) for r in got["rows"]}
        res = {"ocr_seconds": round(st["ocr"]["seconds"], 2),
               "ocr_video_s_per_wall_s": round(dur / st["ocr"]["seconds"], 2),
               "screen_lines_read": sum(norm(s.text) in lines for s in fixture.screen),
               "ocr_info": st["ocr"]["info"]}
        if stages is None:
            text_s = sum(st[n]["seconds"] for n in TEXT_STAGES if n in st)
            res.update(text_stages_seconds=round(text_s, 2), text_stages_video_s_per_wall_s=round(dur / text_s, 2))
        out[reader] = res
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench ocr", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the full JSON (default: the summary)")
    ap.add_argument("--clips", nargs="*", default=list(CLIPS), help="clips from ../shared/media to draw over")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "citeclip-bench-fixtures"),
                    help="where the fixture videos are generated and kept")
    ap.add_argument("--no-speed", action="store_true", help="skip the 10-minute indexing run")
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CITECLIP_MODELS", str(_models_dir()))
    t0 = time.perf_counter()
    res: dict[str, Any] = {"overlay": run_overlay(work), "deck": run_overlay(work, "overlays_deck"),
                           "cards": run_cards(tuple(args.clips))}
    if not args.no_speed:
        res["speed"] = run_speed(work)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["cpu_count"] = os.cpu_count()
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        summary = {"overlay": {r: res["overlay"][r]["recall"] for r in READERS},
                   "deck": {r: res["deck"][r]["recall"] for r in READERS},
                   "cards": {r: res["cards"][r] for r in ("old", "new")}}
        if "speed" in res:
            summary["speed"] = {r: {k: v for k, v in res["speed"][r].items() if k != "ocr_info"} for r in READERS}
        print(json.dumps(summary, indent=1))
    return 0


def _models_dir() -> Path:
    from memory.datadir import DataDir

    return DataDir.resolve().models_dir
