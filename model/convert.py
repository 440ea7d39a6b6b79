"""GQA -> M2LA conversion for Llama / Qwen2 / Qwen2-VL(-2.5) text models, and `python -m model convert`.

Per layer, with H query heads, G KV heads of width D and group g(h) = h // (H/G):

1. RoPE pairs. Each frequency f rotates the 2-vector k_g[f] of every KV head by the SAME angle, so any
   orthogonal mix U_f across KV heads commutes with RoPE (TransMLA's RoRoPE): k'_j[f] = sum_g U_f[g,j] k_g[f]
   and q_h[f] . R k_g(h)[f] = sum_j U_f[g(h),j] q_h[f] . R k'_j[f]. U_f are the principal axes of the key
   energy across heads (calibration activations, or the weights alone). Candidate pairs (f, j) are
   scored by rms(q-side) x rms(k'_j[f]) (MHA2MLA's q.k norm idea applied to the rotated components),
   times how far frequency f turns over the context (dropping a slow pair's rotation costs little);
   the best rope_dim/2 become the ONE shared rotated key; with MRoPE every section keeps pairs in
   proportion to its size. Keeping all G*D/2 pairs is the exact rewrite.
2. The leftover components lose their rotation and become per-group "nope" keys
   k_nope_g[f] = sum_{j dropped} U_f[g,j] k'_j[f], met by q_nope_h = q_h.
3. [K_nope; V] (2 blocks, all groups) is factorised at rank r: c_kv = A x, [K_nope; V] ~= B c_kv.
   "activation": minimise E||(M - BA) x||^2 over calibration x, i.e. the SVD of M Sigma^1/2 (with the K
   and V blocks balanced to equal energy so neither swamps the other); "weight_svd": plain SVD of M
   (MHA2MLA's SVD-joint, the baseline). At full rank A = M and B is a 0/1 replication: exact.
Biases: a K bias on the nope part adds the same number to every key's score, so softmax drops it;
the V bias passes through the convex attention average and is folded into o_proj's bias.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from model.cache import LatentKVCache
from model.lm import LMConfig, M2LAForCausalLM
from model.m2la import M2LAConfig

Method = Literal["activation", "weight_svd"]


@dataclass(frozen=True)
class ConvertOptions:
    """Choices inside the lossy steps (defaults picked by perplexity on SmolLM2-135M, see the report)."""

    rope_score: str = "norm_x_rotation"  # "norm": MHA2MLA-style |q||k'|; "norm_x_rotation": x rotation_sensitivity
    balance_kv: bool = True  # activation method: K_nope and V scaled to equal calibration energy before the SVD
    centre: bool = False  # activation method: factorise centred activations, mean carried by free biases
    rope_context: int | None = None  # distances over which losing a pair's rotation is judged; None: the
    #                                  source's context (max_position_embeddings, capped). A model served at
    #                                  shorter prompts keeps the pairs that turn within them (SmolLM2 r64/d32
    #                                  one-shot ppl at 512-token windows: 84.5 judged over 8K, 67.7 over 2K)
    rank_allocation: str = "uniform"  # "uniform": every layer's latent is kv_rank wide; "spectrum" (activation
    #                                   method with calibration): the same total, layers x kv_rank, spread over the
    #                                   layers by their calibration spectra (allocate_ranks), so the cache is as big
    latent_int8: bool = False  # the cache stores int8 latent rows with one fp16 scale each (model.latent_quant):
    #                            about half the bytes of bf16 values, so twice the rank at the same cache size
    shared_query: bool = True  # q_proj keeps the source's query (H x D rows); q_nope and q_pe are read out of it
    #                            (M2LAConfig.q_head_dim), each q_pe value times its learned factor U_f[g(h), j].
    #                            False: q_proj holds q_nope and q_pe as separate rows, H x (d_nope + d_rope),
    #                            which a heal may then move apart (SmolLM2 at r=120/d_rope=64: 1,152 rows, not 576)


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


def _pair_quota(n_pairs: int, half: int, mrope_section: tuple[int, ...] | None) -> list[int] | None:
    """Pairs each MRoPE section keeps: proportional to its size, at least one each; None without MRoPE."""
    if mrope_section is None:
        return None
    if n_pairs < len(mrope_section):
        raise ValueError(f"--rope-dim {2 * n_pairs} leaves no pair for some MRoPE section; "
                         f"need >= {2 * len(mrope_section)}")
    quota = [max(1, round(n_pairs * s / half)) for s in mrope_section]
    while sum(quota) != n_pairs:  # fix rounding on the largest section (never below 1)
        i = max(range(len(quota)), key=lambda k: quota[k])
        quota[i] += 1 if sum(quota) < n_pairs else -1
    return quota


def rotation_sensitivity(inv_freq: torch.Tensor, context: int) -> torch.Tensor:
    """Mean |R(theta d) - I| over distances d < context, per frequency [D/2].

    Dropping a pair's rotation replaces q.R(theta d)k by q.k; the error scales with |2 sin(theta d / 2)|.
    Slow pairs barely turn within the context, so they lose little; fast ones lose everything.
    """
    d = torch.arange(context, dtype=torch.float64)
    return (2 * torch.sin(inv_freq.double()[:, None] * d / 2)).abs().mean(dim=1)


def _select_pairs(score: torch.Tensor, n_pairs: int, mrope_section: tuple[int, ...] | None,
                  groups: int) -> list[tuple[int, int]]:
    """Top (f, j) candidates by score [D/2, G]; per-section quotas under MRoPE. Sorted by (j, f)."""
    half = score.shape[0]
    if n_pairs > half * groups:
        raise ValueError(f"--rope-dim {2 * n_pairs} exceeds all RoPE dims of the KV heads ({2 * half * groups})")
    quota = _pair_quota(n_pairs, half, mrope_section)
    if quota is None:
        spans = [(0, half, n_pairs)]
    else:
        ends = torch.tensor(mrope_section).cumsum(0).tolist()
        spans = [(e - s, e, q) for s, e, q in zip(mrope_section, ends, quota)]
    chosen: list[tuple[int, int]] = []
    for lo, hi, q in spans:
        sub = score[lo:hi].flatten()
        if q > sub.numel():
            raise ValueError(f"MRoPE section [{lo},{hi}) cannot keep {q} pairs")
        for k in torch.topk(sub, q).indices.tolist():
            chosen.append((lo + k // groups, k % groups))
    return sorted(chosen, key=lambda p: (p[1], p[0]))


def _factorise(m: torch.Tensor, rank: int, sigma: torch.Tensor | None, k_rows: int,
               method: Method, balance_kv: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """A [r, hidden], B [rows, r] with B A ~= m [rows, hidden], and the share of the (whitened, balanced)
    energy each singular direction carries [rows] (None at full rank, where B is an exact 0/1 matrix)."""
    rows = m.shape[0]
    if rank == rows:
        return m.clone(), torch.eye(rows, dtype=m.dtype), None
    if rank > rows:
        raise ValueError(f"--kv-rank {rank} exceeds the joint [K_nope; V] width {rows}")
    if method == "weight_svd" or sigma is None:
        u, s, vh = torch.linalg.svd(m, full_matrices=False)
        return s[:rank, None] * vh[:rank], u[:, :rank], _shares(s)
    if method != "activation":
        raise ValueError(f"unknown method {method!r} (activation|weight_svd)")
    evals, evecs = torch.linalg.eigh(sigma)
    sqrt_sigma = (evecs * evals.clamp_min(0).sqrt()) @ evecs.T  # Sigma^1/2
    # balance: K_nope and V blocks get equal energy on the calibration inputs
    energy_k = (m[:k_rows] @ sigma * m[:k_rows]).sum().clamp_min(1e-30)
    energy_v = (m[k_rows:] @ sigma * m[k_rows:]).sum().clamp_min(1e-30)
    bal = torch.ones(rows, dtype=m.dtype)
    if k_rows and balance_kv:
        bal[:k_rows] = (energy_v / energy_k).sqrt()
    u, s, _ = torch.linalg.svd(bal[:, None] * m @ sqrt_sigma, full_matrices=False)
    u_r = u[:, :rank]  # best rank-r subspace of the balanced, whitened outputs
    return u_r.T @ (bal[:, None] * m), u_r / bal[:, None], _shares(s)


def _shares(s: torch.Tensor) -> torch.Tensor:
    """Share of the total energy per singular value (s descending) [n]."""
    e = s.double() ** 2
    return e / e.sum().clamp_min(1e-300)


def allocate_ranks(shares: list[torch.Tensor], mean_rank: int, unit: int = 8, floor: int = 16) -> list[int]:
    """Per-layer latent ranks that sum to len(shares) x mean_rank, from each layer's energy shares [rows].

    Greedy (optimal here, since every layer's shares descend): each layer starts at `floor`, then each
    `unit` of rank goes to the layer whose discarded share of energy it lowers most. Relative shares
    weigh every layer alike whatever the scale of its activations. SmolLM2 at 64/32: layer 0 needs 24
    (its keys and values are nearly low-rank), layers 3-5, 7, 20, 23-26 and 28 get 72-80, seven get 56.
    """
    n = len(shares)
    caps = [int(e.numel()) for e in shares]
    total = mean_rank * n
    if total > sum(caps):
        raise ValueError(f"--kv-rank {mean_rank} exceeds the joint [K_nope; V] width of the layers")
    # tail[l][r]: share of layer l's energy beyond rank r
    tails = [torch.cat((e.flip(0).cumsum(0).flip(0), e.new_zeros(1))).tolist() for e in shares]
    ranks = [min(floor, mean_rank, c) for c in caps]
    left = total - sum(ranks)
    while left > 0:
        step = min(unit, left)

        def gain(i: int) -> float:
            return tails[i][ranks[i]] - tails[i][min(ranks[i] + step, caps[i])] if ranks[i] < caps[i] else -1.0

        best = max(range(n), key=gain)
        add = min(step, caps[best] - ranks[best])
        ranks[best] += add
        left -= add
    return ranks


@torch.no_grad()
def convert_layer(attn: nn.Module, parts: SourceParts, kv_rank: int | None, rope_dim: int | None,
                  moments: torch.Tensor | None, method: Method,
                  opts: ConvertOptions = ConvertOptions()
                  ) -> tuple[M2LAConfig, dict[str, torch.Tensor], torch.Tensor | None]:
    """One GQA attention -> (M2LAConfig, state dict of M2LAAttention, energy shares of the [K_nope; V]
    factorisation [rows], None at full rank). fp64 arithmetic throughout."""
    cfg = parts.text_config
    hid, n_h, n_g = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads
    d = getattr(cfg, "head_dim", None) or hid // n_h
    half, rep = d // 2, n_h // n_g
    f64 = torch.float64

    def w_b(lin: nn.Linear) -> torch.Tensor:  # [out, hidden+1]: weight with the bias as last column
        b = lin.bias if lin.bias is not None else torch.zeros(lin.out_features)
        return torch.cat((lin.weight.double().cpu(), b.double().cpu()[:, None]), dim=1)

    wq = w_b(attn.q_proj).view(n_h, 2, half, hid + 1)  # [H, c, f, hid+1]: c=0 first half, c=1 second
    wk = w_b(attn.k_proj).view(n_g, 2, half, hid + 1)
    wv = w_b(attn.v_proj)  # [G*D, hid+1]
    sig = moments if moments is not None else torch.eye(hid + 1, dtype=f64)  # no data: isotropic inputs, bias 1

    if rope_dim is not None and (rope_dim % 2 or rope_dim <= 0):
        raise ValueError(f"--rope-dim must be a positive even number, got {rope_dim}")
    n_pairs = n_g * half if rope_dim is None else rope_dim // 2
    # without statistics, keeping every pair is the identity rewrite (the RoRoPE mix would be exact too)
    if n_pairs == n_g * half and moments is None:
        u = torch.eye(n_g, dtype=f64).expand(half, n_g, n_g)
        pairs = [(f, j) for j in range(n_g) for f in range(half)]
    else:
        # key energy across KV heads per frequency: C_f[g, g'] = sum_c w_gfc Sigma w_g'fc
        c_f = torch.einsum("gcfi,ij,hcfj->fgh", wk, sig, wk)  # [D/2, G, G]
        evals, u = torch.linalg.eigh(c_f)  # ascending
        evals, u = evals.flip(-1).clamp_min(0), u.flip(-1)  # [D/2, G], [D/2, G(g), G(j)]
        q_energy = torch.einsum("hcfi,ij,hcfj->hf", wq, sig, wq).clamp_min(0)  # [H, D/2]
        grp = torch.arange(n_h) // rep
        # rms of q-side component (f, j) summed over heads, times rms of k'_j[f]
        q_side = (u[:, grp, :].abs() * q_energy.T.sqrt()[:, :, None]).sum(1)  # [D/2, G]
        # expected score error if the pair loses its rotation: |q| |k'| x how far its rotation turns
        score = q_side * evals.sqrt()
        if opts.rope_score == "norm_x_rotation":
            score = score * rotation_sensitivity(parts.inv_freq, opts.rope_context or parts.context)[:, None]
        pairs = _select_pairs(score, n_pairs, parts.mrope_section, n_g)

    kept = torch.zeros(half, n_g, dtype=torch.bool)
    for f, j in pairs:
        kept[f, j] = True
    wk_rot = torch.einsum("fgj,gcfi->jcfi", u, wk)  # [G(j), c, f, hid+1] rotated components k'_j[f]
    # shared rotated key: pair p -> rows p (c=0) and P + p (c=1)
    k_pe = torch.stack([wk_rot[j, :, f] for f, j in pairs], dim=1).reshape(2 * n_pairs, hid + 1)
    # per-head q_pe: U_f[g(h), j] q_h[f]; mix [H, P] holds the factors U_f[g(h), j]
    pair_f, pair_j = torch.tensor([f for f, _ in pairs]), torch.tensor([j for _, j in pairs])
    mix = u[pair_f[None], (torch.arange(n_h) // rep)[:, None], pair_j[None]]  # [H, P]
    nope_f = [f for f in range(half) if not bool(kept[f].all())]
    d_nope = 2 * len(nope_f)
    s2 = parts.attention_scaling ** 2  # the source's rotated dot products carried this factor
    dropped = (~kept).to(f64)  # [D/2, G(j)]
    # k_nope_g[f] = sum_{j dropped} U_f[g,j] k'_j[f]  (bias column dropped later: softmax-invariant)
    k_nope = torch.einsum("fgj,fj,jcfi->gcfi", u, dropped, wk_rot)[:, :, nope_f].reshape(n_g * d_nope, hid + 1)

    m = torch.cat((k_nope[:, :hid], wv[:, :hid]))  # [G*(dn + D), hidden]
    rank = m.shape[0] if kv_rank is None else kv_rank
    # centred statistics: the mean's share of [K_nope; V] is carried exactly by biases that cost nothing
    # (a K_nope bias is softmax-invariant, a V bias folds into o_proj), so no latent rank is spent on it
    mean = sig[:hid, hid] if moments is not None and method == "activation" and opts.centre else None
    sig_x = None if moments is None else sig[:hid, :hid] - (0 if mean is None else torch.outer(mean, mean))
    a, b, shares = _factorise(m, rank, sig_x, n_g * d_nope, method, opts.balance_kv)
    v_resid = torch.zeros(n_g * d, dtype=f64) if mean is None else ((m - b @ a) @ mean)[n_g * d_nope:]
    b_k, b_v = b[: n_g * d_nope].view(n_g, d_nope, rank), b[n_g * d_nope:].view(n_g, d, rank)
    grp = torch.arange(n_h) // rep
    if opts.shared_query:  # q_nope is the source's query itself: the factor it carried goes to the keys
        b_k = b_k * s2
    kv_b = torch.cat((b_k[grp], b_v[grp]), dim=1).reshape(n_h * (d_nope + d), rank)

    qkv_bias = attn.q_proj.bias is not None or attn.k_proj.bias is not None
    w_o = attn.o_proj.weight.double().cpu()  # [hidden, H*D]
    b_o = attn.o_proj.bias.double().cpu() if attn.o_proj.bias is not None else torch.zeros(hid, dtype=f64)
    v_bias = (wv[:, hid] + v_resid).view(n_g, d)[grp].reshape(-1)  # [H*D]
    o_bias = b_o + w_o @ v_bias
    use_o_bias = attn.o_proj.bias is not None or bool(v_bias.abs().max() > 0)

    if opts.shared_query:  # rows (h, c, f): each head's source query in rotate-half layout
        q_all = wq.reshape(n_h * d, hid + 1)
    else:  # rows per head: q_nope (the factor s2 included), then q_pe with its factors baked in
        q_nope = (wq[:, :, nope_f] * s2).reshape(n_h, d_nope, hid + 1)
        q_pe = wq[:, :, pair_f] * mix[:, None, :, None]  # [H, c, P, hid+1]
        q_all = torch.cat((q_nope, q_pe.reshape(n_h, 2 * n_pairs, hid + 1)), dim=1).reshape(-1, hid + 1)
    kv_a = torch.cat((torch.cat((a, torch.zeros(rank, 1, dtype=f64)), dim=1), k_pe))  # [r + dr, hid+1]
    inv = parts.inv_freq.double()
    mcfg = M2LAConfig(
        hidden=hid, heads=n_h, d_nope=d_nope, d_rope=2 * n_pairs, d_v=d, kv_rank=rank,
        rms_eps=cfg.rms_norm_eps, qkv_bias=qkv_bias, o_bias=use_o_bias, softmax_scale=d ** -0.5,
        rope_theta=float(dict(cfg.rope_parameters or {}).get("rope_theta", 10000.0)),
        rope_scaling=dict(cfg.rope_parameters or {}),
        rope_inv_freq=tuple(float(inv[f]) for f, _ in pairs),
        rope_attention_scaling=parts.attention_scaling,
        mrope_section=parts.mrope_section,
        rope_freq_index=tuple(f for f, _ in pairs),
        latent_int8=opts.latent_int8,
        q_head_dim=d if opts.shared_query else None,
        q_nope_freq_index=tuple(nope_f) if opts.shared_query else None,
    )
    state = {"q_proj.weight": q_all[:, :hid], "kv_a_proj.weight": kv_a[:, :hid],
             "kv_b_proj.weight": kv_b, "o_proj.weight": w_o}
    if qkv_bias:
        state["q_proj.bias"], state["kv_a_proj.bias"] = q_all[:, hid], kv_a[:, hid]
    if use_o_bias:
        state["o_proj.bias"] = o_bias
    if opts.shared_query:
        state["q_pe_scale"] = mix.repeat(1, 2)  # [H, d_rope]: both values of a pair
    return mcfg, state, shares


@torch.no_grad()
def convert_model(hf_model: nn.Module, kv_rank: int | None = None, rope_dim: int | None = None,
                  calib_input_ids: torch.Tensor | None = None, method: Method = "activation",
                  moments: list[torch.Tensor] | None = None,
                  options: ConvertOptions = ConvertOptions()) -> M2LAForCausalLM:
    """Convert a HF GQA decoder to an `M2LAForCausalLM` (fp32, CPU).

    kv_rank/rope_dim None keep everything (the exact rewrite: logits equal the source's). With
    calib_input_ids [N, T] (or precomputed `moments` from `attention_input_moments`), RoPE pairs are
    chosen from activation statistics and, for method "activation", the factorisation is activation-aware
    (and with options.rank_allocation "spectrum", kv_rank is the mean over layers of unequal ranks).
    """
    if options.rank_allocation not in ("uniform", "spectrum"):
        raise ValueError(f"unknown rank allocation {options.rank_allocation!r} (uniform|spectrum)")
    parts = source_parts(hf_model)
    cfg = parts.text_config
    if moments is None and calib_input_ids is not None:
        moments = attention_input_moments(hf_model, calib_input_ids)
    layers = list(parts.decoder.layers)

    def convert(i: int, rank: int | None) -> tuple[M2LAConfig, dict[str, torch.Tensor], torch.Tensor | None]:
        return convert_layer(layers[i].self_attn, parts, rank, rope_dim,
                             moments[i] if moments is not None else None, method, options)

    done = [convert(i, kv_rank) for i in range(len(layers))]
    if (options.rank_allocation == "spectrum" and method == "activation" and moments is not None
            and kv_rank is not None and all(shares is not None for _, _, shares in done)):
        ranks = allocate_ranks([shares for _, _, shares in done], kv_rank)
        done = [d if r == kv_rank else convert(i, r) for i, (d, r) in enumerate(zip(done, ranks))]
    attn_cfgs, states = [c for c, _, _ in done], [st for _, st, _ in done]
    mlp0 = layers[0].mlp
    lm_cfg = LMConfig(vocab_size=cfg.vocab_size, hidden=cfg.hidden_size, intermediate=cfg.intermediate_size,
                      attn=tuple(attn_cfgs), rms_eps=cfg.rms_norm_eps, tie_embeddings=parts.tied,
                      mlp_bias=mlp0.gate_proj.bias is not None,
                      source=f"{type(hf_model).__name__}; kv_rank={kv_rank}; rope_dim={rope_dim}; method={method}")
    model = M2LAForCausalLM(lm_cfg)
    sd: dict[str, torch.Tensor] = {"embed_tokens.weight": parts.decoder.embed_tokens.weight,
                                   "norm.weight": parts.decoder.norm.weight,
                                   "lm_head.weight": parts.lm_head.weight}
    for i, layer in enumerate(layers):
        sd |= {f"layers.{i}.self_attn.{k}": v for k, v in states[i].items()}
        sd |= {f"layers.{i}.{k}": v for k, v in layer.state_dict().items()
               if k.startswith(("input_layernorm.", "post_attention_layernorm.", "mlp."))}
    missing, unexpected = model.load_state_dict({k: v.float().cpu() for k, v in sd.items()}, strict=False)
    if unexpected or [k for k in missing if not k.startswith("lm_head") or not parts.tied]:
        raise RuntimeError(f"conversion left weights unmatched: missing={missing} unexpected={unexpected}")
    return model.eval()


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


def main(argv: list[str]) -> int:
    """`python -m model convert SOURCE --kv-rank R --rope-dim D --out DIR [--calib FILE]`."""
    p = argparse.ArgumentParser(prog="python -m model convert", description=__doc__.splitlines()[0])
    p.add_argument("source", help="local HF model directory or GGUF file")
    p.add_argument("--kv-rank", type=int, default=None, help="latent width r (default: full, exact)")
    p.add_argument("--rope-dim", type=int, default=None, help="shared RoPE key width (default: all, exact)")
    p.add_argument("--out", required=True, help="output directory for the converted model")
    p.add_argument("--calib", default=None, help="calibration text file (activation-aware conversion)")
    p.add_argument("--method", choices=["activation", "weight_svd"], default="activation")
    p.add_argument("--calib-tokens", type=int, default=32768, help="calibration tokens to use")
    p.add_argument("--seq-len", type=int, default=512, help="calibration row length")
    p.add_argument("--rope-context", type=int, default=None,
                   help="prompt length the model will serve: RoPE pairs are kept by how far they turn within it "
                        "(default: the source's context)")
    p.add_argument("--rank-allocation", choices=["uniform", "spectrum"], default="uniform",
                   help="spectrum: layers get unequal latent ranks by their calibration spectra, kv-rank on average "
                        "(same cache size; needs --calib)")
    p.add_argument("--latent-int8", action="store_true",
                   help="the cache stores int8 latent rows with one fp16 scale each (half the bytes of bf16)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    try:
        if args.rope_context is not None and args.rope_context < 1:
            raise ValueError(f"--rope-context must be a positive number of tokens, got {args.rope_context}")
        if args.rank_allocation == "spectrum" and (not args.calib or args.method != "activation"):
            raise ValueError("--rank-allocation spectrum needs --calib and the activation method")
        t0 = time.perf_counter()
        hf_model, tok = load_source(args.source)
        calib = None
        if args.calib:
            if tok is None:
                raise ValueError(f"--calib needs a tokenizer, and none loads from {args.source}")
            text = Path(args.calib).read_text(encoding="utf-8", errors="replace")
            calib = calib_ids_from_text(tok, text, args.seq_len, args.calib_tokens)
        model = convert_model(hf_model, args.kv_rank, args.rope_dim, calib, args.method,
                              options=ConvertOptions(rope_context=args.rope_context,
                                                     rank_allocation=args.rank_allocation,
                                                     latent_int8=args.latent_int8))
        out = model.save_pretrained(args.out)
        if tok is not None:  # so the converted model is usable without the source
            tok.save_pretrained(str(out))
    except (OSError, ValueError) as e:
        print(f"convert: {e}", file=sys.stderr)
        return 1
    attn = model.config.attn
    ranks = [a.kv_rank for a in attn]
    # allocation keeps the total at layers x kv_rank, so the means are whole numbers
    info = {"out": str(out), "layers": model.config.layers, "kv_rank": sum(ranks) // len(ranks),
            "kv_ranks": ranks, "rope_dim": attn[0].d_rope,
            "cache_values_per_token_per_layer": sum(a.kv_rank + a.d_rope for a in attn) // len(attn),
            "cache_bytes_per_token_bf16": LatentKVCache.for_model(model, dtype=torch.bfloat16).bytes_per_token(),
            "method": args.method,
            "calibration_rows": 0 if calib is None else int(calib.shape[0]),
            "seconds": round(time.perf_counter() - t0, 2)}
    print(json.dumps(info) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0
