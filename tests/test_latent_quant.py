"""The int8 latent cache: row quantisation, what the cache stores and hands back, and the model paths over it."""
from __future__ import annotations

import pytest
import torch

from model.cache import LatentKVCache
from model.latent_quant import (LO_STEPS, combine_parts, dequantize_rows, int8_scores, int8_values, quantize_rows,
                                round_trip, split_int8)
from model.m2la import M2LAAttention, M2LAConfig
from tests.fixtures.tiny_lm import tiny_m2la


def _rows(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 7, 24, generator=g)
    x[0, 0] *= 300.0  # one row far larger than the rest, as an attention-sink token's latent is
    return x


def test_rows_round_within_half_a_step_of_their_own_scale() -> None:
    x = _rows()
    q, s = quantize_rows(x)
    assert q.dtype == torch.int8 and s.dtype == torch.float16 and s.shape == (2, 7, 1)
    back = dequantize_rows(q, s, torch.float32)
    # each row's error is bounded by ITS scale: the large row does not coarsen the others
    step = x.abs().amax(-1, keepdim=True) / 127
    assert ((back - x).abs() <= 0.5 * step * 1.01 + 1e-6).all()
    assert (back - x)[1:].abs().max() < 0.05
    assert q.abs().max() == 127


def test_round_trip_is_idempotent_and_passes_gradients_straight_through() -> None:
    x = _rows(1).requires_grad_(True)
    y = round_trip(x)
    assert torch.equal(round_trip(y.detach()), y.detach())
    assert not torch.equal(y.detach(), x.detach())
    (y * torch.arange(24.0)).sum().backward()
    assert torch.equal(x.grad, torch.arange(24.0).expand(2, 7, 24))


@pytest.mark.parametrize("max_len", [None, 12])
def test_int8_cache_hands_back_the_rounded_rows_and_counts_its_bytes(max_len: int | None) -> None:
    cache = LatentKVCache(layers=2, width=24, max_len=max_len, int8=True)
    x = _rows()[:1]
    for layer in range(2):
        got = cache.update(layer, x[:, :4])
    got = cache.update(1, x[:, 4:])
    assert torch.equal(got, round_trip(x))
    assert cache.data[1].dtype == torch.int8 and cache.data[1].shape[:2] == (1, 24)  # on a CPU, a token a column
    assert cache.bytes_per_token() == 2 * 24 + 2 * 2  # one byte a value, one fp16 scale a layer
    assert cache.nbytes == 4 * (24 + 2) + 7 * (24 + 2)
    rows, scales = cache.update_rows(0, x[:, 4:])
    assert torch.equal(rows * scales.float(), round_trip(x))
    stored, same_scales = cache.update_rows(1, x[:, :0], cast=False)  # the int8 storage itself, not a copy
    assert stored.dtype == torch.int8 and stored.data_ptr() == cache.data[1].data_ptr()
    assert torch.equal(stored.float() * same_scales.float(), round_trip(x))
    cache.crop(3)
    assert cache.seq_len(0) == 3 and torch.equal(cache.update(0, x[:, 3:4]), round_trip(x[:, :4]))


@pytest.mark.parametrize("max_len", [12, 64, 8192, 8211])
def test_int8_column_store_pads_its_token_slots_to_an_odd_multiple_of_64(max_len: int) -> None:
    """The integer GEMMs read the store a row of S tokens at a time: rows 64-byte aligned, at a stride that
    is never a multiple of 128 (nor of 4,096); the padding is allocated, never handed back."""
    cache = LatentKVCache(layers=1, width=24, max_len=max_len, int8=True)
    stride = cache.data[0].stride(1)
    assert max_len <= stride < max_len + 128 and stride % 64 == 0 and stride % 128 != 0
    x = _rows()[:1]
    rows, _ = cache.update_rows(0, x, cast=False)
    assert rows.shape == (1, 7, 24) and rows.stride(1) == 1 and rows.stride(2) == stride
    assert torch.equal(cache.update(0, x[:, :0]), round_trip(x))
    assert cache.capacity_nbytes == stride * (24 + 2) and cache.nbytes == 7 * (24 + 2)


@pytest.mark.parametrize("max_len", [None, 16])
def test_int8_model_decodes_over_its_cache_as_its_full_forward_computes(max_len: int | None) -> None:
    """Prefill (naive) then one-token steps (absorbed, scales folded in) equal one full forward, which
    rounds every latent the way the cache stores it; the unrounded model gives other logits."""
    model = tiny_m2la(int8=True)
    ids = torch.randint(0, 50, (2, 11))
    cache = LatentKVCache.for_model(model, batch=2, max_len=max_len)
    assert cache.int8
    with torch.no_grad():
        full = model(ids)
        parts = [model(ids[:, :6], cache=cache)]
        parts += [model(ids[:, t:t + 1], cache=cache, mode="absorbed") for t in range(6, 11)]
        plain = tiny_m2la(int8=False)(ids)
    assert (torch.cat(parts, 1) - full).abs().max() < 1e-4 * full.abs().max()
    assert (plain - full).abs().max() > 1e-3 * full.abs().max()


