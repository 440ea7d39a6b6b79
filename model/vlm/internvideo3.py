"""Loading an InternVideo3-format checkpoint (a Qwen3-VL whose attention is DeepSeek-style MLA) directly.

The layout, as InternVideo3's training code (OpenGVLab/InternVideo, InternVideo3_sft, module/attention/mla.py)
defines it: per layer `q_proj` (hidden -> heads x (qk_nope + qk_rope), with a bias) or q_a_proj/q_a_layernorm/
q_b_proj, `kv_a_proj_with_mqa` (hidden -> kv_lora_rank + qk_rope, biased with qkv_bias), no latent norm,
`kv_b_proj` (kv_lora_rank -> heads x (qk_nope + v_head)), `o_proj`; softmax scale (qk_nope + qk_rope)^-0.5.
The RoPE dims of q_pe and k_pe are adjacent pairs (2i, 2i + 1), turned by frequency theta^(-2i/qk_rope) and
Qwen3-VL's interleaved MRoPE over (time, height, width). The rest of the names are Qwen3-VL's in transformers
(`model.language_model.*`, `model.visual.*`, `lm_head`). Here the pairs are laid out in rotate-half order,
sorted by MRoPE section (model.vlm.mrope), which changes no dot product.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors import safe_open

from assets.errors import UserError
from model.lm import LMConfig
from model.m2la import M2LAConfig
from model.vlm.config import VLMConfig
from model.vlm.model import M2LAVisionLM
from model.vlm.mrope import rotate_half_rows, section_order

TEXT_PREFIX = "model.language_model."
_ATTN_NAMES = {"kv_a_proj_with_mqa": "kv_a_proj", "q_a_layernorm": "q_a_norm"}


class CheckpointMismatch(UserError):
    """A checkpoint tensor that the config does not account for (missing, extra or of another shape)."""


def _rope_settings(text: dict[str, Any]) -> tuple[float, tuple[int, ...]]:
    """(rope theta, MRoPE sections) wherever this config keeps them."""
    rp = dict(text.get("rope_parameters") or text.get("rope_scaling") or {})
    theta = float(rp.get("rope_theta", text.get("rope_theta", 5000000.0)))
    return theta, tuple(rp.get("mrope_section") or (24, 20, 20))


def text_config(cfg: dict[str, Any]) -> LMConfig:
    """Our decoder config from an InternVideo3 config.json (its text_config, or the top level)."""
    t = cfg.get("text_config") or cfg
    theta, sections = _rope_settings(t)
    d_rope = int(t["qk_rope_head_dim"])
    order, counts = section_order(d_rope // 2, sections, interleaved=True)
    inv = 1.0 / theta ** (torch.arange(0, d_rope, 2, dtype=torch.float64) / d_rope)
    scale = (int(t["qk_nope_head_dim"]) + d_rope) ** -0.5
    attn = M2LAConfig(hidden=int(t["hidden_size"]), heads=int(t["num_attention_heads"]), d_nope=int(t["qk_nope_head_dim"]),
                      d_rope=d_rope, d_v=int(t["v_head_dim"]), kv_rank=int(t["kv_lora_rank"]),
                      q_rank=t.get("q_lora_rank"), latent_norm=False, rms_eps=float(t.get("rms_norm_eps", 1e-6)),
                      qkv_bias=bool(t.get("qkv_bias", True)), o_bias=bool(t.get("o_bias", False)), softmax_scale=scale,
                      rope_theta=theta, rope_inv_freq=tuple(float(inv[f]) for f in order), mrope_section=counts)
    return LMConfig(vocab_size=int(t["vocab_size"]), hidden=attn.hidden, intermediate=int(t["intermediate_size"]),
                    attn=(attn,) * int(t["num_hidden_layers"]), rms_eps=attn.rms_eps,
                    tie_embeddings=bool(cfg.get("tie_word_embeddings", t.get("tie_word_embeddings", False))),
                    source="InternVideo3 (MLA) checkpoint")


def vlm_config(cfg: dict[str, Any]) -> VLMConfig:
    """The whole model's config: Qwen3-VL's vision tower and token ids, our decoder."""
    from transformers import Qwen3VLConfig

    ids = {k: cfg[k] for k in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
           if k in cfg}
    hf = Qwen3VLConfig(vision_config=cfg.get("vision_config"), **ids).to_dict()
    return VLMConfig("qwen3_vl", hf, text_config(cfg), None, source="InternVideo3 (MLA) checkpoint")


def _our_name(name: str) -> str | None:
    """Our parameter name for a checkpoint tensor name (None: not a tensor of this model)."""
    if name.startswith("model.visual."):
        return "visual." + name[len("model.visual."):]
    if name == "lm_head.weight":
        return "text.lm_head.weight"
    if name.startswith(TEXT_PREFIX):
        rest = name[len(TEXT_PREFIX):]
        for theirs, ours in _ATTN_NAMES.items():
            rest = rest.replace(f".self_attn.{theirs}.", f".self_attn.{ours}.")
        return "text." + rest
    return None


def _reorder_rope_rows(name: str, t: torch.Tensor, attn: M2LAConfig, rope: torch.Tensor) -> torch.Tensor:
    """Query/latent rows whose RoPE dims are adjacent pairs, laid out in rotate-half order by section
    (`rope` [d_rope]: the source row of each of our RoPE rows)."""
    if re.search(r"self_attn\.(q_proj|q_b_proj)\.", name):
        heads = t.reshape(attn.heads, attn.d_nope + attn.d_rope, *t.shape[1:])
        idx = torch.cat((torch.arange(attn.d_nope), attn.d_nope + rope))
        return heads[:, idx].reshape(t.shape)
    if ".self_attn.kv_a_proj." in name:
        return torch.cat((t[: attn.kv_rank], t[attn.kv_rank:][rope]))
    return t


def _tensors(directory: Path) -> Iterator[tuple[str, Any]]:
    """(name, its open safetensors file) of every tensor in the folder's safetensors files."""
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise UserError(f"no .safetensors weights in {directory.name}")
    for f in files:
        handle = safe_open(str(f), framework="pt")
        for name in handle.keys():
            yield name, handle


