"""`python -m bench retrieval [--json]`: retrieval quality per channel and fused, and indexing cost per stage.

Quality: the 8-scene narrated fixture (tests/fixtures/narrated.py) is indexed with the real
weights; 24 queries (a paraphrase of each spoken sentence, a paraphrase of each screen line, and
an exact name from each scene) are searched per channel ("speech", "ocr", "fts") and fused (all
channels). A result counts for the scene it overlaps most; recall@k is the share of queries whose
scene is among the first k clips.

Cost: the 10-minute narrated fixture (1280x720, 25 fps, 60 scenes) is indexed and each stage's wall
time (worker start, model load and compute, as recorded in the `stages` table) is turned into
video-seconds per wall-second. The baseline measured in the same run is a plain PyAV decode of the
same file's video and audio, so a reader can tell a slow machine from a slow stage.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.datadir import DataDir

CHANNELS = ("speech", "ocr", "fts")
TEXT_STAGES = ("speech", "ocr", "text_vectors")


@dataclass(frozen=True)
class BenchConfig:
    """What the benchmark runs."""

    work: Path              # where the fixtures are generated (kept between runs: the long one takes ~1 min)
    cost: bool = True       # also index the 10-minute fixture
    ks: tuple[int, ...] = (1, 5)  # the k of recall@k


def _norm_words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9 ]", " ", text.lower()).split()


def wer(reference: list[str], hypothesis: list[str]) -> float:
    """Word error rate of the concatenated hypothesis against the concatenated reference."""
    import jiwer

    return float(jiwer.wer(" ".join(" ".join(_norm_words(t)) for t in reference),
                           " ".join(" ".join(_norm_words(t)) for t in hypothesis)))


def recall(lib: Any, video_id: int, truth: Any, channels: tuple[str, ...] | None, ks: tuple[int, ...]
           ) -> dict[str, Any]:
    """recall@k over the fixture's queries for one channel set (None: every channel, fused)."""
    found = {k: 0 for k in ks}
    by_kind: dict[str, dict[int, int]] = {}
    misses = []
    for q in truth.queries:
        clips = lib.search(video_id, q.text, k=max(ks), channels=list(channels) if channels else None)
        scenes = [truth.scene_of(c.start_s, c.end_s) for c in clips]
        kind = by_kind.setdefault(q.kind, {k: 0 for k in ks})
        for k in ks:
            if q.scene in scenes[:k]:
                found[k] += 1
                kind[k] += 1
        if not scenes or scenes[0] != q.scene:
            misses.append({"query": q.text, "want": q.scene, "got": scenes[:3]})
    n = len(truth.queries)
    per_kind_n = {kind: sum(1 for q in truth.queries if q.kind == kind) for kind in by_kind}
    return {
        **{f"recall@{k}": round(found[k] / n, 3) for k in ks},
        "by_query_kind": {kind: {f"recall@{k}": round(v[k] / per_kind_n[kind], 3) for k in ks}
                          for kind, v in by_kind.items()},
        "top1_misses": misses,
    }


def _decode_baseline(path: Path) -> float:
    """Seconds to decode every video frame and the audio with PyAV (threads on): the yardstick."""
    import av

    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for _ in c.decode(s):
            pass
    with av.open(str(path)) as c:
        if c.streams.audio:
            for _ in c.decode(c.streams.audio[0]):
                pass
    return time.perf_counter() - t0


def quality(config: BenchConfig) -> dict[str, Any]:
    """Index the short fixture and measure recall per channel and fused, plus the speech WER."""
    from memory.library import Library
    from tests.fixtures.narrated import make_narrated

    truth = make_narrated(config.work)
    with tempfile.TemporaryDirectory(prefix="citeclip-bench-") as tmp:
        lib = Library(Path(tmp) / "data", image_encoder=None)
        try:
            out = lib.index_video(truth.path)
            vid = out["video_id"]
            result: dict[str, Any] = {"video_s": truth.duration_s, "queries": len(truth.queries),
                                      "index": out, "channels": {}}
            for ch in CHANNELS:
                result["channels"][ch] = recall(lib, vid, truth, (ch,), config.ks)
            result["fused"] = recall(lib, vid, truth, None, config.ks)
            segs = lib.transcript(vid)
            result["speech_wer"] = round(wer([s.text for s in truth.speech], [s["text"] for s in segs]), 3)
            lines = {" ".join(_norm_words(r["text"])) for r in lib.screen_text(vid)}
            result["screen_lines_read"] = sum(" ".join(_norm_words(s.text)) in lines for s in truth.screen)
            result["screen_lines"] = len(truth.screen)
            best_single = max(result["channels"][ch]["recall@1"] for ch in CHANNELS)
            result["fused_beats_every_channel_at_1"] = result["fused"]["recall@1"] > best_single
        finally:
            lib.close()
    return result