def test_int8_attention_naive_and_absorbed_agree() -> None:
    torch.manual_seed(2)
    layer = M2LAAttention(M2LAConfig(hidden=48, heads=4, d_nope=12, d_rope=8, d_v=10, kv_rank=20,
                                     latent_int8=True)).eval()
    x = torch.randn(1, 9, 48)
    pos = torch.arange(9)[None]
    naive, absorbed = layer(x, pos, mode="naive"), layer(x, pos, mode="absorbed")
    assert (naive - absorbed).abs().max() < 1e-5 * max(1.0, naive.abs().max().item())


def test_int8_scores_are_the_float_products_within_the_two_part_split_bound() -> None:
    """Each query row is split into two int8 parts: every score is off by at most
    max|q| / (127 * 2 * LO_STEPS) times the row's sum of |values| (one part alone would be 254x coarser)."""
    g = torch.Generator().manual_seed(3)
    q = torch.randn(2, 5, 40, generator=g) * torch.logspace(-2, 2, 5)[None, :, None]  # heads of very unlike size
    rows = torch.randint(-127, 128, (2, 33, 40), generator=g, dtype=torch.int8)
    got = int8_scores(q, rows)
    exact = torch.einsum("bhw,bsw->bhs", q.double(), rows.double())
    assert got.shape == (2, 5, 33) and got.dtype == torch.float32
    bound = q.abs().amax(-1, keepdim=True).double() / (127 * 2 * LO_STEPS) * rows.abs().sum(-1)[:, None].double()
    err = (got.double() - exact).abs()
    assert (err <= bound * 1.001 + 1e-6 * exact.abs()).all()
    assert err.max() > 0  # rounded, not exact: the bound is what the test holds it to


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_split_int8_parts_sum_back_to_the_rows_within_half_their_last_step(parts: int) -> None:
    g = torch.Generator().manual_seed(parts)
    x = torch.randn(2, 4, 50, generator=g) * torch.logspace(-3, 3, 4)[None, :, None]  # rows of very unlike size
    got, step = split_int8(x, parts)
    assert got.dtype == torch.int8 and got.shape == (2, 4 * parts, 50) and step.shape == (2, 4, 1)
    assert int(got.int().abs().max()) == 127  # the full range, never -128 (the split has no clamp)
    back = sum(got[:, k * 4:(k + 1) * 4].double() * step.double() / LO_STEPS ** k for k in range(parts))
    err = (back - x.double()).abs()
    ulps = 4 * 2.0 ** -24 * 127 * step.double()  # fp32 peels the parts off: the third one reaches its rounding
    assert (err <= step.double() / (2 * LO_STEPS ** (parts - 1)) * 1.001 + ulps).all()
    assert (err.amax(-1) > step.double().squeeze(-1) / (8 * LO_STEPS ** (parts - 1))).all()  # rounded, not exact
    # the integer products of the parts, combined, are the float products of what the parts hold
    ones = torch.ones(2, 50, 3, dtype=torch.int8)
    sums = torch.stack([torch._int_mm(a, b) for a, b in zip(got, ones)])
    assert torch.allclose(combine_parts(sums, step).double(), back.sum(-1, keepdim=True).expand(-1, -1, 3),
                          rtol=1e-6)


def test_two_part_sums_combine_in_int32_only_where_no_sum_can_overflow() -> None:
    """Score parts combine exactly in int32 (then one multiply to fp32) for short rows; a depth whose sums
    could pass 2**31 / LO_STEPS takes the float combination."""
    step = torch.tensor([[[0.5], [0.25]]])  # [1, M=2, 1]
    g = torch.Generator().manual_seed(7)
    sums = torch.randint(-127 * 127 * 184, 127 * 127 * 184, (1, 4, 9), generator=g, dtype=torch.int32)
    assert torch.allclose(combine_parts(sums, step, depth=184), combine_parts(sums, step), rtol=1e-6)
    big = 127 * 127 * 600  # the largest sum over 600 values: times LO_STEPS it would wrap around in int32
    sums = torch.full((1, 4, 1), big, dtype=torch.int32)
    exact = (big + big / LO_STEPS) * step
    assert torch.allclose(combine_parts(sums, step, depth=600).double(), exact.double(), rtol=1e-6)


