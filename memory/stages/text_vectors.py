"""The text_vectors stage: all-MiniLM-L6-v2 sentence vectors for speech segments and OCR spans.

Vectors go to the `vectors` table (kind "speech" or "ocr", ref_id = the speech / ocr row id), so
each kind gets its own FAISS file through `memory.index.VectorIndex`, with the same manifest and
rebuild rules as the image index. The same encoder (`memory.text_encoder`) embeds queries.
"""
from __future__ import annotations

from typing import Any

from memory.stages import StageContext
from memory.store import Store
from memory.text_encoder import MODEL_ID, TextEncoderConfig, embed

NAME = "text_vectors"
DEPENDS = ("speech", "ocr")
KINDS = ("speech", "ocr")  # the text tables this stage embeds


def compute(ctx: StageContext) -> dict[str, Any]:
    """Stage compute (worker process): the vectors of this video's speech and OCR rows."""
    config = TextEncoderConfig.from_dict(ctx.config)
    store = ctx.open_store()
    try:
        rows = {kind: store.texts(kind, ctx.video_id) for kind in KINDS}
    finally:
        store.close()
    out: dict[str, Any] = {"model_id": MODEL_ID}
    total = max(1, sum(len(v) for v in rows.values()))
    done = 0
    for kind, items in rows.items():
        ctx.report(done / total, f"embedding {len(items)} {kind} texts")
        out[kind] = {"ids": [i for i, _ in items], "vecs": embed([t for _, t in items], ctx.models_dir, config)}
        done += len(items)
    return out


def write(store: Store, video_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Replace the video's speech and OCR vectors (inside the caller's transaction)."""
    info: dict[str, Any] = {"model_id": result["model_id"]}
    for kind in KINDS:
        store.delete_vectors(video_id, kind)
        part = result[kind]
        if part["ids"]:
            store.add_vectors(video_id, kind, result["model_id"], part["ids"], part["vecs"])
        info[f"{kind}_vectors"] = len(part["ids"])
    return info