def cost(config: BenchConfig) -> dict[str, Any]:
    """Index the 10-minute fixture; video-seconds per wall-second for each text stage and together."""
    from memory.library import Library
    from tests.fixtures.narrated import make_narrated

    truth = make_narrated(config.work, long=True)
    baseline_s = _decode_baseline(truth.path)
    with tempfile.TemporaryDirectory(prefix="citeclip-bench-") as tmp:
        lib = Library(Path(tmp) / "data", image_encoder=None)
        try:
            out = lib.index_video(truth.path)
            stages = lib.store.stages(out["video_id"])
            segs = lib.transcript(out["video_id"])
            ocr_rows = lib.screen_text(out["video_id"])
        finally:
            lib.close()
    dur = truth.duration_s
    per_stage = {name: {"seconds": round(stages[name]["seconds"], 2),
                        "video_s_per_wall_s": round(dur / stages[name]["seconds"], 2),
                        "info": stages[name]["info"]} for name in TEXT_STAGES if name in stages}
    text_total = sum(stages[n]["seconds"] for n in TEXT_STAGES if n in stages)
    lines = {" ".join(_norm_words(r["text"])) for r in ocr_rows}
    return {
        "video_s": dur,
        "stages": per_stage,
        "text_stages_seconds": round(text_total, 2),
        "text_stages_video_s_per_wall_s": round(dur / text_total, 2),
        "target_video_s_per_wall_s": 5.0,
        "decode_baseline_seconds": round(baseline_s, 2),
        "text_stages_vs_decode": round(text_total / baseline_s, 2),
        "speech_wer": round(wer([s.text for s in truth.speech], [s["text"] for s in segs]), 3),
        "screen_lines_read": sum(" ".join(_norm_words(s.text)) in lines for s in truth.screen),
        "screen_lines": len(truth.screen),
        "all_stages": {n: round(v["seconds"], 2) for n, v in stages.items()},
        "cpu_count": os.cpu_count(),
    }


def main(argv: list[str]) -> int:
    """Run the benchmark and print one JSON object (or a short summary without --json)."""
    p = argparse.ArgumentParser(prog="python -m bench retrieval", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "citeclip-bench-fixtures"),
                   help="where the fixture videos are generated and kept")
    p.add_argument("--no-cost", action="store_true", help="skip the 10-minute indexing-cost run")
    args = p.parse_args(argv)
    # A fresh data dir per run, but the one extracted copy of the weights (`python -m model fetch`).
    os.environ.setdefault("CITECLIP_MODELS", str(DataDir.resolve().models_dir))
    config = BenchConfig(work=Path(args.work), cost=not args.no_cost)
    t0 = time.perf_counter()
    try:
        result: dict[str, Any] = {"quality": quality(config)}
        if config.cost:
            result["cost"] = cost(config)
    except Exception as exc:  # noqa: BLE001 - the CLI contract: one line on stderr, non-zero exit
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(result))
    else:
        q = result["quality"]
        print(f"fused recall@1 {q['fused']['recall@1']} recall@5 {q['fused']['recall@5']}; " + ", ".join(
            f"{ch} r@1 {q['channels'][ch]['recall@1']}" for ch in CHANNELS))
        if "cost" in result:
            c = result["cost"]
            print(f"speech+ocr+text_vectors: {c['text_stages_video_s_per_wall_s']}x real time "
                  f"({c['text_stages_seconds']} s for {c['video_s']} s of video)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
