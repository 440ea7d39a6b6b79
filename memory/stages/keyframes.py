"""The keyframes stage: representative frames of every shot, saved as upright JPEG thumbnails.

A shot's frames sit at evenly spaced points inside it (its middle, with one frame per shot).
Where a key frame of the stream lies inside the shot, the one nearest to such a point is taken
instead: it decodes on its own after a seek, where an arbitrary frame costs decoding from the
previous key frame onward (on a 10-minute 720p h264 test file: 5 s instead of 19 s for 68 frames).
"""
from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from memory.decode import frames_at, keyframe_times
from memory.stages import StageContext
from memory.store import Store

NAME = "keyframes"
DEPENDS = ("shots",)


@dataclass(frozen=True)
class KeyframeConfig:
    """Frame choice and thumbnail format."""

    per_shot: int = 1               # frames per shot, evenly spaced inside it
    snap_to_keyframe: bool = True   # take a stream key frame within `snap_window` of the point instead
    snap_window: float = 0.5        # as a fraction of the shot's length on either side of the point
                                    # (0.5: anywhere in it)
    thumb_max_side: int = 384       # thumbnails are at most this many pixels on their longer side
    jpeg_quality: int = 85          # JPEG quality of the thumbnails


def choose_times(shots: list[tuple[float, float]], keyframes: list[float], config: KeyframeConfig
                 ) -> list[list[float]]:
    """The frame times of each shot: evenly spaced points, snapped to nearby key frames."""
    out = []
    for a, b in shots:
        span = max(b - a, 1e-6)
        ts = []
        for j in range(config.per_shot):
            t = a + span * (j + 0.5) / config.per_shot
            if config.snap_to_keyframe and keyframes:
                w = config.snap_window * span / config.per_shot
                i = bisect.bisect_left(keyframes, t)
                near = [k for k in keyframes[max(0, i - 1): i + 1] if abs(k - t) <= w and a <= k < b]
                if near:
                    t = min(near, key=lambda k: abs(k - t))
            ts.append(round(t, 6))
        out.append(ts)
    return out


def compute(ctx: StageContext) -> dict[str, Any]:
    """Stage entry (worker process): decode the chosen frames and write their thumbnails."""
    cfg = KeyframeConfig(**ctx.config)
    store = ctx.open_store()
    try:
        shots = store.shots(ctx.video_id)
    finally:
        store.close()
    kf = keyframe_times(ctx.path) if cfg.snap_to_keyframe else []
    times = choose_times([(s["start_s"], s["end_s"]) for s in shots], kf, cfg)
    wanted = sorted({t for ts in times for t in ts})
    thumbs_rel = Path("thumbs") / str(ctx.video_id)
    folder = Path(ctx.data_root) / thumbs_rel
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[float, tuple[float, str]] = {}  # wanted time -> (decoded frame time, relative path)
    for n, (t, (ft, img)) in enumerate(zip(wanted, frames_at(ctx.path, wanted, max_side=cfg.thumb_max_side))):
        rel = thumbs_rel / f"{t:010.3f}.jpg"
        img.convert("RGB").save(Path(ctx.data_root) / rel, "JPEG", quality=cfg.jpeg_quality)
        files[t] = (ft, str(rel))
        ctx.report((n + 1) / len(wanted), f"{n + 1}/{len(wanted)} frames")
    frames = []
    for s, ts in zip(shots, times):
        for j, t in enumerate(ts):
            ft, rel = files[t]
            # The decoded frame's own time, kept inside the shot (a frame on screen at t started earlier).
            frames.append({"shot_id": s["id"], "t_s": round(min(max(ft, s["start_s"]), s["end_s"]), 6),
                           "thumb": rel, "main": j == len(ts) // 2})
    return {"frames": frames, "config": asdict(cfg)}


def write(store: Store, video_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Stage entry (main process, in a transaction): frames rows and each shot's keyframe and thumb."""
    store.replace_frames(video_id, result["frames"])
    return {"keyframes": len(result["frames"])}
