"""The image_vectors stage: an image-text vector for every keyframe, stored in SQLite.

With no image-text weights (`config["encoder"]` is None) the stage records the video as
`visual = 0` and stores nothing: the visual channel is unavailable, never faked.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from memory.encoders import EncoderConfig, load_encoder
from memory.stages import StageContext
from memory.store import Store

NAME = "image_vectors"
DEPENDS = ("keyframes",)


def compute(ctx: StageContext) -> dict[str, Any]:
    """Stage entry (worker process): encode the keyframe thumbnails with the configured encoder."""
    spec = ctx.config.get("encoder")
    if spec is None:
        return {"model_id": None, "ids": [], "vecs": None}
    enc = load_encoder(spec, EncoderConfig(batch_size=int(ctx.config.get("batch_size", 32))))
    store = ctx.open_store()
    try:
        frames = store.frames(ctx.video_id)
    finally:
        store.close()
    ids: list[int] = []
    chunks: list[np.ndarray] = []
    step = 64
    for i in range(0, len(frames), step):
        batch = frames[i:i + step]
        images = []
        for f in batch:
            with Image.open(Path(ctx.data_root) / f["thumb"]) as im:
                images.append(im.convert("RGB"))
        chunks.append(enc.encode_images(images))  # [b, dim]
        ids += [f["id"] for f in batch]
        ctx.report(min(len(frames), i + step) / max(1, len(frames)), f"{len(ids)}/{len(frames)} frames")
    vecs = np.concatenate(chunks) if chunks else np.zeros((0, enc.dim), np.float32)  # [n, dim]
    return {"model_id": enc.model_id, "ids": ids, "vecs": vecs.astype(np.float32)}


def write(store: Store, video_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Stage entry (main process, in a transaction): the vectors, and whether the video is visual."""
    store.delete_vectors(video_id, "image")
    if result["model_id"] is None:
        store.update_video(video_id, visual=0)
        return {"visual": False, "vectors": 0}
    store.add_vectors(video_id, "image", result["model_id"], result["ids"], result["vecs"])
    store.update_video(video_id, visual=1)
    return {"visual": True, "vectors": len(result["ids"]), "model_id": result["model_id"]}
