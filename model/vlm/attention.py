"""M2LA attention over a converted Qwen3-VL layer, whose query and key heads each pass an RMSNorm.

Qwen3's keys are k_g = norm(W_k,g x) per KV head: not linear in x, so no latent c = A x reproduces them.
They are linear in z = [norm(W_k x); W_v x] though, so this layer computes z from the source's own
projections and norms, and its latent from z (kv_a_proj: 2GD -> r + d_rope); the query is the source's
normed query, read out as model.m2la's q_head_dim layout does. Everything after the latent (the cache,
the naive and absorbed paths) is M2LAAttention's. At full rank this is the source layer exactly.
"""
from __future__ import annotations

import torch
from torch import nn

from model.layers import RMSNorm
from model.latent_quant import round_trip
from model.m2la import M2LAAttention, M2LAConfig, apply_rope
from model.vlm.config import SourceNorm


class SourceNormAttention(M2LAAttention):
    """M2LAAttention whose query is norm(q_proj x) per head and whose latent is kv_a_proj([norm(W_k x); W_v x])."""

    def __init__(self, cfg: M2LAConfig, norm: SourceNorm) -> None:
        if cfg.q_head_dim != norm.head_dim:
            raise ValueError("a source-normed layer keeps the source query (q_head_dim = the source head width)")
        super().__init__(cfg)
        self.norm_spec, width = norm, 2 * norm.kv_heads * norm.head_dim
        self.kv_src_proj = nn.Linear(cfg.hidden, width, bias=cfg.qkv_bias)  # the source's [k_proj; v_proj]
        self.kv_a_proj = nn.Linear(width, cfg.kv_rank + cfg.d_rope, bias=False)
        self.q_norm = RMSNorm(norm.head_dim, norm.eps)
        self.k_norm = RMSNorm(norm.head_dim, norm.eps)

    def _query(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg, (b, t, _) = self.cfg, x.shape
        q = self.q_norm(self.q_proj(x).view(b, t, cfg.heads, cfg.q_head_dim)).transpose(1, 2)  # [B, H, T, D]
        nope, pe = self._source_query_index(x.device)
        q_nope = q if nope is None else q.index_select(-1, nope)
        return q_nope, q.index_select(-1, pe) * self.q_pe_scale[:, None]

    def source_features(self, x: torch.Tensor) -> torch.Tensor:
        """z = [norm(W_k x) per KV head; W_v x] [B, T, 2GD]: what the latent is linear in."""
        (b, t, _), n = x.shape, self.norm_spec
        k, v = self.kv_src_proj(x).split(n.kv_heads * n.head_dim, dim=-1)
        k = self.k_norm(k.view(b, t, n.kv_heads, n.head_dim)).flatten(2)
        return torch.cat((k, v), dim=-1)

    def latent(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rounded: bool = True) -> torch.Tensor:
        c, k_pe = self.kv_a_proj(self.source_features(x)).split([self.cfg.kv_rank, self.cfg.d_rope], dim=-1)
        lat = torch.cat((self.kv_norm(c), apply_rope(k_pe, cos, sin)), dim=-1)
        return round_trip(lat) if self.cfg.latent_int8 and rounded else lat
