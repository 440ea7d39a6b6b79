"""Load DeepSeek-format MLA checkpoints (DeepSeek-V3 layout, as TransMLA writes them) into M2LA.

Names read per layer: `self_attn.q_proj` or `q_a_proj`/`q_a_layernorm`/`q_b_proj`, `kv_a_proj_with_mqa`,
`kv_a_layernorm`, `kv_b_proj`, `o_proj`; dense SwiGLU MLPs only (MoE layers are refused with a
clear error). DeepSeek lays RoPE dims out as interleaved pairs (x0,x1),(x2,x3)...; our attention uses
the rotate-half layout, so the rotated rows of the query and of the shared key are permuted on load.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from model.lm import LMConfig, M2LAForCausalLM
from model.m2la import M2LAConfig


def _hf_config(config: Any) -> Any:
    """A transformers DeepseekV3Config from a config object or a config.json dict."""
    from transformers import DeepseekV3Config

    if isinstance(config, dict):
        d = {k: v for k, v in config.items() if k not in ("architectures", "auto_map", "model_type")}
        return DeepseekV3Config(**d)
    return config


def _deinterleave(d_rope: int) -> torch.Tensor:
    """Row order taking interleaved pairs to rotate-half: new i <- old 2i, new d/2 + i <- old 2i + 1."""
    return torch.cat((torch.arange(0, d_rope, 2), torch.arange(1, d_rope, 2)))


def attention_config(cfg: Any) -> M2LAConfig:
    """M2LAConfig for one attention layer of a DeepSeek-V3-style config (RoPE as transformers computes it)."""
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3RotaryEmbedding, yarn_apply_mscale

    rot = DeepseekV3RotaryEmbedding(cfg)
    qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
    rp = dict(cfg.rope_parameters or {})
    return M2LAConfig(
        hidden=cfg.hidden_size, heads=cfg.num_attention_heads, d_nope=cfg.qk_nope_head_dim,
        d_rope=cfg.qk_rope_head_dim, d_v=cfg.v_head_dim, kv_rank=cfg.kv_lora_rank, q_rank=cfg.q_lora_rank,
        latent_norm=True, rms_eps=cfg.rms_norm_eps, qkv_bias=bool(cfg.attention_bias), o_bias=bool(cfg.attention_bias),
        softmax_scale=float(yarn_apply_mscale(rp, qk ** -0.5)), rope_theta=float(rp.get("rope_theta", 10000.0)),
        rope_scaling=rp, rope_inv_freq=tuple(float(x) for x in rot.inv_freq.double()),
        rope_attention_scaling=float(rot.attention_scaling),
    )


def deepseek_to_m2la(config: Any, state: dict[str, torch.Tensor]) -> M2LAForCausalLM:
    """Build an M2LAForCausalLM from a DeepSeek-V3-format config and state dict (HF key names)."""
    cfg = _hf_config(config)
    n_layers = cfg.num_hidden_layers
    if (cfg.first_k_dense_replace or 0) < n_layers and (cfg.n_routed_experts or 0) > 0:
        raise ValueError(f"MoE layers are not supported: first_k_dense_replace={cfg.first_k_dense_replace} "
                         f"< num_hidden_layers={n_layers}")
    acfg = attention_config(cfg)
    lm_cfg = LMConfig(vocab_size=cfg.vocab_size, hidden=cfg.hidden_size, intermediate=cfg.intermediate_size,
                      attn=(acfg,) * n_layers, rms_eps=cfg.rms_norm_eps,
                      tie_embeddings=bool(cfg.tie_word_embeddings), source="deepseek_v3 checkpoint")
    pre = "model." if "model.embed_tokens.weight" in state else ""
    h, dn, dr = acfg.heads, acfg.d_nope, acfg.d_rope
    perm = _deinterleave(dr) if getattr(cfg, "rope_interleave", True) else torch.arange(dr)
    q_perm = torch.cat([torch.cat((torch.arange(dn), dn + perm)) + i * (dn + dr) for i in range(h)])
    kv_perm = torch.cat((torch.arange(acfg.kv_rank), acfg.kv_rank + perm))
    renames = {"q_a_layernorm": "q_a_norm", "kv_a_layernorm": "kv_norm", "kv_a_proj_with_mqa": "kv_a_proj"}
    sd: dict[str, torch.Tensor] = {"embed_tokens.weight": state[f"{pre}embed_tokens.weight"],
                                   "norm.weight": state[f"{pre}norm.weight"]}
    if not cfg.tie_word_embeddings:
        sd["lm_head.weight"] = state["lm_head.weight"]
    for i in range(n_layers):
        lp = f"{pre}layers.{i}."
        for key, val in state.items():
            if not key.startswith(lp):
                continue
            name = key[len(lp):]
            mod, _, leaf = name.rpartition(".")
            parts = mod.split(".")
            if parts[0] == "self_attn":
                parts[1] = renames.get(parts[1], parts[1])
                if parts[1] in ("q_proj", "q_b_proj"):
                    val = val[q_perm]
                elif parts[1] == "kv_a_proj":
                    val = val[kv_perm]
            sd[f"layers.{i}.{'.'.join(parts)}.{leaf}"] = val
    if acfg.qkv_bias and acfg.q_rank is None:  # DeepSeek's plain q_proj never has a bias; ours then holds zeros
        for i in range(n_layers):
            sd.setdefault(f"layers.{i}.self_attn.q_proj.bias", torch.zeros(h * (dn + dr)))
    model = M2LAForCausalLM(lm_cfg)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and cfg.tie_word_embeddings)]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not match the DeepSeek MLA layout: missing={missing[:5]} "
                         f"unexpected={unexpected[:5]}")
    return model.eval()


def from_hf(hf_model: torch.nn.Module) -> M2LAForCausalLM:
    """An in-memory transformers DeepseekV3ForCausalLM -> M2LAForCausalLM (weights copied)."""
    state = {k: v.detach().clone() for k, v in hf_model.state_dict().items()}
    return deepseek_to_m2la(hf_model.config, state)


def load_deepseek(directory: str | Path, dtype: torch.dtype = torch.float32) -> M2LAForCausalLM:
    """Load a DeepSeek-format MLA checkpoint directory (config.json + *.safetensors)."""
    d = Path(directory)
    if not (d / "config.json").is_file():
        raise FileNotFoundError(f"{d} has no config.json")
    files = sorted(d.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{d} has no .safetensors weights")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state |= load_file(str(f))
    return deepseek_to_m2la(json.loads((d / "config.json").read_text()), state).to(dtype)
