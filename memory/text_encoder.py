"""The sentence encoder of on-screen and spoken text: all-MiniLM-L6-v2, from the local copy.

The text_vectors stage embeds speech segments and OCR lines with it, and the text search channels
embed queries with it, so both sides of a comparison come from the same model.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assets import find_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL = "all-minilm-l6-v2"                           # asset name in the weights registry
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"  # what the vectors table and the FAISS manifest record


@dataclass(frozen=True)
class TextEncoderConfig:
    """How texts are embedded."""

    batch_size: int = 64     # texts per forward pass
    max_chars: int = 1000    # longer texts are cut (MiniLM reads 256 word pieces anyway)
    threads: int = 0         # torch CPU threads; 0 leaves torch's default

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TextEncoderConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


_models: dict[str, SentenceTransformer] = {}
_lock = threading.Lock()


def load_encoder(models_dir: str | os.PathLike | None) -> SentenceTransformer:
    """The SentenceTransformer from the local copy, loaded once per process."""
    folder = str(find_model(MODEL, models_dir))
    with _lock:
        if folder not in _models:
            from sentence_transformers import SentenceTransformer

            _models[folder] = SentenceTransformer(folder, device="cpu", local_files_only=True)
        return _models[folder]


def embed(texts: list[str], models_dir: str | os.PathLike | None,
          config: TextEncoderConfig = TextEncoderConfig()) -> np.ndarray:
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