def load_internvideo3(directory: str | Path, dtype: torch.dtype | None = None, device: torch.device | str = "cpu",
                      attn_implementation: str = "sdpa") -> M2LAVisionLM:
    """An InternVideo3-format folder (config.json + safetensors) as an M2LAVisionLM.

    Every tensor must be one the config implies, of the shape it implies; the first that is not raises a
    CheckpointMismatch (a UserError) naming it.
    """
    d = Path(directory)
    try:
        cfg = json.loads((d / "config.json").read_text())
    except (OSError, ValueError):
        raise UserError(f"{d.name} has no readable config.json") from None
    try:
        config = vlm_config(cfg)
    except KeyError as e:
        raise UserError(f"{d.name}/config.json lacks {e.args[0]!r}, which an InternVideo3 (MLA) config has") from None
    text = cfg.get("text_config") or cfg
    order, _ = section_order(config.text.attn[0].d_rope // 2, _rope_settings(text)[1], interleaved=True)
    rope = rotate_half_rows(order, interleaved_pairs=True)
    model = M2LAVisionLM(config, attn_implementation, text_device="meta")
    expected = {k: v.shape for k, v in model.state_dict().items()}
    if config.text.tie_embeddings:
        expected.pop("text.lm_head.weight")
    state: dict[str, torch.Tensor] = {}
    for name, handle in _tensors(d):
        ours = _our_name(name)
        if ours is None or ours not in expected:
            raise CheckpointMismatch(f"checkpoint tensor {name} is not part of the model its config.json describes")
        shape = tuple(handle.get_slice(name).get_shape())
        if shape != tuple(expected[ours]):
            raise CheckpointMismatch(f"checkpoint tensor {name} has shape {list(shape)}, the config implies "
                                     f"{list(expected[ours])}")
        layer = re.search(r"layers\.(\d+)\.", ours)
        t = handle.get_tensor(name)
        if layer and ".self_attn." in ours:
            t = _reorder_rope_rows(ours, t, config.text.attn[int(layer[1])], rope)
        state[ours] = t
    missing = sorted(set(expected) - set(state))
    if missing:
        raise CheckpointMismatch(f"the checkpoint lacks tensor {_their_name(missing[0])}, which its config.json implies")
    if config.text.tie_embeddings:
        state["text.lm_head.weight"] = state["text.embed_tokens.weight"]
    model.load_state_dict({k: v.to(device) for k, v in state.items()}, assign=True, strict=True)
    if config.text.tie_embeddings:
        model.text.lm_head.weight = model.text.embed_tokens.weight
    model.to(device)
    if dtype is not None:
        model.to(dtype)
    return model.eval()


def _their_name(ours: str) -> str:
    """The checkpoint name of one of our parameter names (for messages)."""
    if ours.startswith("visual."):
        return "model.visual." + ours[len("visual."):]
    if ours == "text.lm_head.weight":
        return "lm_head.weight"
    rest = ours[len("text."):]
    for theirs, mine in _ATTN_NAMES.items():
        rest = rest.replace(f".self_attn.{mine}.", f".self_attn.{theirs}.")
    return TEXT_PREFIX + rest
