"""The CUDA paths: greedy parity, the int8 latent cache, nf4 through bitsandbytes, SDPA's flash kernel, and a
decode step replayed from one CUDA graph.

Every test here is marked `gpu` and skipped without CUDA (tests/conftest.py); CI has no GPU, so they
run where a session is lent one: `bench/gpu_check.sh` (README, "Tests" and "M2LA on a GPU").
"""
from __future__ import annotations

import pytest
import torch

from model.cache import LatentKVCache
from model.convert import convert_model
from model.generate import generate
from model.m2la import M2LAAttention, M2LAConfig
from tests.fixtures.tiny_lm import VOCAB, tiny_llama, tiny_m2la

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def exact_fp32_matmuls():
    """TF32 would round fp32 matmuls to 10-bit mantissas and break the parity tests' premise."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def test_cuda_greedy_with_latent_cache_equals_transformers_generate() -> None:
    src = tiny_llama()
    with torch.no_grad():
        model = convert_model(src).cuda()
    src = src.cuda()
    prompt = torch.randint(3, VOCAB, (1, 10), generator=torch.Generator().manual_seed(0)).cuda()
    ref = src.generate(prompt, max_new_tokens=24, min_new_tokens=24, do_sample=False, eos_token_id=None,
                       pad_token_id=0)[0, 10:].tolist()
    out = generate(model, prompt, 24)
    assert out.tokens == ref and len(set(ref)) > 3


def test_cuda_int8_cache_decode_equals_full_forward() -> None:
    """Prefill, then one-token absorbed steps over int8 rows (scales folded in) on the GPU."""
    model = tiny_m2la(int8=True, seed=3).cuda()
    ids = torch.randint(0, 50, (2, 11), device="cuda")
    cache = LatentKVCache.for_model(model, batch=2, max_len=16)
    assert cache.int8 and cache.data[0].is_cuda and cache.data[0].dtype == torch.int8
    with torch.no_grad():
        full = model(ids)
        parts = [model(ids[:, :6], cache=cache)]
        parts += [model(ids[:, t:t + 1], cache=cache, mode="absorbed") for t in range(6, 11)]
    assert (torch.cat(parts, 1) - full).abs().max() < 1e-4 * full.abs().max()
    assert cache.nbytes == 2 * 11 * 2 * (24 + 8 + 2)


def test_cuda_nf4_stays_close_and_generates() -> None:
    import bitsandbytes as bnb

    from model.load import quantize_nf4
    from model.convert.ppl import logits_of

    from tests.tiny_chat import tiny_llama as tiny_chat_llama

    with torch.no_grad():  # hidden 128: nf4's 64-value blocks, as in tests/test_load.py's CPU twin
        model = convert_model(tiny_chat_llama(VOCAB, seed=22, hidden_size=128, intermediate_size=256), 16, 8)
    model = model.cuda().to(torch.bfloat16)
    ids = torch.randint(3, VOCAB, (1, 24), device="cuda")
    ref = logits_of(model, ids).float()
    assert quantize_nf4(model, compute_dtype=torch.bfloat16, min_params=0) > 0
    linears = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert linears and all(m.weight.is_cuda and m.weight.quant_state is not None for m in linears)
    got = logits_of(model, ids).float()
    assert not torch.equal(got, ref)  # it really is quantised
    assert torch.nn.functional.cosine_similarity(got.flatten(), ref.flatten(), dim=0) > 0.98
    assert len(generate(model, ids[0], 6).tokens) == 6  # the absorbed decode runs over nf4 linears


def test_cuda_naive_path_runs_sdpa_flash_kernel_and_agrees_with_absorbed() -> None:
    """With SDPA restricted to its FlashAttention kernel the naive (prefill) path still runs: q/k and v
    widths are equal here, as that kernel needs. bf16, so a bf16 tolerance."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.manual_seed(5)
    cfg = M2LAConfig(hidden=256, heads=4, d_nope=32, d_rope=32, d_v=64, kv_rank=96)
    layer = M2LAAttention(cfg).cuda().to(torch.bfloat16).eval()
    x = torch.randn(2, 256, 256, device="cuda", dtype=torch.bfloat16)
    pos = torch.arange(256, device="cuda")[None].expand(2, -1)
    with torch.no_grad():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            naive = layer(x, pos, mode="naive").float()
        absorbed = layer(x, pos, mode="absorbed").float()
    assert (naive - absorbed).abs().max() < 0.05 * naive.abs().max()


def test_cuda_graph_decode_replays_the_eager_steps() -> None:
    """GraphDecoder (one captured step, replayed) gives the eager decode's logits, and generate(cuda_graph=True)
    the eager generation's tokens; a step past the static cache's length is refused before it replays."""
    from model.cache import StaticLatentKVCache
    from model.generate import decode_one
    from model.graph_decode import GraphDecoder

    model = tiny_m2la(int8=True, seed=6).cuda()
    ids = torch.randint(0, 50, (1, 14), generator=torch.Generator().manual_seed(6)).cuda()
    ordinary, static = LatentKVCache.for_model(model, max_len=14), StaticLatentKVCache.for_model(model, max_len=14)
    with torch.no_grad():
        model(ids[:, :8], cache=ordinary)
        model(ids[:, :8], cache=static)
        graph = GraphDecoder(model, static)
        for t in range(8, 14):
            pos = torch.tensor([[t]], device="cuda")
            ref = decode_one(model, ids[:, t:t + 1], ordinary, pos)
            got = graph.step(ids[:, t:t + 1], pos)
            assert (got - ref).abs().max() < 1e-4 * ref.abs().max(), t
        with pytest.raises(ValueError, match="latent cache full"):
            graph.step(ids[:, :1], torch.tensor([[14]], device="cuda"))
    eager = generate(model, ids[0, :5], 16)
    assert generate(model, ids[0, :5], 16, cuda_graph=True).tokens == eager.tokens and len(set(eager.tokens)) > 2
