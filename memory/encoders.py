"""Image-text encoders: one protocol, a transformers CLIP/SigLIP backend and an open_clip backend.

Weights come only from a local folder or the Hugging Face cache (never downloaded here, never
random): when none are found, `resolve_encoder` returns None and the video is recorded with
`visual: false`. An encoder is described by an `EncoderSpec` (picklable), so that the worker
process of the image_vectors stage loads the same model the main process searches with.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from assets.errors import UserError


# Names looked up in the Hugging Face cache, best first (CLIP and SigLIP load through transformers).
KNOWN_HF_MODELS = (
    "openai/clip-vit-base-patch32",
    "openai/clip-vit-base-patch16",
    "google/siglip-base-patch16-224",
    "openai/clip-vit-large-patch14",
    "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
)
# open_clip names tried in its own cache when open_clip (and torchvision) import.
KNOWN_OPEN_CLIP = (("ViT-B-32", "laion2b_s34b_b79k"),)


class EncoderUnavailable(UserError, RuntimeError):
    """An encoder was asked for by name or path, and its weights are not here."""


@runtime_checkable
class ImageTextEncoder(Protocol):
    """Maps images and texts into one space; outputs are float32 [n, dim], L2-normalised."""

    model_id: str
    dim: int

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EncoderSpec:
    """Where an encoder's weights are and which backend loads them (picklable)."""

    backend: str    # "transformers" or "open_clip"
    path: str       # a local folder (transformers) or an open_clip model name
    model_id: str   # names the vector space: vectors of different model_ids never mix
    pretrained: str = ""  # open_clip: the pretrained tag or checkpoint file


@dataclass(frozen=True)
class EncoderConfig:
    """How encoders run."""

    batch_size: int = 32          # images or texts per forward pass
    device: str | None = None     # None: CUDA when available, else CPU
    fp16_on_cuda: bool = True     # half precision on CUDA (CLIP loses nothing measurable)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _local_model_id(folder: Path) -> str:
    """A stable id for a local folder of weights: its name plus a digest of config and weights."""
    h = hashlib.sha256()
    cfg = folder / "config.json"
    if cfg.is_file():
        h.update(cfg.read_bytes())
    for w in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        # Size and the first MiB tell weight files apart without reading gigabytes.
        h.update(w.name.encode())
        h.update(str(w.stat().st_size).encode())
        with w.open("rb") as f:
            h.update(f.read(1 << 20))
    return f"local/{folder.name}@{h.hexdigest()[:12]}"


def _is_transformers_folder(p: Path) -> bool:
    if not (p / "config.json").is_file():
        return False
    try:
        model_type = json.loads((p / "config.json").read_text()).get("model_type", "")
    except (OSError, json.JSONDecodeError):
        return False
    return model_type in ("clip", "siglip", "siglip2")


def spec_for_path(path: str | os.PathLike) -> EncoderSpec:
    """The spec of a local transformers CLIP/SigLIP folder, or EncoderUnavailable."""
    p = Path(path).expanduser()
    if not _is_transformers_folder(p):
        raise EncoderUnavailable(f"{p}: not a CLIP/SigLIP model folder (config.json with model_type clip/siglip)")
    return EncoderSpec(backend="transformers", path=str(p.resolve()), model_id=_local_model_id(p.resolve()))


