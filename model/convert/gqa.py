"""GQA -> M2LA conversion for Llama / Qwen2 / Qwen2-VL(-2.5) text models (`python -m model convert`: cli.py).

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

from dataclasses import dataclass

import torch
from torch import nn

from model.convert.factorise import Method, allocate_ranks, factorise
from model.convert.rope_pairs import rotation_sensitivity, select_pairs
from model.convert.source import SourceParts, attention_input_moments, source_parts
from model.lm import LMConfig, M2LAForCausalLM
from model.m2la import M2LAConfig


@dataclass(frozen=True)
class ConvertOptions:
    """Choices inside the lossy steps (defaults picked by perplexity on SmolLM2-135M, see the report)."""

    rope_score: str = "norm_x_rotation"  # "norm": MHA2MLA-style |q||k'|; "norm_x_rotation": x rotation_sensitivity
    balance_kv: bool = True  # activation method: K_nope and V scaled to equal calibration energy before the SVD
    centre: bool = False  # activation method: factorise centred activations, mean carried by free biases
    rope_context: int | None = None  # distances over which losing a pair's rotation is judged; None: the
    #                                  source's context (max_position_embeddings, capped). A model served at
    #                                  shorter prompts keeps the pairs that turn within them
    rank_allocation: str = "uniform"  # "uniform": every layer's latent is kv_rank wide; "spectrum" (activation
    #                                   method with calibration): the same total, layers x kv_rank, spread over the
    #                                   layers by their calibration spectra (allocate_ranks), so the cache is as big
    latent_int8: bool = False  # the cache stores int8 latent rows with one fp16 scale each (model.latent_quant):
    #                            about half the bytes of bf16 values, so twice the rank at the same cache size
    shared_query: bool = True  # q_proj keeps the source's query (H x D rows); q_nope and q_pe are read out of it
    #                            (M2LAConfig.q_head_dim), each q_pe value times its learned factor U_f[g(h), j].
    #                            False: q_proj holds q_nope and q_pe as separate rows, H x (d_nope + d_rope),
    #                            which a heal may then move apart (SmolLM2 at r=120/d_rope=64: 1,152 rows, not 576)


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
        pairs = select_pairs(score, n_pairs, parts.mrope_section, n_g)

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
    a, b, shares = factorise(m, rank, sig_x, n_g * d_nope, method, opts.balance_kv)
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
