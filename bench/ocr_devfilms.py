"""`python -m bench.ocr_devfilms [--json] [--set dev|blind|blind2|blind3|blind4|blind5]`: the OCR stage on the
development films (tests/fixtures/devset.py) or the blind films (tests/fixtures/blind_scripts.py to
blind5_scripts.py), line recall against their on-screen ground truth (`DevVideo.screen`), fragments, and the
stage's speed.

Each film is indexed end to end with the stages the OCR stage needs (probe, shots, keyframes, ocr), the same
code path as indexing. A truth line counts as read as in `bench.ocr_recall.is_read` (similar text, or its
words inside a longer stored line). A stored line that matches no truth line but reads as a piece of one
(`is_piece`, or its words inside one) is a fragment; one that is neither is "other" (false or garbled text).
The JSON goes to bench/results/ocr-devfilms.json (blind films: ocr-blindfilms.json to ocr-blind5films.json).
The blind films are measured here for on-screen text only: their questions stay unseen (bench/blind.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.ocr_recall import _index, _models_dir, is_read, norm
from memory.screen_text_shot import is_piece

RESULTS = {"dev": Path(__file__).parent / "results" / "ocr-devfilms.json",
           "blind": Path(__file__).parent / "results" / "ocr-blindfilms.json",
           "blind2": Path(__file__).parent / "results" / "ocr-blind2films.json",
           "blind3": Path(__file__).parent / "results" / "ocr-blind3films.json",
           "blind4": Path(__file__).parent / "results" / "ocr-blind4films.json",
           "blind5": Path(__file__).parent / "results" / "ocr-blind5films.json"}
STAGES = ("probe", "shots", "keyframes", "ocr")


def is_fragment(line: str, truth: list[str]) -> bool:
    """Whether a stored line is a piece of a truth line but reads none of them whole."""
    if is_read_any(line, truth):
        return False
    n = norm(line)
    return bool(n) and any(is_piece(line, t) or f" {n} " in f" {norm(t)} " for t in truth)


def is_read_any(line: str, truth: list[str]) -> bool:
    """Whether a stored line reads some truth line (similar, or holding its words)."""
    return any(is_read(t, [line]) for t in truth)


def run_film(name: str, video: Path, truth: list[str], duration_s: float, reader: str = "lines") -> dict[str, Any]:
    """One film indexed with the OCR stage's `reader`: recall, misses, fragments and seconds per video second."""
    got = _index(video, reader, STAGES)
    rows = got["rows"]
    texts = [r["text"] for r in rows]
    hits = [t for t in truth if is_read(t, texts)]
    seconds = float(got["stages"]["ocr"]["seconds"])
    return {"lines": len(truth), "read": len(hits), "recall": round(len(hits) / max(1, len(truth)), 3),
            "missed": [t for t in truth if t not in hits],
            "fragments": [t for t in texts if is_fragment(t, truth)],
            "other": [t for t in texts if not is_read_any(t, truth) and not is_fragment(t, truth)],
            "stored": [{"start_s": r["start_s"], "end_s": r["end_s"], "text": r["text"]} for r in rows],
            "ocr_seconds": round(seconds, 2), "ocr_s_per_video_s": round(seconds / duration_s, 4)}


def run(cache_dir: Path, names: tuple[str, ...] = (), reader: str = "lines", film_set: str = "dev") -> dict[str, Any]:
    """Every film of `film_set` ("dev" or "blind" to "blind5"; or those named): per film and in all."""
    from tests.fixtures import (blind2_scripts, blind3_scripts, blind4_scripts, blind5_scripts, blind_scripts,
                                devset_scripts)
    from tests.fixtures.devset import build_devset

    scripts = {"dev": devset_scripts.SCRIPTS, "blind": blind_scripts.SCRIPTS, "blind2": blind2_scripts.SCRIPTS,
               "blind3": blind3_scripts.SCRIPTS, "blind4": blind4_scripts.SCRIPTS,
               "blind5": blind5_scripts.SCRIPTS}[film_set]
    films = build_devset(cache_dir, names, scripts)
    out: dict[str, Any] = {"reader": reader, "set": film_set, "films": {}}
    for name, dev in films.items():
        out["films"][name] = run_film(name, dev.path, [t.text for t in dev.screen], dev.duration_s, reader)
    per = out["films"].values()
    lines, read = sum(f["lines"] for f in per), sum(f["read"] for f in per)
    video_s = sum(d.duration_s for d in films.values())
    out["total"] = {"lines": lines, "read": read, "recall": round(read / max(1, lines), 3),
                    "fragments": sum(len(f["fragments"]) for f in per), "other": sum(len(f["other"]) for f in per),
                    "ocr_s_per_video_s": round(sum(f["ocr_seconds"] for f in per) / max(1e-9, video_s), 4),
                    "cpu_count": os.cpu_count()}
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ocr_devfilms", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the full JSON (default: the totals)")
    ap.add_argument("--set", default="dev", choices=tuple(RESULTS), help="the development or a blind set's films")
    ap.add_argument("--films", nargs="*", default=[], help="only these films of the set")
    ap.add_argument("--reader", default="lines", choices=("lines", "page"), help="the OCR stage's reader")
    ap.add_argument("--cache", default="test-artifacts/devset", help="where the films are built and kept")
    ap.add_argument("--out", default=None, help="where the JSON is written ('' for nowhere; default by --set)")
    args = ap.parse_args(argv)
    os.environ.setdefault("CITECLIP_MODELS", str(_models_dir()))
    res = run(Path(args.cache), tuple(args.films), args.reader, args.set)
    out = RESULTS[args.set] if args.out is None else args.out
    if out:
        Path(out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res if args.json else res["total"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
