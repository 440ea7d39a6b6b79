"""M2LAAttention: naive == absorbed (with and without the latent cache), RoPE and MRoPE."""
from __future__ import annotations

import pytest
import torch

from model.cache import LatentKVCache
from model.m2la import M2LAAttention, M2LAConfig, apply_rope, rope_cos_sin


def _layer(seed: int = 0, **kw) -> M2LAAttention:
    torch.manual_seed(seed)
    base = dict(hidden=48, heads=4, d_nope=12, d_rope=8, d_v=10, kv_rank=20)
    layer = M2LAAttention(M2LAConfig(**(base | kw))).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0, 0.3)
    return layer


@pytest.mark.parametrize("kw", [{}, {"q_rank": 16, "latent_norm": True},
                                {"qkv_bias": True, "o_bias": True, "d_nope": 0},
                                {"mrope_section": (1, 1, 2)}])
def test_naive_and_absorbed_agree(kw: dict) -> None:
    layer = _layer(**kw)
    x = torch.randn(2, 11, 48)
    pos = torch.arange(11)[None].expand(2, -1)
    naive = layer(x, pos, mode="naive")
    absorbed = layer(x, pos, mode="absorbed")
    assert naive.shape == (2, 11, 48)
    assert (naive - absorbed).abs().max() < 1e-5 * max(1.0, naive.abs().max().item())


def test_cached_decode_equals_full_forward() -> None:
    """Prefill 7 tokens (naive), then decode 5 one by one (absorbed) over the latent cache."""
    layer = _layer(q_rank=16, latent_norm=True)
    x = torch.randn(1, 12, 48)
    pos = torch.arange(12)[None]
    full = layer(x, pos, mode="naive")
    cache = LatentKVCache(1, 20 + 8, max_len=12)
    outs = [layer(x[:, :7], pos[:, :7], cache, 0, "naive")]
    for t in range(7, 12):
        outs.append(layer(x[:, t:t + 1], pos[:, t:t + 1], cache, 0, "absorbed"))
    assert cache.seq_len() == 12
    assert (torch.cat(outs, dim=1) - full).abs().max() < 1e-5


@pytest.mark.parametrize("max_len", [None, 16])
@pytest.mark.parametrize("kw", [{}, {"d_nope": 0, "mrope_section": (1, 1, 2)}])
def test_single_token_decode_matches_naive_batched(max_len: int | None, kw: dict) -> None:
    """The one-query decode path (plain matmuls over the stored latent) equals naive attention, for a
    batch of 2 over a growing and over a preallocated cache (whose per-step view is strided by max_len)."""
    layer = _layer(seed=3, **kw)
    x = torch.randn(2, 9, 48)
    pos = torch.arange(9)[None].expand(2, -1)
    full = layer(x, pos, mode="naive")
    cache = LatentKVCache(1, 28, batch=2, max_len=max_len)
    outs = [layer(x[:, :5], pos[:, :5], cache, 0, "naive")]
    for t in range(5, 9):
        step = layer(x[:, t:t + 1], pos[:, t:t + 1], cache, 0, "absorbed")
        naive_step = layer(x[:, t:t + 1], pos[:, t:t + 1], None, 0, "naive")  # no cache: different answer
        assert not torch.allclose(step, naive_step)
        outs.append(step)
    assert (torch.cat(outs, dim=1) - full).abs().max() < 1e-5 * max(1.0, full.abs().max().item())


def test_single_token_decode_softmax_is_fp32_for_bf16() -> None:
    """In bf16 the decode path stays close to the fp32 result (softmax runs in fp32)."""
    layer = _layer(seed=4)
    x = torch.randn(1, 6, 48)
    pos = torch.arange(6)[None]
    ref = layer(x, pos, mode="naive")[:, -1]
    lb = _layer(seed=4).to(torch.bfloat16)
    cache = LatentKVCache(1, 28, dtype=torch.bfloat16)
    lb(x[:, :5].bfloat16(), pos[:, :5], cache, 0, "naive")
    got = lb(x[:, 5:].bfloat16(), pos[:, 5:], cache, 0, "absorbed")[:, -1].float()
    assert (got - ref).abs().max() < 0.05 * ref.abs().max()


def test_chunked_prefill_with_cache_is_causal() -> None:
    """A second multi-token chunk attends to the cache plus itself, causally, in both modes."""
    layer = _layer()
    x = torch.randn(1, 10, 48)
    pos = torch.arange(10)[None]
    full = layer(x, pos)
    for mode in ("naive", "absorbed"):
        cache = LatentKVCache(1, 28)
        first = layer(x[:, :4], pos[:, :4], cache, 0, mode)
        second = layer(x[:, 4:], pos[:, 4:], cache, 0, mode)
        assert (torch.cat((first, second), 1) - full).abs().max() < 1e-5


def test_rope_depends_only_on_relative_position() -> None:
    layer = _layer()
    x = torch.randn(1, 9, 48)
    pos = torch.arange(9)[None]
    a = layer(x, pos)
    b = layer(x, pos + 37)
    assert (a - b).abs().max() < 1e-4
    # and it does encode position: reversing positions changes the output
    assert (layer(x, pos.flip(-1)) - a).abs().max() > 1e-3


def test_rope_matches_llama_rotary_embedding() -> None:
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    hf = LlamaRotaryEmbedding(LlamaConfig(hidden_size=64, num_attention_heads=4, head_dim=16,
                                          rope_parameters={"rope_type": "default", "rope_theta": 500.0}))
    pos = torch.arange(30)[None] * 3
    cos_hf, sin_hf = hf(torch.zeros(1), pos)
    cfg = M2LAConfig(hidden=64, heads=4, d_nope=0, d_rope=16, d_v=16, kv_rank=16, rope_theta=500.0)
    cos, sin = rope_cos_sin(cfg, pos, torch.float32)
    assert torch.allclose(cos, cos_hf, atol=1e-6) and torch.allclose(sin, sin_hf, atol=1e-6)