def _from_hf_cache(name: str) -> EncoderSpec | None:
    try:
        from huggingface_hub import snapshot_download
        folder = Path(snapshot_download(name, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached (or hub library absent): simply not available
        return None
    if not _is_transformers_folder(folder):
        return None
    return EncoderSpec(backend="transformers", path=str(folder), model_id=name)


def _open_clip_spec() -> EncoderSpec | None:
    try:
        import open_clip  # noqa: F401 - needs torchvision; absent on the CPU profile
        from huggingface_hub import snapshot_download
    except Exception:  # noqa: BLE001
        return None
    for arch, tag in KNOWN_OPEN_CLIP:
        try:
            repo = f"timm/{arch}.{tag}" if "/" not in tag else tag
            folder = Path(snapshot_download(repo, local_files_only=True))
        except Exception:  # noqa: BLE001
            continue
        ckpt = next(iter(sorted(folder.glob("open_clip_*.safetensors")) + sorted(folder.glob("*.bin"))), None)
        if ckpt is not None:
            return EncoderSpec(backend="open_clip", path=arch, model_id=f"open_clip/{arch}/{tag}",
                               pretrained=str(ckpt))
    return None


def resolve_encoder(ref: str | os.PathLike | None = "auto", models_dir: str | os.PathLike | None = None
                    ) -> EncoderSpec | None:
    """Find image-text weights: None when there are none (the visual channel is then unavailable).

    `ref` is "auto" (env CITECLIP_IMAGE_ENCODER, then `<models_dir>/image-text/*`, then the
    Hugging Face cache, then open_clip's), a local folder, a Hugging Face name (cache only), or None.
    """
    if ref is None:
        return None
    if str(ref) != "auto":
        if Path(ref).expanduser().exists():
            return spec_for_path(ref)
        spec = _from_hf_cache(str(ref))
        if spec is None:
            raise EncoderUnavailable(f"image-text model {ref!r} is neither a local folder "
                                     "nor in the Hugging Face cache")
        return spec
    env = os.environ.get("CITECLIP_IMAGE_ENCODER")
    if env:
        return resolve_encoder(env, models_dir)
    if models_dir:
        base = Path(models_dir) / "image-text"
        if base.is_dir():
            for sub in sorted(base.iterdir()):
                if _is_transformers_folder(sub):
                    return spec_for_path(sub)
    for name in KNOWN_HF_MODELS:
        spec = _from_hf_cache(name)
        if spec is not None:
            return spec
    return _open_clip_spec()


class TransformersEncoder:
    """CLIP or SigLIP through transformers (PIL image processing: no torchvision needed)."""

    def __init__(self, spec: EncoderSpec, config: EncoderConfig = EncoderConfig()) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        self.spec = spec
        self.model_id = spec.model_id
        self.config = config
        self.device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = torch.float16 if (self.device.startswith("cuda") and config.fp16_on_cuda) else torch.float32
        self.model = AutoModel.from_pretrained(spec.path, local_files_only=True, dtype=self.dtype)
        self.model.to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(spec.path, local_files_only=True)
        self.processor = AutoImageProcessor.from_pretrained(spec.path, local_files_only=True)
        model_type = self.model.config.model_type
        # SigLIP was trained on texts padded to a fixed 64 tokens; CLIP on padded-to-longest batches.
        self._pad = {"padding": "max_length", "max_length": 64} if model_type.startswith("siglip") \
            else {"padding": True}
        self._max_len = getattr(self.model.config.text_config, "max_position_embeddings", 77)
        self.dim = int(self.encode_texts(["a"]).shape[1])

    def _features(self, out: object) -> "torch.Tensor":  # noqa: F821
        # transformers 5 returns a model output whose pooler_output is the projected embedding.
        return out if hasattr(out, "shape") else out.pooler_output  # type: ignore[attr-defined]

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Images -> float32 [n, dim], L2-normalised."""
        import torch
        outs = []
        for i in range(0, len(images), self.config.batch_size):
            batch = [im.convert("RGB") for im in images[i:i + self.config.batch_size]]
            pix = self.processor(images=batch, return_tensors="pt")["pixel_values"]  # [b, 3, H, W]
            with torch.inference_mode():
                feats = self._features(self.model.get_image_features(
                    pixel_values=pix.to(self.device, self.dtype)))  # [b, dim]
            outs.append(feats.float().cpu().numpy())
        return _normalise(np.concatenate(outs)) if outs else np.zeros((0, getattr(self, "dim", 0)), np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> float32 [n, dim], L2-normalised."""
        import torch
        outs = []
        for i in range(0, len(texts), self.config.batch_size):
            tok = self.tokenizer(list(texts[i:i + self.config.batch_size]), truncation=True,
                                 max_length=self._pad.get("max_length", self._max_len),
                                 return_tensors="pt", **{k: v for k, v in self._pad.items() if k != "max_length"})
            tok = {k: v.to(self.device) for k, v in tok.items() if k in ("input_ids", "attention_mask")}
            if self._pad.get("padding") == "max_length":
                tok.pop("attention_mask", None)  # SigLIP's text tower attends to the padding too
            with torch.inference_mode():
                feats = self._features(self.model.get_text_features(**tok))  # [b, dim]
            outs.append(feats.float().cpu().numpy())
        return _normalise(np.concatenate(outs)) if outs else np.zeros((0, getattr(self, "dim", 0)), np.float32)


class OpenClipEncoder:
    """open_clip models (used when open_clip and torchvision import: the GPU extra)."""

    def __init__(self, spec: EncoderSpec, config: EncoderConfig = EncoderConfig()) -> None:
        import open_clip
        import torch

        self.spec = spec
        self.model_id = spec.model_id
        self.config = config
        self.device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model, _, self.preprocess = open_clip.create_model_and_transforms(spec.path, pretrained=spec.pretrained)
        self.model.to(self.device).eval()
        if self.device.startswith("cuda") and config.fp16_on_cuda:
            self.model.half()
        self.tokenizer = open_clip.get_tokenizer(spec.path)
        self.dim = int(self.encode_texts(["a"]).shape[1])

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch
        outs = []
        dtype = next(self.model.parameters()).dtype
        for i in range(0, len(images), self.config.batch_size):
            pix = torch.stack([self.preprocess(im.convert("RGB")) for im in images[i:i + self.config.batch_size]])
            with torch.inference_mode():
                outs.append(self.model.encode_image(pix.to(self.device, dtype)).float().cpu().numpy())
        return _normalise(np.concatenate(outs)) if outs else np.zeros((0, self.dim), np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch
        outs = []
        for i in range(0, len(texts), self.config.batch_size):
            tok = self.tokenizer(list(texts[i:i + self.config.batch_size])).to(self.device)
            with torch.inference_mode():
                outs.append(self.model.encode_text(tok).float().cpu().numpy())
        return _normalise(np.concatenate(outs)) if outs else np.zeros((0, getattr(self, "dim", 0)), np.float32)


def load_encoder(spec: EncoderSpec, config: EncoderConfig = EncoderConfig()) -> ImageTextEncoder:
    """Load the encoder a spec names (raises EncoderUnavailable when it cannot be loaded)."""
    try:
        if spec.backend == "open_clip":
            return OpenClipEncoder(spec, config)
        return TransformersEncoder(spec, config)
    except (OSError, ValueError, ImportError) as exc:
        raise EncoderUnavailable(f"cannot load image-text model {spec.model_id}: {' '.join(str(exc).split())}") from exc
