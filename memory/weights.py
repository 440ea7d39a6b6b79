"""Find a model's local folder for the memory's encoders without importing `model/` (DESIGN: the rooms
`memory` and `model` do not import each other).

`python -m model fetch` (model/assets.py) owns downloading and sha256 checks; it leaves each model in
`<models_dir>/<name>/` with a stamp file written only after every file matched its pinned hash.
This module only looks: $CITECLIP_MODEL_<NAME> (an explicit folder), the Hugging Face cache, then
the verified folder under the models dir, in the same order as `model.assets.resolve`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

STAMP = ".citeclip-verified.json"  # the name model/assets.py writes after verifying a folder

# What each model's folder must hold, and the Hugging Face repo with the same files.
REQUIRED: dict[str, tuple[str, tuple[str, ...]]] = {
    "faster-whisper-base": ("Systran/faster-whisper-base", ("config.json", "model.bin", "tokenizer.json",
                                                             "vocabulary.txt")),
    "faster-whisper-tiny.en": ("Systran/faster-whisper-tiny.en", ("config.json", "model.bin", "tokenizer.json",
                                                                   "vocabulary.txt")),
    "all-minilm-l6-v2": ("sentence-transformers/all-MiniLM-L6-v2", ("config.json", "model.safetensors",
                                                                     "modules.json", "tokenizer.json",
                                                                     "1_Pooling/config.json")),
}


class WeightsMissing(RuntimeError):
    """A model's files are not on this machine; the message is one line saying how to get them."""


def env_var(name: str) -> str:
    """The environment variable that points a model at an explicit folder (same rule as model.assets)."""
    return "CITECLIP_MODEL_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def _hf_cached(repo: str, files: tuple[str, ...]) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    folder = None
    for rel in files:
        found = try_to_load_from_cache(repo, rel)
        if not isinstance(found, str):
            return None
        snap = Path(found)
        for _ in Path(rel).parts:
            snap = snap.parent
        if folder is not None and snap != folder:
            return None
        folder = snap
    return folder


def find_model(name: str, models_dir: str | os.PathLike | None) -> Path:
    """The folder holding model `name`, or WeightsMissing with where it looked and how to provide it."""
    if name not in REQUIRED:
        raise WeightsMissing(f"unknown model {name!r}; known: {', '.join(REQUIRED)}")
    repo, files = REQUIRED[name]
    explicit = os.environ.get(env_var(name))
    if explicit:
        folder = Path(explicit).expanduser()
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise WeightsMissing(f"model {name}: {folder} (from {env_var(name)}) lacks {', '.join(missing)}")
        return folder
    cached = _hf_cached(repo, files)
    if cached:
        return cached
    if models_dir:
        folder = Path(models_dir) / name
        if (folder / STAMP).is_file() and all((folder / f).is_file() for f in files):
            return folder
    where = Path(models_dir) / name if models_dir else "(no models dir)"
    raise WeightsMissing(f"model {name} not found: looked in ${env_var(name)}, the Hugging Face cache ({repo}) "
                         f"and {where}; run `python -m model fetch --only {name}` or set {env_var(name)}=FOLDER")