def test_mrope_matches_qwen2_vl_rotary_embedding() -> None:
    from transformers import Qwen2VLTextConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLRotaryEmbedding

    sections = (2, 3, 3)
    hf = Qwen2VLRotaryEmbedding(Qwen2VLTextConfig(
        hidden_size=64, num_attention_heads=4,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": list(sections)}))
    ar = torch.arange(20)
    pos = torch.stack([ar, ar // 3, ar % 5])[:, None]  # [3, 1, T]: sections see different positions
    cos_hf, sin_hf = hf(torch.zeros(1), pos)
    cfg = M2LAConfig(hidden=64, heads=4, d_nope=0, d_rope=16, d_v=16, kv_rank=16, mrope_section=sections)
    cos, sin = rope_cos_sin(cfg, pos, torch.float32)
    assert torch.allclose(cos, cos_hf, atol=1e-6) and torch.allclose(sin, sin_hf, atol=1e-6)
    assert cfg.pair_sections().tolist() == [0, 0, 1, 1, 1, 2, 2, 2]


def test_mrope_selected_pairs_take_their_section_positions() -> None:
    """With a subset of frequencies (rope_freq_index), each pair still reads its own section's position."""
    cfg = M2LAConfig(hidden=8, heads=1, d_nope=0, d_rope=6, d_v=4, kv_rank=4, mrope_section=(2, 3, 3),
                     rope_freq_index=(1, 4, 7), rope_inv_freq=(1.0, 1.0, 1.0))
    pos = torch.tensor([[[5]], [[7]], [[11]]])  # [3, 1, 1]
    cos, _ = rope_cos_sin(cfg, pos, torch.float64)
    assert torch.allclose(cos[0, 0, :3], torch.tensor([5.0, 7.0, 11.0], dtype=torch.float64).cos())


@pytest.mark.parametrize("mrope", [None, (2, 3, 3)], ids=["rope", "mrope"])
def test_all_layers_rope_in_one_pass_equals_each_layers_own(mrope) -> None:
    """LayersRope (one angle product, one cos, one sin for every layer) gives each layer exactly the
    cos/sin of rope_cos_sin, with per-layer pairs, widths and YaRN-style scaling."""
    from model.lm import LayersRope

    cfgs = (M2LAConfig(hidden=8, heads=1, d_nope=0, d_rope=6, d_v=4, kv_rank=4, mrope_section=mrope,
                       rope_freq_index=(1, 4, 7), rope_inv_freq=(0.5, 0.1, 0.01)),
            M2LAConfig(hidden=8, heads=1, d_nope=0, d_rope=4, d_v=4, kv_rank=4, mrope_section=mrope,
                       rope_freq_index=(0, 5), rope_inv_freq=(1.0, 0.03), rope_attention_scaling=1.2))
    ar = torch.arange(9)
    pos = torch.stack([ar, ar // 3, ar % 4])[:, None] if mrope else ar[None] * 5  # [3, 1, T] or [1, T]
    for (cos, sin), cfg in zip(LayersRope(cfgs).cos_sin(pos, torch.float32), cfgs, strict=True):
        ref_cos, ref_sin = rope_cos_sin(cfg, pos, torch.float32)
        assert torch.equal(cos, ref_cos) and torch.equal(sin, ref_sin)


def test_text_positions_make_mrope_equal_plain_rope() -> None:
    plain = _layer()
    mrope = _layer(mrope_section=(1, 1, 2))
    mrope.load_state_dict(plain.state_dict())
    x = torch.randn(1, 6, 48)
    pos = torch.arange(6)[None]
    assert (plain(x, pos) - mrope(x, pos[None].expand(3, -1, -1))).abs().max() < 1e-6
    assert (plain(x, pos) - mrope(x, torch.stack([pos, pos * 2, pos]))).abs().max() > 1e-4


def test_apply_rope_preserves_norm() -> None:
    cfg = M2LAConfig(hidden=8, heads=1, d_nope=0, d_rope=8, d_v=4, kv_rank=4)
    x = torch.randn(1, 5, 8)
    cos, sin = rope_cos_sin(cfg, torch.arange(5)[None] * 7, torch.float32)
    assert torch.allclose(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1), atol=1e-5)


def test_bad_mode_and_config_are_rejected() -> None:
    layer = _layer()
    with pytest.raises(ValueError, match="mode"):
        layer(torch.randn(1, 2, 48), torch.arange(2)[None], mode="fast")
    with pytest.raises(ValueError, match="d_rope"):
        M2LAConfig(hidden=8, heads=1, d_nope=0, d_rope=7, d_v=4, kv_rank=4)


@pytest.mark.gpu
def test_cuda_bf16_naive_and_absorbed_agree() -> None:
    """On CUDA the naive path runs flash-attn (where installed) or SDPA kernels; bf16 tolerance."""
    layer = _layer(q_rank=16, latent_norm=True).cuda().to(torch.bfloat16)
    x = torch.randn(2, 64, 48, device="cuda", dtype=torch.bfloat16)
    pos = torch.arange(64, device="cuda")[None].expand(2, -1)
    naive, absorbed = layer(x, pos, mode="naive").float(), layer(x, pos, mode="absorbed").float()
    assert (naive - absorbed).abs().max() < 0.05 * naive.abs().max()
