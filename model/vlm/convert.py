"""Qwen2.5-VL / Qwen3-VL -> M2LA vision-language model: the exact rewrite, then the text models' compression.

The decoder goes through model.convert's functions layer by layer; the vision tower is copied as it is.
- Qwen2.5-VL: its decoder is a Qwen2 decoder with contiguous MRoPE sections, which model.convert's
  `convert_model` already converts (every section keeps rotary pairs).
- Qwen3-VL: two differences. (1) Interleaved MRoPE: the pairs are listed sorted by section
  (model.vlm.mrope), a reordering of the rotate-half dims of q and k alike that leaves every q . k as
  it was, after which the sections are contiguous and the converter's per-section pair quotas apply.
  (2) Per-head q/k RMSNorms: the keys are linear in z = [norm(W_k x); W_v x] rather than in x, so each
  layer is converted as a GQA layer whose input is [norm(W_q x); z] (q/k/v projections that select
  their part), and the result runs as model.vlm.attention.SourceNormAttention. Calibration statistics
  are then second moments of those features, collected by hooks on the source's norms.
At kv_rank and rope_dim None every pair and the whole [K_nope; V] stay: logits equal the source's.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from model.convert import (ConvertOptions, Method, SourceParts, allocate_ranks, attention_input_moments,
                           calib_ids_from_text, convert_layer, convert_model, load_source)
from model.lm import LMConfig
from model.m2la import M2LAConfig
from model.vlm.config import SourceNorm, VLMConfig
from model.vlm.model import M2LAVisionLM
from model.vlm.mrope import rotate_half_rows, section_order

LayerResult = tuple[M2LAConfig, dict[str, torch.Tensor], torch.Tensor | None]


def family_of(hf_model: nn.Module) -> str:
    """"qwen2_5_vl" or "qwen3_vl" from a transformers model's config; a clear error otherwise."""
    kind = getattr(hf_model.config, "model_type", "")
    if kind not in ("qwen2_5_vl", "qwen3_vl"):
        raise ValueError(f"not a Qwen2.5-VL or Qwen3-VL checkpoint (model_type {kind!r})")
    return kind


