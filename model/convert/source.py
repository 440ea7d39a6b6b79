"""What conversion reads from a Hugging Face GQA decoder: its parts, its attention-input statistics, and
the model itself (a local HF directory or a GGUF file) with calibration token rows."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class SourceParts:
    """The pieces of a HF GQA decoder that conversion reads."""

    text_config: Any  # the HF text config (hidden_size, heads, kv heads, head_dim, ...)
    decoder: nn.Module  # has .embed_tokens, .layers, .norm, .rotary_emb
    lm_head: nn.Linear  # output projection (may share the embedding's storage)
    tied: bool  # lm_head is the embedding matrix
    inv_freq: torch.Tensor  # [D/2] the source's RoPE inverse frequencies (scaling already applied)
    attention_scaling: float  # cos/sin factor from the rope init (1.0 for plain RoPE)
    mrope_section: tuple[int, ...] | None  # Qwen2-VL-style MRoPE sections over frequency indices
    context: int  # distances over which dropping a rotation is judged (the source's context, capped)


def source_parts(hf_model: nn.Module) -> SourceParts:
    """Find decoder, head and RoPE of a Llama/Qwen2/Qwen2-VL/Qwen2.5-VL model; clear error otherwise."""
    cfg = hf_model.config.get_text_config()
    candidates = [getattr(getattr(hf_model, "model", None), "language_model", None),
                  getattr(hf_model, "model", None), getattr(hf_model, "language_model", None), hf_model]
    decoder = next((m for m in candidates
                    if m is not None and hasattr(m, "layers") and hasattr(m, "embed_tokens")), None)
    if decoder is None:
        raise ValueError(f"cannot find a decoder with .layers/.embed_tokens in {type(hf_model).__name__}")
    if getattr(cfg, "hidden_act", "silu") != "silu":
        raise ValueError(f"only SwiGLU (silu) decoders convert, got hidden_act={cfg.hidden_act}")
    rp = dict(getattr(cfg, "rope_parameters", None) or {})
    if rp.get("mrope_interleaved") or getattr(cfg, "model_type", "").startswith("qwen3"):
        raise ValueError("interleaved MRoPE (Qwen3-VL) is not supported by this converter yet")
    if rp.get("rope_type", "default") in ("dynamic", "longrope"):
        raise ValueError(f"rope_type {rp['rope_type']!r} changes with length; convert a fixed-frequency model")
    lm_head = getattr(hf_model, "lm_head", None)
    lm_head = decoder.embed_tokens if lm_head is None else lm_head
    tied = lm_head.weight.data_ptr() == decoder.embed_tokens.weight.data_ptr()
    rot = decoder.rotary_emb
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    if rot.inv_freq.numel() * 2 != head_dim:
        raise ValueError("partial rotary embeddings are not supported (RoPE must cover the whole head)")
    mrope = getattr(rot, "mrope_section", None) or rp.get("mrope_section")
    return SourceParts(cfg, decoder, lm_head, tied, rot.inv_freq.detach().float().cpu(),
                       float(getattr(rot, "attention_scaling", 1.0)), tuple(mrope) if mrope else None,
                       min(int(getattr(cfg, "max_position_embeddings", 4096) or 4096), 32768))


@torch.no_grad()
def attention_input_moments(hf_model: nn.Module, calib_input_ids: torch.Tensor, batch: int = 4) -> list[torch.Tensor]:
    """Per layer E[x~ x~^T] (fp64, [hidden+1]^2) of the attention input x (after input_layernorm), x~ = [x; 1]."""
    parts = source_parts(hf_model)
    layers = parts.decoder.layers
    acc = [torch.zeros(parts.text_config.hidden_size + 1, parts.text_config.hidden_size + 1, dtype=torch.float64)
           for _ in layers]
    count = [0]

    def hook(i: int):
        def fn(_m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            x = out.detach().reshape(-1, out.shape[-1]).double().cpu()
            x = torch.cat((x, torch.ones(x.shape[0], 1, dtype=x.dtype)), dim=1)  # [N, hidden+1]
            acc[i] += x.T @ x
        return fn

    handles = [layer.input_layernorm.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    try:
        device = next(hf_model.parameters()).device
        for s in range(0, calib_input_ids.shape[0], batch):
            chunk = calib_input_ids[s:s + batch].to(device)
            hf_model(input_ids=chunk, use_cache=False)
            count[0] += chunk.numel()
    finally:
        for h in handles:
            h.remove()
    return [a / count[0] for a in acc]



def load_source(source: str | Path, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, Any]:
    """(HF model, tokenizer or None) from a local HF directory or a GGUF file (transformers `gguf_file=`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"source {source} does not exist (a local HF directory or a .gguf file)")
    kw: dict[str, Any] = {}
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"source file {source} is not a .gguf file")
        path, kw = path.parent, {"gguf_file": path.name}
    try:
        # SDPA explicitly: the decode bench measures transformers' own fast path
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, attn_implementation="sdpa", **kw)
    except ValueError:  # vision-language checkpoints (Qwen2-VL) are not "causal LM" auto classes
        from transformers import AutoModelForImageTextToText
        model = AutoModelForImageTextToText.from_pretrained(str(path), dtype=dtype, attn_implementation="sdpa", **kw)
    try:
        tok = AutoTokenizer.from_pretrained(str(path), **kw)
    except (OSError, ValueError, TypeError):  # a weights-only directory: conversion itself needs no tokenizer
        tok = None
    return model.eval(), tok


def calib_ids_from_text(tokenizer: Any, text: str, seq_len: int, max_tokens: int) -> torch.Tensor:
    """Tokenise calibration text into [N, seq_len] rows (at most max_tokens tokens)."""
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids[0][:max_tokens]
    n = ids.numel() // seq_len
    if n == 0:
        raise ValueError(f"calibration text has {ids.numel()} tokens, fewer than one row of {seq_len}")
    return ids[: n * seq_len].view(n, seq_len)
