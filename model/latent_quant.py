"""8-bit latent cache values: each cached row `[c_kv | k_pe]` as int8 with one fp16 scale per row.

One scale per token and layer (the row's largest magnitude / 127) follows the tokens whose latents are
far larger than the rest (the first token, an attention sink), which one scale per channel would let
flatten every other token (perplexity: docs/). float8 was as good but PyTorch casts it far slower than
int8 on CPU, which a decode step pays on every layer.

On a CPU a decode step reads the int8 rows as stored, with integer products: its query against the
whole rows (`int8_scores`), its probabilities against their value columns (`int8_values`), instead of
first casting S x W values to float. Where model.kernels.attend_kernel builds, that fused kernel does the same
in one call per layer (the same two-part query; the probabilities in three uint8 parts), and these
torch ops are its fallback.
"""
from __future__ import annotations

import torch

SCALE_DTYPE = torch.float16  # one scale per cached row: 2 bytes
SCALE_BYTES = 2


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x [..., W] -> (int8 values [..., W], fp16 scales [..., 1]) with x ~= values * scales."""
    xf = x.detach().float()
    scale = (xf.abs().amax(-1, keepdim=True).clamp_min(1e-8) / 127).to(SCALE_DTYPE)
    return (xf / scale.float()).round().clamp(-127, 127).to(torch.int8), scale


def dequantize_rows(values: torch.Tensor, scales: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """int8 values [..., W] and scales [..., 1] -> [..., W] in dtype."""
    return values.to(dtype) * scales.to(dtype)


def round_trip(x: torch.Tensor) -> torch.Tensor:
    """x as the int8 cache gives it back, with a straight-through gradient (training sees the rounding).

    Idempotent: quantising the result again yields the same values, so a row rounded here and then
    stored by the cache reads back unchanged.
    """
    q, s = quantize_rows(x)
    return x + (dequantize_rows(q, s, x.dtype) - x).detach()


# each further int8 part of a split row counts in steps of (the previous part's step) / LO_STEPS: a part
# rounds to within half a step, so what remains for the next one fits in int8 (|part| <= 127)
LO_STEPS = 254


def split_int8(x: torch.Tensor, parts: int, nonneg: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Float rows x [B, M, N] as `parts` int8 parts [B, parts * M, N] (part k in rows k*M .. k*M + M-1) and
    each row's step [B, M, 1] (fp32): x ~= sum_k part_k * step / LO_STEPS**k, off by at most
    step / (2 * LO_STEPS**(parts - 1)) a value, with step = max|row| / 127 (three parts reach fp32's own
    rounding of the row: a few ulps of its largest value). `nonneg`: the caller knows x >= 0."""
    m, xf = x.shape[1], x.float()
    # abs().amax(): torch.linalg.vector_norm(ord=inf) computes the same in one reduction but is slower on a
    # CPU; `nonneg` rows (probabilities) skip abs
    step = (xf if nonneg else xf.abs()).amax(-1, keepdim=True).clamp_min_(1e-30).div_(127)  # [B, M, 1]
    rest = xf / step  # a fresh tensor: the parts are peeled off it in place
    out = torch.empty(x.shape[0], parts * m, x.shape[2], dtype=torch.int8, device=x.device)
    for k in range(parts):
        # no clamp: |rest| <= 127 (to an ulp) for the first part, and each remainder is within half a unit
        # exactly (a float minus its rounding is exact), so 254 of them are within 127
        part = torch.round(rest)
        out[:, k * m:(k + 1) * m] = part
        if k < parts - 1:
            rest.sub_(part).mul_(LO_STEPS)
    return out, step


def combine_parts(sums: torch.Tensor, step: torch.Tensor, depth: int | None = None) -> torch.Tensor:
    """Integer products of split_int8's parts [B, parts * M, N] (int32) back to fp32 [B, M, N].

    With `depth` (the products' inner length) two parts whose combined sum cannot overflow int32 combine
    there (exactly), then one multiply makes them fp32: a decode step's M x S scores pass over memory
    twice instead of four times.
    """
    m = step.shape[1]
    if depth is not None and sums.shape[1] == 2 * m and depth * 127 * 127 * (LO_STEPS + 1) < 2 ** 31:
        return torch.mul(torch.add(sums[:, m:], sums[:, :m], alpha=LO_STEPS), step / LO_STEPS)
    sums = sums.float()
    out = sums[:, :m] * step
    for k in range(1, sums.shape[1] // m):
        out.addcmul_(sums[:, k * m:(k + 1) * m], step / LO_STEPS ** k)
    return out


def _int_mm_batched(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torch._int_mm (2-D only) over the batch of a [B, M, K] and b [B, K, N]: [B, M, N]. One batch row
    (a decode step's) is returned as a view, without the copy torch.stack would make."""
    if a.shape[0] == 1:
        return torch._int_mm(a[0], b[0])[None]
    return torch.stack([torch._int_mm(x, y) for x, y in zip(a, b)])


def int8_scores(q: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Dot products of query rows q [B, H, W] (float) with int8 rows [B, S, W]: [B, H, S] in fp32.

    Each query row splits into two int8 parts (split_int8), so it is off by at most max|q| / 64,516 per
    value; one integer GEMM (torch._int_mm, exact int32 sums) then scores both parts against the rows as
    stored, sparing a CPU decode step the float copy of every cached row and the float GEMM over it.
    Two parts are a speed/precision trade: on the lite model the logits stay closer to the full forward's
    than bf16 weights do (tests/test_latent_quant.py holds the bound); a third part would make them
    equal to about 1e-6 and cost the step a third more integer products.
    """
    parts, step = split_int8(q, 2)
    return combine_parts(_int_mm_batched(parts, rows.transpose(1, 2)), step, depth=rows.shape[-1])


def int8_values(probs: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Weighted sums of int8 value rows [B, S, R] (a strided view of the cache is fine) under float
    weights probs [B, H, S] (>= 0): [B, H, R] in fp32.

    The weights split into three int8 parts, then one integer GEMM against the rows as stored. This
    spares a CPU decode step the float copy of S x R values and a float GEMM whose few (H) rows use
    the CPU's float units poorly. A softmax's many small probabilities need the third part: with two,
    the lite model's decode above was 1.7e-4 KL off its full forward, with three 4.0e-5 (the scores'
    split alone: 4.7e-5).
    """
    parts, step = split_int8(probs, 3, nonneg=True)
    return combine_parts(_int_mm_batched(parts, values), step)
