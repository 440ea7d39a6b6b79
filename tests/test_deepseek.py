"""DeepSeek-format MLA checkpoints load into M2LAAttention and match transformers' DeepSeek-V3 model."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.convert.deepseek import from_hf, load_deepseek
from model.generate import generate

YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 64,
        "mscale": 1.0, "mscale_all_dim": 0.7, "beta_fast": 32, "beta_slow": 1}


def _tiny_v3(q_lora_rank: int | None, rope: dict | None = None, dense_layers: int = 2, seed: int = 0,
             bias: bool = False):
    """Random 2-layer DeepSeek-V3 with only dense MLPs (first_k_dense_replace >= layers)."""
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

    torch.manual_seed(seed)
    kw = dict(vocab_size=96, hidden_size=64, intermediate_size=128, moe_intermediate_size=32, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=4, kv_lora_rank=16, q_lora_rank=q_lora_rank,
              qk_rope_head_dim=8, qk_nope_head_dim=16, v_head_dim=12, first_k_dense_replace=dense_layers,
              n_routed_experts=4, num_experts_per_tok=2, n_group=1, topk_group=1, max_position_embeddings=256,
              num_mtp_layers=0, bos_token_id=1, eos_token_id=2, pad_token_id=0, attention_bias=bias)
    if rope:
        kw["rope_parameters"] = rope
    model = DeepseekV3ForCausalLM(DeepseekV3Config(**kw)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model


@pytest.mark.parametrize("q_lora_rank,rope,bias", [(None, None, False), (24, YARN, False), (None, None, True)],
                         ids=["q_proj", "q_lora+yarn", "attention_bias"])
def test_logits_match_transformers_deepseek_v3(q_lora_rank: int | None, rope: dict | None, bias: bool) -> None:
    src = _tiny_v3(q_lora_rank, rope, bias=bias)
    ids = torch.randint(3, 96, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = src(ids).logits
        model = from_hf(src)
        for mode in ("naive", "absorbed"):
            assert (model(ids, mode=mode) - ref).abs().max().item() <= 1e-4
    a = model.config.attn[0]
    assert a.latent_norm and a.kv_rank == 16 and a.d_rope == 8 and a.q_rank == q_lora_rank
    if rope:  # YaRN's mscale changes the softmax scale, as in DeepSeek
        assert a.softmax_scale != pytest.approx(24 ** -0.5)


def test_interleaved_rope_rows_are_permuted_on_load() -> None:
    """Loading without the de-interleave would give other logits: the permutation is load-bearing."""
    src = _tiny_v3(None)
    src.config.rope_interleave = False  # the same weights read as rotate-half would mean another model
    ids = torch.randint(3, 96, (1, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = src(ids).logits
        assert (from_hf(src)(ids) - ref).abs().max().item() <= 1e-4
        src.config.rope_interleave = True
        assert (from_hf(src)(ids) - ref).abs().max().item() > 1e-3


def test_load_checkpoint_directory_and_generate(tmp_path: Path) -> None:
    src = _tiny_v3(24)
    src.save_pretrained(tmp_path)
    model = load_deepseek(tmp_path)
    prompt = torch.randint(3, 96, (1, 8), generator=torch.Generator().manual_seed(2))
    ref = src.generate(prompt, max_new_tokens=12, min_new_tokens=12, do_sample=False, eos_token_id=None,
                       pad_token_id=0)[0, 8:].tolist()
    assert generate(model, prompt, 12).tokens == ref


def test_moe_layers_are_refused() -> None:
    with pytest.raises(ValueError, match="MoE"):
        from_hf(_tiny_v3(None, dense_layers=1))