def test_int8_values_are_the_float_sums_within_the_three_part_bound() -> None:
    """Softmax weights over many rows, one of them a sink with most of the mass: every output is off by at
    most max(p) / (2 * 127 * LO_STEPS**2) times the sum of its column's |values|; two parts would not be."""
    g = torch.Generator().manual_seed(5)
    scores = torch.randn(2, 3, 700, generator=g)
    scores[:, :, 0] += 8.0
    probs = torch.softmax(scores, -1)
    store = torch.randint(-127, 128, (2, 700, 20), generator=g, dtype=torch.int8)
    values = store[..., :12]  # the value columns of the cached rows, read in place
    got = int8_values(probs, values)
    exact = torch.einsum("bhs,bsr->bhr", probs.double(), values.double())
    assert got.shape == (2, 3, 12) and got.dtype == torch.float32
    col = values.abs().double().sum(1)[:, None]  # [B, 1, R]
    bound = probs.amax(-1, keepdim=True).double() / (2 * 127 * LO_STEPS ** 2) * col
    assert ((got.double() - exact).abs() <= bound * 1.001 + 1e-6 * exact.abs()).all()
    assert all(torch.equal(a, b) for a, b in zip(split_int8(probs, 3, nonneg=True), split_int8(probs, 3)))
    two, step = split_int8(probs, 2)
    two_parts = combine_parts(torch.stack([torch._int_mm(a, v) for a, v in zip(two, values)]), step)
    assert ((two_parts.double() - exact).abs() > bound * 1.001 + 1e-6 * exact.abs()).any()


def test_cpu_decode_reads_the_stored_int8_rows_with_integer_products(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the fused kernel (model.kernels.attend_kernel, tested on its own) scores and the value sum both take
    the cache's int8 storage itself (no float copy of the rows)."""
    import model.m2la as m2la
    from model.kernels import attend_kernel

    monkeypatch.setattr(attend_kernel, "applies", lambda *a: False)

    calls = []

    def counting_scores(q: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        calls.append(("scores", rows.dtype, rows.data_ptr()))
        return int8_scores(q, rows)

    def counting_values(probs: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        calls.append(("values", values.dtype, values.data_ptr()))
        return int8_values(probs, values)

    monkeypatch.setattr(m2la, "int8_scores", counting_scores)
    monkeypatch.setattr(m2la, "int8_values", counting_values)
    model = tiny_m2la(int8=True)
    cache = LatentKVCache.for_model(model)
    with torch.no_grad():
        model(torch.randint(0, 50, (1, 5)), cache=cache)
        assert not calls  # prefill expands the latent (naive path)
        model(torch.tensor([[7]]), cache=cache, mode="absorbed")
    stored = [d.data_ptr() for d in cache.data]
    assert calls == [(kind, torch.int8, ptr) for ptr in stored for kind in ("scores", "values")]


@pytest.mark.slow
def test_cpu_int8_decode_of_real_smollm2_weights_stays_near_its_full_forward() -> None:
    """SmolLM2-135M's weights (the bench's weight-SVD conversion at the lite setting, r=120/d_rope=64 int8):
    decoding the last 8 of 512 held-out tokens over the int8 cache, with integer products (the fused kernel
    where it builds), gives the full forward's logits to 0.5% of the largest and KL 1e-4 a token (measured:
    kernel 0.083%, 2.0e-6; torch ops 0.091%, 1.8e-6; one-part query scores measured 1.6% and 7.6e-4, so
    this holds the split to its second part)."""
    from assets import AssetError
    from bench.m2la_config import BenchConfig
    from bench.m2la_decode import weight_svd_default
    from model.convert.corpus import token_windows
    from model.load import load_gguf_source, smollm2_gguf

    try:
        source, tok = load_gguf_source(smollm2_gguf())
    except AssetError as e:
        pytest.skip(str(e))
    model = weight_svd_default(source, BenchConfig(only="decode")).eval()
    ids, n = token_windows(tok, "heldout", 512, 1)[0:1], 8
    cache = LatentKVCache.for_model(model)
    assert cache.int8
    with torch.no_grad():
        full = model(ids)[:, -n:]
        model(ids[:, :-n], cache=cache)
        got = torch.cat([model(ids[:, t:t + 1], cache=cache, mode="absorbed") for t in range(512 - n, 512)], 1)
    ref_logp, got_logp = full.log_softmax(-1), got.log_softmax(-1)
    kl = (ref_logp.exp() * (ref_logp - got_logp)).sum(-1).mean()
    assert (got - full).abs().max() < 5e-3 * full.abs().max()
    assert kl < 1e-4, kl
    assert torch.equal(got.argmax(-1), full.argmax(-1))