class _Qwen3Layers:
    """A Qwen3-VL decoder seen as GQA layers over [norm(W_q x); norm(W_k x); W_v x] (see the module docstring)."""

    def __init__(self, hf_model: nn.Module, opts: ConvertOptions) -> None:
        if not opts.shared_query:
            raise ValueError("a Qwen3-VL conversion keeps the source query (ConvertOptions.shared_query)")
        self.decoder = hf_model.model.language_model
        cfg = self.cfg = hf_model.config.get_text_config()
        self.h, self.g = cfg.num_attention_heads, cfg.num_key_value_heads
        self.d = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.h
        rp = dict(cfg.rope_parameters or {})
        if rp.get("rope_type", "default") != "default":
            raise ValueError(f"rope_type {rp['rope_type']!r} is not supported for Qwen3-VL conversion")
        rot = self.decoder.rotary_emb
        self.order, counts = section_order(self.d // 2, tuple(rot.mrope_section), interleaved=True)
        self.rows = rotate_half_rows(self.order)  # [D]: a head's dims in section order
        width = (self.h + 2 * self.g) * self.d
        self.parts = SourceParts(
            SimpleNamespace(hidden_size=width, num_attention_heads=self.h, num_key_value_heads=self.g,
                            head_dim=self.d, rms_norm_eps=cfg.rms_norm_eps, rope_parameters=rp),
            self.decoder, hf_model.lm_head, False, rot.inv_freq.detach().float().cpu()[self.order],
            float(getattr(rot, "attention_scaling", 1.0)), counts,
            min(int(cfg.max_position_embeddings or 4096), 32768))
        self.norm = SourceNorm(self.g, self.d, cfg.rms_norm_eps)

    def _heads(self, w: torch.Tensor, n: int) -> torch.Tensor:
        """Rows (or entries) of n heads of width D, each head's dims in section order."""
        return w.reshape(n, self.d, *w.shape[1:])[:, self.rows].reshape(w.shape)

    def moments(self, hf_model: nn.Module, calib: torch.Tensor, batch: int = 4) -> list[torch.Tensor]:
        """Per layer E[f f^T] (fp64) of f = [q^; k^; v; 1], q^/k^ the normed heads in section order."""
        layers, feats = self.decoder.layers, {}
        hooks = []
        for i, layer in enumerate(layers):
            a = layer.self_attn
            for name, mod in (("q", a.q_norm), ("k", a.k_norm), ("v", a.v_proj)):
                hooks.append(mod.register_forward_hook(
                    lambda _m, _i, out, i=i, name=name: feats.__setitem__((i, name), out.detach())))
        acc: list[torch.Tensor] = [torch.zeros(0)] * len(layers)
        count = 0
        try:
            for s in range(0, calib.shape[0], batch):
                chunk = calib[s:s + batch].to(next(hf_model.parameters()).device)
                hf_model(input_ids=chunk, use_cache=False)
                count += chunk.numel()
                for i in range(len(layers)):
                    q, k, v = (feats[(i, n)].double().cpu() for n in "qkv")
                    f = torch.cat((q[..., self.rows].flatten(2), k[..., self.rows].flatten(2), v,
                                   torch.ones(*v.shape[:2], 1, dtype=v.dtype)), dim=-1).flatten(0, 1)
                    acc[i] = f.T @ f if acc[i].numel() == 0 else acc[i] + f.T @ f
        finally:
            for h in hooks:
                h.remove()
        return [a / count for a in acc]

    def convert(self, i: int, kv_rank: int | None, rope_dim: int | None, moments: torch.Tensor | None,
                method: Method, opts: ConvertOptions) -> LayerResult:
        """Layer i as (M2LAConfig, SourceNormAttention state, energy shares)."""
        attn, (h, g, d) = self.decoder.layers[i].self_attn, (self.h, self.g, self.d)
        hid, zq, zk = self.cfg.hidden_size, h * d, g * d
        eye = torch.eye(zq + 2 * zk)
        proxy = nn.Module()
        for name, rows in (("q_proj", eye[:zq]), ("k_proj", eye[zq:zq + zk]), ("v_proj", eye[zq + zk:])):
            lin = nn.Linear(zq + 2 * zk, rows.shape[0], bias=False)
            lin.weight.data = rows
            setattr(proxy, name, lin)
        proxy.o_proj = nn.Linear(zq, hid)  # the source's o_proj, with a bias the result may drop again
        proxy.o_proj.weight.data = attn.o_proj.weight.detach().float().cpu()
        src_o_bias = attn.o_proj.bias
        proxy.o_proj.bias.data = torch.zeros(hid) if src_o_bias is None else src_o_bias.detach().float().cpu()
        mcfg, st, shares = convert_layer(proxy, self.parts, kv_rank, rope_dim, moments, method, opts)
        bias = attn.q_proj.bias is not None
        o_bias = st["o_proj.bias"]
        keep_o = src_o_bias is not None or bool(o_bias.abs().max() > 0)
        state = {"q_proj.weight": self._heads(attn.q_proj.weight.detach(), h),
                 "q_norm.weight": attn.q_norm.weight.detach()[self.rows],
                 "k_norm.weight": attn.k_norm.weight.detach()[self.rows],
                 "kv_src_proj.weight": torch.cat((self._heads(attn.k_proj.weight.detach(), g),
                                                   attn.v_proj.weight.detach())),
                 "kv_a_proj.weight": st["kv_a_proj.weight"][:, zq:],  # the query's columns select nothing here
                 "kv_b_proj.weight": st["kv_b_proj.weight"], "o_proj.weight": st["o_proj.weight"],
                 "q_pe_scale": st["q_pe_scale"]}
        if bias:
            state["q_proj.bias"] = self._heads(attn.q_proj.bias.detach(), h)
            state["kv_src_proj.bias"] = torch.cat((self._heads(attn.k_proj.bias.detach(), g),
                                                   attn.v_proj.bias.detach()))
        if keep_o:
            state["o_proj.bias"] = o_bias
        return replace(mcfg, hidden=hid, qkv_bias=bias, o_bias=keep_o), state, shares


def _converted_text(hf_model: nn.Module, family: str, kv_rank: int | None, rope_dim: int | None,
                    calib: torch.Tensor | None, method: Method,
                    opts: ConvertOptions) -> tuple[LMConfig, dict[str, torch.Tensor], SourceNorm | None]:
    """The decoder's M2LA config and weights (names as model.lm's), and the kept source norms if any."""
    if family == "qwen2_5_vl":
        text = convert_model(hf_model, kv_rank, rope_dim, calib, method, options=opts)
        return text.config, text.state_dict(), None
    q3 = _Qwen3Layers(hf_model, opts)
    moments = q3.moments(hf_model, calib) if calib is not None else None
    n = len(q3.decoder.layers)

    def one(i: int, rank: int | None) -> LayerResult:
        return q3.convert(i, rank, rope_dim, None if moments is None else moments[i], method, opts)

    done = [one(i, kv_rank) for i in range(n)]
    if (opts.rank_allocation == "spectrum" and method == "activation" and moments is not None
            and kv_rank is not None and all(s is not None for _, _, s in done)):
        ranks = allocate_ranks([s for _, _, s in done], kv_rank)
        done = [d if r == kv_rank else one(i, r) for i, (d, r) in enumerate(zip(done, ranks))]
    cfg = q3.cfg
    lm = LMConfig(vocab_size=cfg.vocab_size, hidden=cfg.hidden_size, intermediate=cfg.intermediate_size,
                  attn=tuple(c for c, _, _ in done), rms_eps=cfg.rms_norm_eps,
                  tie_embeddings=bool(getattr(hf_model.config, "tie_word_embeddings", False)),
                  source=f"{type(hf_model).__name__}; kv_rank={kv_rank}; rope_dim={rope_dim}; method={method}")
    sd = {"embed_tokens.weight": q3.decoder.embed_tokens.weight, "norm.weight": q3.decoder.norm.weight,
          "lm_head.weight": hf_model.lm_head.weight}
    for i, layer in enumerate(q3.decoder.layers):
        sd |= {f"layers.{i}.self_attn.{k}": v for k, v in done[i][1].items()}
        sd |= {f"layers.{i}.{k}": v for k, v in layer.state_dict().items()
               if k.startswith(("input_layernorm.", "post_attention_layernorm.", "mlp."))}
    return lm, sd, q3.norm


@torch.no_grad()
def convert_vlm_model(hf_model: nn.Module, kv_rank: int | None = None, rope_dim: int | None = None,
                      calib_input_ids: torch.Tensor | None = None, method: Method = "activation",
                      options: ConvertOptions = ConvertOptions()) -> M2LAVisionLM:
    """A transformers Qwen2.5-VL / Qwen3-VL model -> M2LAVisionLM (fp32, CPU). kv_rank/rope_dim None: exact."""
    family = family_of(hf_model)
    lm, sd, norm = _converted_text(hf_model, family, kv_rank, rope_dim, calib_input_ids, method, options)
    config = VLMConfig(family, hf_model.config.to_dict(), lm, norm, source=lm.source)
    model = M2LAVisionLM(config)
    missing, unexpected = model.text.load_state_dict({k: v.float().cpu() for k, v in sd.items()}, strict=False)
    if unexpected or [k for k in missing if not (k == "lm_head.weight" and lm.tie_embeddings)]:
        raise RuntimeError(f"conversion left weights unmatched: missing={missing} unexpected={unexpected}")
    model.visual.load_state_dict({k: v.float().cpu() for k, v in hf_model.model.visual.state_dict().items()})
    return model.eval()


def convert_vlm(source: Path, out: Path, kv_rank: int | None = None, rope_dim: int | None = None,
                calib: Path | None = None, method: Method = "activation", options: ConvertOptions = ConvertOptions(),
                calib_tokens: int = 32768, seq_len: int = 512) -> Path:
    """Convert a local Qwen2.5-VL / Qwen3-VL checkpoint folder into `out` (weights, config, tokenizer and
    image processor settings); `calib` a text file for the activation-aware compression."""
    hf_model, tok = load_source(source)
    ids = None
    if calib is not None:
        if tok is None:
            raise ValueError(f"--calib needs a tokenizer, and none loads from {source}")
        ids = calib_ids_from_text(tok, Path(calib).read_text(encoding="utf-8", errors="replace"), seq_len, calib_tokens)
    model = convert_vlm_model(hf_model, kv_rank, rope_dim, ids, method, options)
    folder = model.save_pretrained(out)
    if tok is not None:
        tok.save_pretrained(str(folder))
    pre = Path(source) / "preprocessor_config.json"
    if pre.is_file():  # the image processor's settings, read back by model.vlm.processor.load_processor
        (folder / pre.name).write_text(json.dumps(json.loads(pre.read_text()), indent=1))
    return folder


def is_vlm_checkpoint(source: Path) -> bool:
    """True for a folder whose config.json names a Qwen2.5-VL or Qwen3-VL model (what `convert` dispatches on)."""
    cfg = Path(source) / "config.json"
    try:
        kind: Any = json.loads(cfg.read_text()).get("model_type")
    except (OSError, ValueError):
        return False
    return kind in ("qwen2_5_vl", "qwen3_vl")
