"""`python -m bench index VIDEO [--json]`: speed of the shot stage and the visual index, in one run.

Measured on the same file, one after the other: FFmpeg decode-only (`ffmpeg -i VIDEO -f null -`),
PySceneDetect's default `detect(VIDEO, ContentDetector())`, our shot stage (`memory.stages.shots`), and
the whole visual index (probe, shots, keyframes, image vectors, through the worker processes).
Speeds are video-seconds per wall-second; ratios compare them within this run, so a loaded
machine slows every contender alike. A synthetic video with known cuts is checked with the same
shot settings, so that speed is never bought with missed or misplaced cuts.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TARGETS = {"shot_vs_pyscenedetect": 1.5, "shot_vs_decode": 0.8}  # from the issue
VISUAL = tuple(f"memory.stages.{name}" for name in ("probe", "shots", "keyframes", "image_vectors"))


@dataclass(frozen=True)
class Timing:
    """One contender's run."""

    seconds: float      # wall-clock
    speed: float        # video-seconds per wall-second
    detail: dict[str, Any]


def _timed(fn, duration: float) -> Timing:
    t0 = time.perf_counter()
    detail = fn() or {}
    dt = time.perf_counter() - t0
    return Timing(round(dt, 3), round(duration / dt, 2), detail)


def _decode_only(video: Path) -> dict[str, Any]:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(video), "-f", "null", "-"], check=True)
    return {}


def _pyscenedetect_default(video: Path) -> dict[str, Any]:
    from scenedetect import ContentDetector, detect
    scenes = detect(str(video), ContentDetector())
    return {"scenes": len(scenes), "cuts_s": [round(s[0].seconds, 3) for s in scenes[1:]]}


def _shot_stage(video: Path, duration: float) -> dict[str, Any]:
    from memory.stages.shots import ShotConfig, detect_cuts, split_spans
    cfg = ShotConfig()
    cuts, end = detect_cuts(video, cfg, duration)
    shots = split_spans([0.0, *[c.t_s for c in cuts if 0 < c.t_s < end], end], cfg.max_span_s)
    return {"cuts": len(cuts), "refined": sum(c.refined for c in cuts), "shots": len(shots),
            "cuts_s": [round(c.t_s, 3) for c in cuts], "config": asdict(cfg)}


def _visual_index(video: Path) -> dict[str, Any]:
    from memory.indexer import IndexerConfig
    from memory.library import Library, LibraryConfig
    with tempfile.TemporaryDirectory(prefix="citeclip-bench-") as d:
        with Library(d, config=LibraryConfig(indexer=IndexerConfig(stages=VISUAL))) as lib:
            out = lib.index_video(video)
            stages = {k: round(v["seconds"], 3) for k, v in lib.store.stages(out["video_id"]).items()}
    return {"shots": out["shots"], "keyframes": out["keyframes"], "visual": out["visual"], "stage_seconds": stages}


def _synthetic_check() -> dict[str, Any]:
    """The cut test of tests/test_shots.py with the settings benchmarked here."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from memory.stages.shots import ShotConfig, detect_cuts
    from tests.fixtures import synth
    fps = 25
    with tempfile.TemporaryDirectory() as d:
        truth = synth.cuts_video(Path(d) / "cuts.mp4", [1.2, 2.6, 4.04, 6.0, 7.48, 9.96, 12.5], 15.0, fps=fps,
                                 size=(640, 360))
        found = [c.t_s for c in detect_cuts(Path(d) / "cuts.mp4", ShotConfig())[0]]
    ok = len(found) == len(truth) and all(abs(f - t) <= 1 / fps + 1e-6 for f, t in zip(found, truth))
    return {"passed": ok, "truth_s": truth, "found_s": [round(f, 3) for f in found]}


def run(video: Path, skip_pyscenedetect: bool = False) -> dict[str, Any]:
    """All measurements on one file; the JSON the command prints."""
    from memory.stages.probe import probe_file
    facts = probe_file(video)
    duration = facts["duration_s"]
    res: dict[str, Any] = {"video": str(video), "duration_s": duration, "width": facts["width"],
                           "height": facts["height"], "fps": facts["fps"], "codec": facts["codec"]}
    res["decode_only"] = asdict(_timed(lambda: _decode_only(video), duration))
    if not skip_pyscenedetect:
        res["pyscenedetect_default"] = asdict(_timed(lambda: _pyscenedetect_default(video), duration))
    res["shot_stage"] = asdict(_timed(lambda: _shot_stage(video, duration), duration))
    res["visual_index"] = asdict(_timed(lambda: _visual_index(video), duration))
    dec, shot = res["decode_only"]["speed"], res["shot_stage"]["speed"]
    ratios = {"shot_vs_decode": round(shot / dec, 3),
              "visual_index_vs_decode": round(res["visual_index"]["speed"] / dec, 3)}
    if not skip_pyscenedetect:
        ratios["shot_vs_pyscenedetect"] = round(shot / res["pyscenedetect_default"]["speed"], 3)
    res["ratios"] = ratios
    res["synthetic_cuts"] = _synthetic_check()
    res["targets"] = TARGETS
    res["targets_met"] = {k: ratios[k] >= v for k, v in TARGETS.items() if k in ratios}
    return res


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench index", description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--skip-pyscenedetect", action="store_true", help="leave out the (slow) default baseline")
    args = ap.parse_args(argv)
    if not args.video.is_file():
        print(f"error: {args.video}: no such file", file=sys.stderr)
        return 1
    res = run(args.video.resolve(), args.skip_pyscenedetect)
    if args.json:
        print(json.dumps(res))
    else:
        print(json.dumps({k: res[k] for k in ("duration_s", "ratios", "targets_met")}, indent=1))
        for k in ("decode_only", "pyscenedetect_default", "shot_stage", "visual_index"):
            if k in res:
                print(f"{k:>22}: {res[k]['seconds']:8.1f} s  {res[k]['speed']:7.1f}x realtime")
    return 0
