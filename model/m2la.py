"""M2LA: multi-head latent attention with one shared RoPE key, RoPE/MRoPE, naive and absorbed paths.

Per token the layer caches only `[c_kv | k_pe]` (kv_rank + d_rope values). Scores for head h are
`q_nope_h . k_nope_h + q_pe_h . k_pe` where `[k_nope_h; v_h] = W_kv_b[h] c_kv`. The *naive* path expands
the latent into per-head keys/values and runs SDPA (flash-attn where installed): cheap for prefill,
where T is large. The *absorbed* path folds W_UK into the query and W_UV into the output so attention
runs directly over the cached latent (one shared "key head" of width r + d_rope): the decode path,
where re-expanding S cached tokens per step would cost far more than the fold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn
import torch.nn.functional as F

from model.kernels import attend_kernel
from model.latent_quant import int8_scores, int8_values, round_trip
from model.layers import RMSNorm

if TYPE_CHECKING:
    from model.cache import LatentKVCache

try:  # flash-attn is optional; SDPA is the portable path
    from flash_attn import flash_attn_func as _flash_attn_func
except Exception:  # noqa: BLE001 - any import failure (missing CUDA libs, ...) means "not available"
    _flash_attn_func = None

Mode = Literal["naive", "absorbed"]


@dataclass(frozen=True)
class M2LAConfig:
    """Shape and position-encoding settings of one M2LA attention layer."""

    hidden: int  # model width (input and output of the layer)
    heads: int  # query heads
    d_nope: int  # per-head query/key width without rotation (may be 0: all key information rotates)
    d_rope: int  # width of the ONE rotated key shared by all heads (and of each head's q_pe); even
    d_v: int  # per-head value width
    kv_rank: int  # width r of the cached latent c_kv
    q_rank: int | None = None  # DeepSeek-style low-rank query (q_a_proj -> norm -> q_b_proj); None: one q_proj
    latent_norm: bool = False  # RMSNorm on c_kv before caching (DeepSeek kv_a_layernorm);
    #                            the exact GQA rewrite needs False
    rms_eps: float = 1e-6  # epsilon of the latent/query norms
    qkv_bias: bool = False  # biases on q_proj and kv_a_proj (Qwen2 has q/k/v biases)
    o_bias: bool = False  # bias on o_proj (a converted Qwen2 folds its value bias here)
    softmax_scale: float | None = None  # None: (d_nope + d_rope) ** -0.5;
    #                                     conversions keep the source's head_dim ** -0.5
    rope_theta: float = 10000.0  # RoPE base; used for the default frequencies when rope_inv_freq is None
    # the source's rope_parameters, for provenance only
    rope_scaling: dict[str, Any] | None = field(default=None, compare=False)
    # inverse frequency of each rotated pair (d_rope/2); None: theta**(-2i/d_rope)
    rope_inv_freq: tuple[float, ...] | None = None
    # factor on cos/sin (YaRN/longrope "attention_scaling"); 1.0 for plain RoPE
    rope_attention_scaling: float = 1.0
    # MRoPE (time, height, width) sizes over the SOURCE frequency indices; None: 1-D RoPE
    mrope_section: tuple[int, ...] | None = None
    # source frequency index of each rotated pair (picks its MRoPE section); None: 0..d_rope/2-1
    rope_freq_index: tuple[int, ...] | None = None
    # the cache keeps each token's latent row as int8 with one fp16 scale (model.latent_quant): 1 byte a value
    # plus 2 a row; every path (prefill, decode, training) then sees the same rounded latent
    latent_int8: bool = False
    # q_proj emits each head's query as the SOURCE model had it (this many values, rotate-half layout), and
    # q_nope and q_pe are read out of it (a conversion's layout: both are parts of the source query). None:
    # q_proj emits [q_nope | q_pe] per head (DeepSeek's layout). SmolLM2 at r=120/d_rope=64: 576 query rows
    # a layer instead of 1,152, the weights a decode step reads for every token
    q_head_dim: int | None = None
    # with q_head_dim: the source frequency of each q_nope pair (d_nope/2 entries); q_pe's pairs are
    # rope_freq_index's, each value times a learned per-head factor (q_pe_scale, [heads, d_rope])
    q_nope_freq_index: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.d_rope % 2:
            raise ValueError(f"d_rope must be even, got {self.d_rope}")
        pairs = self.d_rope // 2
        for name in ("rope_inv_freq", "rope_freq_index"):
            val = getattr(self, name)
            if val is not None and len(val) != pairs:
                raise ValueError(f"{name} needs {pairs} entries (d_rope/2), got {len(val)}")
        if self.q_head_dim is not None:
            nope = self.q_nope_freq_index
            if self.q_rank is not None or self.rope_freq_index is None or nope is None or len(nope) * 2 != self.d_nope:
                raise ValueError("q_head_dim needs q_rank None, rope_freq_index and d_nope/2 q_nope_freq_index entries")
            if max((*nope, *self.rope_freq_index), default=0) >= self.q_head_dim // 2:
                raise ValueError(f"a frequency index is outside the source query's {self.q_head_dim // 2} pairs")

    def source_query_index(self) -> tuple[torch.Tensor, torch.Tensor]:
        """With q_head_dim: where q_nope [d_nope] and q_pe [d_rope] sit in the source query [q_head_dim]
        (rotate-half: pair f is dims f and f + q_head_dim/2)."""
        half = self.q_head_dim // 2

        def dims(freqs: tuple[int, ...]) -> torch.Tensor:
            f = torch.tensor(freqs, dtype=torch.long)
            return torch.cat((f, f + half))

        return dims(self.q_nope_freq_index), dims(self.rope_freq_index)

    @property
    def scale(self) -> float:
        """Softmax scale actually used."""
        return self.softmax_scale if self.softmax_scale is not None else (self.d_nope + self.d_rope) ** -0.5

    def pair_inv_freq(self) -> torch.Tensor:
        """Inverse frequency per rotated pair, fp32 [d_rope/2]."""
        if self.rope_inv_freq is not None:
            return torch.tensor(self.rope_inv_freq, dtype=torch.float64).float()
        i = torch.arange(0, self.d_rope, 2, dtype=torch.int64).float()
        return 1.0 / (self.rope_theta ** (i / self.d_rope))

    def pair_sections(self) -> torch.Tensor | None:
        """MRoPE section (0 time, 1 height, 2 width) of each rotated pair [d_rope/2], or None for 1-D RoPE."""
        if self.mrope_section is None:
            return None
        idx = self.rope_freq_index if self.rope_freq_index is not None else tuple(range(self.d_rope // 2))
        bounds = torch.tensor(self.mrope_section).cumsum(0)
        # frequency f belongs to the first section whose cumulative end exceeds f; Qwen2-VL cycles i % 3
        sec = torch.bucketize(torch.tensor(idx), bounds, right=True)
        return sec % len(self.mrope_section)


def pair_angles(positions: torch.Tensor, inv_freq: torch.Tensor, sections: torch.Tensor | None) -> torch.Tensor:
    """Rotation angle of each pair [B, T, P] for positions [B, T] (or MRoPE [3, B, T]), fp32.

    `sections` [P] picks, per pair, which of the three MRoPE position rows turns it; None: 1-D RoPE.
    """
    if sections is None:
        pos = positions[0] if positions.dim() == 3 else positions  # [B, T]
        return pos[..., None].float() * inv_freq
    pos3 = positions if positions.dim() == 3 else positions[None].expand(3, -1, -1)  # [3, B, T]
    return pos3.permute(1, 2, 0)[..., sections].float() * inv_freq


def rope_cos_sin(cfg: M2LAConfig, positions: torch.Tensor, dtype: torch.dtype,
                 tables: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [B, T, d_rope] in rotate-half layout for positions [B, T] or MRoPE positions [3, B, T].

    `tables` = (inv_freq [P], sections [P] or None) already on the positions' device, to skip rebuilding them.
    """
    inv, sections = tables if tables is not None else (cfg.pair_inv_freq().to(positions.device), cfg.pair_sections())
    angles = pair_angles(positions, inv, sections)  # [B, T, P]
    emb = torch.cat((angles, angles), dim=-1)  # [B, T, d_rope]
    return (emb.cos() * cfg.rope_attention_scaling).to(dtype), (emb.sin() * cfg.rope_attention_scaling).to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (i, i + d/2) of x [..., T, d] by cos/sin broadcastable to it."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def _causal_mask(t: int, s: int, device: torch.device) -> torch.Tensor:
    """Boolean [T, S]: query i (absolute position s - t + i) sees keys 0..s - t + i."""
    q_abs = torch.arange(s - t, s, device=device)[:, None]
    return torch.arange(s, device=device)[None, :] <= q_abs


