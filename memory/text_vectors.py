"""The text_vectors stage: all-MiniLM-L6-v2 sentence vectors for speech segments and OCR spans.

Vectors go to the `vectors` table (kind "speech" or "ocr", ref_id = the speech / ocr row id), so
each kind gets its own FAISS file through `memory.index.VectorIndex`, with the same manifest and
rebuild rules as the image index. The same encoder embeds queries in `memory.text_search`.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.store import Store
from memory.weights import find_model

NAME = "text_vectors"
DEPENDS = ("speech", "ocr")
MODEL = "all-minilm-l6-v2"                           # asset name (memory.weights / model.assets)
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the vectors table and the FAISS manifest record


@dataclass(frozen=True)
class TextVectorConfig:
    """How texts are embedded."""

    batch_size: int = 64     # texts per forward pass
    max_chars: int = 1000    # longer texts are cut (MiniLM reads 256 word pieces anyway)
    threads: int = 0         # torch CPU threads; 0 leaves torch's default

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TextVectorConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


_models: dict[str, Any] = {}
_lock = threading.Lock()


def load_encoder(models_dir: str | os.PathLike | None) -> Any:
    """The SentenceTransformer from the local copy, loaded once per process."""
    folder = str(find_model(MODEL, models_dir))
    with _lock:
        if folder not in _models:
            from sentence_transformers import SentenceTransformer

            _models[folder] = SentenceTransformer(folder, device="cpu", local_files_only=True)
        return _models[folder]


def embed(texts: list[str], models_dir: str | os.PathLike | None,
          config: TextVectorConfig = TextVectorConfig()) -> np.ndarray:
    """L2-normalised float32 vectors [len(texts), 384] for the texts."""
    model = load_encoder(models_dir)
    if not texts:
        return np.zeros((0, model.get_embedding_dimension() or 384), np.float32)
    if config.threads:
        import torch
        torch.set_num_threads(config.threads)
    vecs = model.encode([t[: config.max_chars] for t in texts], batch_size=config.batch_size,
                        normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return np.ascontiguousarray(vecs, dtype=np.float32)


def compute(ctx: Any) -> dict[str, Any]:
    """Stage compute (worker process): the vectors of this video's speech and OCR rows."""
    config = TextVectorConfig.from_dict(ctx.config)
    store = ctx.open_store()
    try:
        rows = {kind: [(r["id"], r["text"]) for r in store.db.query(
            f"SELECT id, text FROM {kind} WHERE video_id = ? ORDER BY id", [ctx.video_id])]
            for kind in ("speech", "ocr")}
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
    for kind in ("speech", "ocr"):
        store.db.execute("DELETE FROM vectors WHERE video_id = ? AND kind = ?", [video_id, kind])
        part = result[kind]
        if part["ids"]:
            store.add_vectors(video_id, kind, result["model_id"], part["ids"], part["vecs"])
        info[f"{kind}_vectors"] = len(part["ids"])
    return info
