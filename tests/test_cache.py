"""LatentKVCache: exact byte accounting, preallocated == growing, limits."""
from __future__ import annotations

import pytest
import torch

from model.cache import LatentKVCache
from model.lm import LMConfig, M2LAForCausalLM
from model.m2la import M2LAConfig


def _model(layers: int = 3, r: int = 24, d_rope: int = 8) -> M2LAForCausalLM:
    torch.manual_seed(0)
    a = M2LAConfig(hidden=32, heads=4, d_nope=8, d_rope=d_rope, d_v=8, kv_rank=r)
    return M2LAForCausalLM(LMConfig(vocab_size=50, hidden=32, intermediate=64, attn=(a,) * layers)).eval()


@pytest.mark.parametrize("dtype,size", [(torch.float32, 4), (torch.bfloat16, 2), (torch.float16, 2)])
def test_bytes_per_token_is_layers_times_width_times_value_bytes(dtype: torch.dtype, size: int) -> None:
    model = _model(layers=3, r=24, d_rope=8).to(dtype)
    cache = LatentKVCache.for_model(model)
    assert cache.bytes_per_token() == 3 * (24 + 8) * size
    ids = torch.randint(0, 50, (1, 13))
    with torch.no_grad():
        model(ids, cache=cache)
    # what is held is exactly the latent of every token, nothing else
    assert cache.nbytes == 13 * cache.bytes_per_token()
    assert all(d.shape == (1, 13, 32) for d in cache.data)


def test_nbytes_counts_batch_rows_and_capacity_is_preallocated() -> None:
    cache = LatentKVCache(layers=2, width=10, batch=3, max_len=100)
    cache.update(0, torch.ones(3, 4, 10))
    cache.update(1, torch.ones(3, 4, 10))
    assert cache.nbytes == 3 * 4 * 2 * 10 * 4
    assert cache.capacity_nbytes == 3 * 100 * 2 * 10 * 4


def test_preallocated_and_growing_caches_give_the_same_logits() -> None:
    model = _model()
    ids = torch.randint(0, 50, (1, 9))
    logits = []
    for max_len in (None, 16):
        cache = LatentKVCache.for_model(model, max_len=max_len)
        with torch.no_grad():
            a = model(ids[:, :6], cache=cache)
            b = model(ids[:, 6:], cache=cache, mode="absorbed")
        logits.append(torch.cat((a, b), 1))
        assert cache.seq_len() == 9
    assert torch.equal(logits[0], logits[1])
    with torch.no_grad():
        assert (logits[0] - model(ids)).abs().max() < 1e-5


def test_full_cache_raises_and_crop_forgets() -> None:
    cache = LatentKVCache(layers=1, width=4, max_len=5)
    cache.update(0, torch.zeros(1, 5, 4))
    with pytest.raises(ValueError, match="full"):
        cache.update(0, torch.zeros(1, 1, 4))
    cache.crop(2)
    assert cache.seq_len() == 2 and cache.nbytes == 2 * 4 * 4
    out = cache.update(0, torch.ones(1, 1, 4))
    assert out.shape == (1, 3, 4) and out[0, 2].eq(1).all()



@pytest.mark.parametrize("int8", [False, True], ids=["fp32", "int8"])
def test_static_cache_steps_equal_the_ordinary_cache_and_ignore_unwritten_rows(int8: bool) -> None:
    """The CUDA-graph cache (fixed shapes: the row goes to a device-side index, attention reads every
    preallocated row under a mask) decodes as the ordinary cache does, whatever the unwritten rows hold."""
    from model.cache import StaticLatentKVCache
    from model.generate import decode_one
    from tests.fixtures.tiny_lm import tiny_m2la

    model = tiny_m2la(int8=int8)
    ids = torch.randint(0, 50, (1, 12), generator=torch.Generator().manual_seed(1))
    ordinary = LatentKVCache.for_model(model, max_len=16)
    static = StaticLatentKVCache.for_model(model, max_len=16)
    assert static.int8 == int8
    got, ref = [], []
    with torch.no_grad():
        ref.append(model(ids[:, :6], cache=ordinary)[:, -1])
        got.append(model(ids[:, :6], cache=static)[:, -1])
        assert static.index.tolist() == [6] and static.seq_len() == 6
        for layer in range(static.layers):  # garbage where no token has been written yet
            static._stored(layer, 16)[:, 6:] = 100  # a view, whatever the layout
            if int8:
                static.scales[layer][:, 6:] = 1.0
        for t in range(6, 12):
            pos = torch.tensor([[t]])
            ref.append(decode_one(model, ids[:, t:t + 1], ordinary, pos))
            got.append(decode_one(model, ids[:, t:t + 1], static, pos))
            static.advance()
    assert (torch.stack(got) - torch.stack(ref)).abs().max() < 1e-5 * torch.stack(ref).abs().max()
    assert static.seq_len() == 12 and static.index.tolist() == [12]
    assert static.hidden_rows().tolist() == [False] * 12 + [True] * 4  # as of the last step (token 11)


def test_static_cache_needs_a_length_and_refuses_a_step_past_it() -> None:
    from model.cache import StaticLatentKVCache
    from model.generate import decode_one, generate
    from tests.fixtures.tiny_lm import tiny_m2la

    model = tiny_m2la(int8=True)
    with pytest.raises(ValueError, match="max_len"):
        StaticLatentKVCache.for_model(model)
    cache = StaticLatentKVCache.for_model(model, max_len=4)
    with torch.no_grad():
        model(torch.randint(0, 50, (1, 4)), cache=cache)
        with pytest.raises(ValueError, match="latent cache full"):
            decode_one(model, torch.tensor([[1]]), cache, torch.tensor([[4]]))
    with pytest.raises(ValueError, match="cuda_graph needs a CUDA model"):
        generate(model, [1, 2, 3], 2, cuda_graph=True)