class M2LAAttention(nn.Module):
    """Latent attention layer; `mode` picks the naive (prefill) or absorbed (decode) computation."""

    def __init__(self, cfg: M2LAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        qk = cfg.d_nope + cfg.d_rope
        if cfg.q_head_dim is not None:
            self.q_proj = nn.Linear(cfg.hidden, cfg.heads * cfg.q_head_dim, bias=cfg.qkv_bias)
            self.q_pe_scale = nn.Parameter(torch.ones(cfg.heads, cfg.d_rope))
        elif cfg.q_rank is None:
            self.q_proj = nn.Linear(cfg.hidden, cfg.heads * qk, bias=cfg.qkv_bias)
        else:
            self.q_a_proj = nn.Linear(cfg.hidden, cfg.q_rank, bias=cfg.qkv_bias)
            self.q_a_norm = RMSNorm(cfg.q_rank, cfg.rms_eps)
            self.q_b_proj = nn.Linear(cfg.q_rank, cfg.heads * qk, bias=False)
        self.kv_a_proj = nn.Linear(cfg.hidden, cfg.kv_rank + cfg.d_rope, bias=cfg.qkv_bias)
        self.kv_norm = RMSNorm(cfg.kv_rank, cfg.rms_eps) if cfg.latent_norm else nn.Identity()
        self.kv_b_proj = nn.Linear(cfg.kv_rank, cfg.heads * (cfg.d_nope + cfg.d_v), bias=False)
        self.o_proj = nn.Linear(cfg.heads * cfg.d_v, cfg.hidden, bias=cfg.o_bias)
        # RoPE tables and query indices per device, built on first use (not buffers: a meta-device load
        # must not lose them)
        self._rope_tables: dict[torch.device, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._q_index: dict[torch.device, tuple[torch.Tensor | None, torch.Tensor]] = {}

    def _tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        if device not in self._rope_tables:
            sec = self.cfg.pair_sections()
            self._rope_tables[device] = (self.cfg.pair_inv_freq().to(device), None if sec is None else sec.to(device))
        return self._rope_tables[device]

    def _query(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q_nope [B, H, T, d_nope] and q_pe [B, H, T, d_rope] (not rotated yet) of x [B, T, hidden]."""
        cfg, (b, t, _) = self.cfg, x.shape
        if cfg.q_head_dim is not None:
            q = self.q_proj(x).view(b, t, cfg.heads, cfg.q_head_dim).transpose(1, 2)  # [B, H, T, D]
            nope, pe = self._source_query_index(x.device)
            q_nope = q if nope is None else q.index_select(-1, nope)
            return q_nope, q.index_select(-1, pe) * self.q_pe_scale[:, None]
        q = self.q_proj(x) if cfg.q_rank is None else self.q_b_proj(self.q_a_norm(self.q_a_proj(x)))
        q = q.view(b, t, cfg.heads, cfg.d_nope + cfg.d_rope).transpose(1, 2)  # [B, H, T, dn+dr]
        q_nope, q_pe = q.split([cfg.d_nope, cfg.d_rope], dim=-1)
        return q_nope, q_pe

    def _source_query_index(self, device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor]:
        """q_nope's and q_pe's dims in the source query (q_nope's None when it is the whole query, in order)."""
        if device not in self._q_index:
            nope, pe = self.cfg.source_query_index()
            whole = torch.equal(nope, torch.arange(self.cfg.q_head_dim))
            self._q_index[device] = (None if whole else nope.to(device), pe.to(device))
        return self._q_index[device]

    def latent(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rounded: bool = True) -> torch.Tensor:
        """What the cache stores for x [B, T, hidden]: [c_kv | rotated k_pe] [B, T, r + d_rope].

        With latent_int8 the rows come back rounded as the int8 cache stores them; `rounded=False`
        leaves that to an int8 cache that is about to store them (it rounds the same way).
        """
        c, k_pe = self.kv_a_proj(x).split([self.cfg.kv_rank, self.cfg.d_rope], dim=-1)
        lat = torch.cat((self.kv_norm(c), apply_rope(k_pe, cos, sin)), dim=-1)
        return round_trip(lat) if self.cfg.latent_int8 and rounded else lat

    def forward(
        self,
        x: torch.Tensor,  # [B, T, hidden]
        positions: torch.Tensor,  # [B, T], or [3, B, T] for MRoPE
        cache: LatentKVCache | None = None,
        layer_idx: int = 0,
        mode: Mode = "naive",
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,  # this layer's (cos, sin) [B, T, d_rope], if known
    ) -> torch.Tensor:  # [B, T, hidden]
        cfg, (b, t, _) = self.cfg, x.shape
        cos, sin = rope if rope is not None else rope_cos_sin(cfg, positions, x.dtype, self._tables(positions.device))
        q_nope, q_pe = self._query(x)  # [B, H, T, dn], [B, H, T, dr]
        q_pe = apply_rope(q_pe, cos[:, None], sin[:, None])
        # an int8 cache rounds the rows as it stores them, and attention reads them back from it
        lat = self.latent(x, cos, sin, rounded=cache is None or not cache.int8)  # [B, T, r+dr]
        one_step, scales, hidden = mode == "absorbed" and t == 1, None, None
        if cache is not None:  # everything seen so far: [B, S, r+dr]
            if one_step:  # a decode step reads the rows as stored (int8: their scales are folded in)
                # on a CPU integer products read int8 rows in place (model.latent_quant); CUDA casts them
                lat, scales = cache.update_rows(layer_idx, lat, cast=x.device.type != "cpu")
                hidden = cache.hidden_rows()
            else:
                lat = cache.update(layer_idx, lat)
        if mode == "naive":
            out = self._naive(q_nope, q_pe, lat)
        elif mode == "absorbed":
            out = (self._absorbed_one(q_nope, q_pe, lat, scales, hidden) if one_step
                   else self._absorbed(q_nope, q_pe, lat))
        else:
            raise ValueError(f"unknown attention mode {mode!r} (naive|absorbed)")
        return self.o_proj(out.transpose(1, 2).reshape(b, t, cfg.heads * cfg.d_v))

    def _naive(self, q_nope: torch.Tensor, q_pe: torch.Tensor, lat: torch.Tensor) -> torch.Tensor:
        """Expand the latent to per-head K/V, then SDPA. Returns [B, H, T, d_v]."""
        cfg, (b, s, _), t = self.cfg, lat.shape, q_nope.shape[2]
        c, k_pe = lat.split([cfg.kv_rank, cfg.d_rope], dim=-1)
        kv = self.kv_b_proj(c).view(b, s, cfg.heads, cfg.d_nope + cfg.d_v).transpose(1, 2)  # [B, H, S, dn+dv]
        k_nope, v = kv.split([cfg.d_nope, cfg.d_v], dim=-1)
        k = torch.cat((k_nope, k_pe[:, None].expand(-1, cfg.heads, -1, -1)), dim=-1)  # [B, H, S, dn+dr]
        q = torch.cat((q_nope, q_pe), dim=-1)  # [B, H, T, dn+dr]
        if _flash_attn_func is not None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
            return self._flash(q, k, v)
        mask = None if t == s else _causal_mask(t, s, q.device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None, scale=cfg.scale)

    def _flash(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """flash-attn wants equal q/k/v widths: pad V, attend (bottom-right causal), slice back."""
        dv, dqk = v.shape[-1], q.shape[-1]
        if dv < dqk:
            v = F.pad(v, (0, dqk - dv))
        out = _flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                               softmax_scale=self.cfg.scale, causal=True)  # [B, T, H, dqk]
        return out[..., : self.cfg.d_v].transpose(1, 2)

    def _absorbed(self, q_nope: torch.Tensor, q_pe: torch.Tensor, lat: torch.Tensor) -> torch.Tensor:
        """Attend over the latent: W_UK folded into q, W_UV applied after. Returns [B, H, T, d_v]."""
        cfg, (b, s, _), (_, h, t, _) = self.cfg, lat.shape, q_nope.shape
        w_uk, w_uv = self._absorb_weights()
        q_lat = torch.einsum("bhtd,hdr->bhtr", q_nope, w_uk)  # [B, H, T, r]
        # heads go into the query-length axis: one shared key "head" [c | k_pe] serves all H*T queries
        q_all = torch.cat((q_lat, q_pe), dim=-1).reshape(b, 1, h * t, cfg.kv_rank + cfg.d_rope)
        mask = None if t == 1 else _causal_mask(t, s, lat.device).repeat(h, 1)  # [H*T, S]
        o_lat = F.scaled_dot_product_attention(q_all, lat[:, None], lat[:, None, :, : cfg.kv_rank],
                                               attn_mask=mask, scale=cfg.scale)  # [B, 1, H*T, r]
        return torch.einsum("bhtr,hvr->bhtv", o_lat.view(b, h, t, cfg.kv_rank), w_uv)  # [B, H, T, dv]

    def _absorb_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """W_UK [H, dn, r] and W_UV [H, dv, r]: views of kv_b_proj's weight."""
        cfg = self.cfg
        w = self.kv_b_proj.weight.view(cfg.heads, cfg.d_nope + cfg.d_v, cfg.kv_rank)
        w_uk, w_uv = w.split([cfg.d_nope, cfg.d_v], dim=1)
        return w_uk, w_uv

    def _absorbed_one(self, q_nope: torch.Tensor, q_pe: torch.Tensor, rows: torch.Tensor,
                      scales: torch.Tensor | None = None, hidden: torch.Tensor | None = None) -> torch.Tensor:
        """Single-token decode over the latent rows [B, S, r+dr] with plain matmuls. Returns [B, H, 1, d_v].

        SDPA on CPU takes its slow generic fallback for one query row and a strided value slice; here
        all H heads share one matmul against the cache as it is stored: the `[c | k_pe]` rows serve as
        keys, and their first r columns (a strided view read in place) as values. With the int8
        cache's scales [B, S, 1] each row's scale multiplies its score and its probability instead of
        the S x (r+dr) values. int8 `rows` (a CPU cache's column store, as stored) go to the fused
        kernel (model.kernels.attend_kernel) where this machine can build it, else to integer products
        (latent_quant.int8_scores and int8_values). `hidden` [S] (a static cache's) marks rows that
        are not tokens yet.
        """
        r, (w_uk, w_uv), dtype = self.cfg.kv_rank, self._absorb_weights(), q_nope.dtype
        q_lat = torch.matmul(q_nope, w_uk)  # [B, H, 1, dn] @ [H, dn, r] -> [B, H, 1, r]
        # the scale goes on the H query rows rather than on the H x S scores
        q_all = torch.cat((q_lat, q_pe), dim=-1).squeeze(2) * self.cfg.scale  # [B, H, r+dr]
        if hidden is None and attend_kernel.applies(rows, scales):  # a CPU int8 column store: one fused kernel
            o_lat = attend_kernel.latent_attend(q_all, rows, scales, r).to(dtype)  # [B, H, r]
        else:
            o_lat = self._attend_rows(q_all, rows, scales, hidden)
        return torch.matmul(o_lat.unsqueeze(2), w_uv.transpose(1, 2))  # [B, H, 1, r] @ [H, r, dv] -> [B, H, 1, dv]

    def _attend_rows(self, q_all: torch.Tensor, rows: torch.Tensor, scales: torch.Tensor | None,
                     hidden: torch.Tensor | None) -> torch.Tensor:
        """_absorbed_one's attention with torch ops: q_all [B, H, r+dr] over rows [B, S, r+dr]; [B, H, r]."""
        r, dtype = self.cfg.kv_rank, q_all.dtype
        int_rows = rows.dtype == torch.int8
        scores = int8_scores(q_all, rows) if int_rows else torch.matmul(q_all, rows.transpose(1, 2))  # [B, H, S]
        row_scale = None if scales is None else scales.to(scores.dtype).transpose(1, 2)  # [B, 1, S]
        if row_scale is not None:
            scores.mul_(row_scale)  # a fresh tensor: scaled where it lies
        if hidden is not None:
            scores = scores.masked_fill(hidden, float("-inf"))
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)  # fp32 softmax
        if row_scale is not None:
            probs = probs * row_scale
        if int_rows:
            o_lat = int8_values(probs, rows[..., :r]).to(dtype)  # [B, H, r]
        else:
            o_lat = torch.matmul(probs.to(dtype), rows[..., :r])  # [B, H, r]
        return o_lat
