"""An InternVideo3-format checkpoint (MLA attention in DeepSeek's names) loads and computes what its formulas say.

The checkpoint is written here from a tiny random config, in the layout of InternVideo3's training code
(q_proj with a bias, kv_a_proj_with_mqa, kv_b_proj, o_proj; RoPE dims as adjacent pairs; interleaved MRoPE).
The reference forward below is written from those formulas, independently of model.m2la.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from assets.errors import UserError
from model.vlm.internvideo3 import CheckpointMismatch, load_internvideo3
from tests.fixtures.tiny_vlm import VOCAB, _ids, image_prompt, tiny_image, tiny_processor, tiny_qwen3_vl

TEXT = dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, qk_nope_head_dim=8, qk_rope_head_dim=16,
            v_head_dim=16, kv_lora_rank=24, q_lora_rank=None, vocab_size=VOCAB, intermediate_size=128,
            rms_norm_eps=1e-6, qkv_bias=True, o_bias=False, rope_theta=10000.0,
            rope_scaling={"rope_type": "default", "mrope_section": [4, 2, 2], "mrope_interleaved": True})


def _write(folder: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random InternVideo3-layout checkpoint (the vision tower: a tiny Qwen3-VL's); returns its tensors."""
    g = torch.Generator().manual_seed(seed)
    t, h = TEXT, TEXT["hidden_size"]
    heads, dn, dr, dv, r = (t[k] for k in ("num_attention_heads", "qk_nope_head_dim", "qk_rope_head_dim",
                                           "v_head_dim", "kv_lora_rank"))

    def rand(*shape: int, std: float = 0.15) -> torch.Tensor:
        return std * torch.randn(*shape, generator=g)

    pre = "model.language_model."
    sd = {pre + "embed_tokens.weight": rand(VOCAB, h, std=1.0), pre + "norm.weight": 1 + rand(h, std=0.1),
          "lm_head.weight": rand(VOCAB, h)}
    for i in range(t["num_hidden_layers"]):
        p = f"{pre}layers.{i}."
        sd |= {p + "input_layernorm.weight": 1 + rand(h, std=0.1), p + "post_attention_layernorm.weight": 1 + rand(h, std=0.1),
               p + "mlp.gate_proj.weight": rand(128, h), p + "mlp.up_proj.weight": rand(128, h),
               p + "mlp.down_proj.weight": rand(h, 128),
               p + "self_attn.q_proj.weight": rand(heads * (dn + dr), h), p + "self_attn.q_proj.bias": rand(heads * (dn + dr)),
               p + "self_attn.kv_a_proj_with_mqa.weight": rand(r + dr, h),
               p + "self_attn.kv_a_proj_with_mqa.bias": rand(r + dr),
               p + "self_attn.kv_b_proj.weight": rand(heads * (dn + dv), r), p + "self_attn.o_proj.weight": rand(h, heads * dv)}
    vision = tiny_qwen3_vl().model.visual
    sd |= {"model.visual." + k: v.clone() for k, v in vision.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(folder / "model.safetensors"))
    cfg = {"model_type": "internvideo3", "text_config": TEXT, "vision_config": vision.config.to_dict(),
           "tie_word_embeddings": False, **_ids()}
    (folder / "config.json").write_text(json.dumps(cfg))
    return sd


def _rms(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + TEXT["rms_norm_eps"]))


def _cos_sin(pos3: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved MRoPE as InternVideo3's rotary embedding computes it: [B, T, d_rope] (rotate-half layout)."""
    dr, sec = TEXT["qk_rope_head_dim"], TEXT["rope_scaling"]["mrope_section"]
    inv = 1.0 / TEXT["rope_theta"] ** (torch.arange(0, dr, 2).double() / dr)
    freqs = pos3[..., None].double() * inv  # [3, B, T, P]
    out = freqs[0].clone()
    for dim, offset in ((1, 1), (2, 2)):
        idx = slice(offset, sec[dim] * 3, 3)
        out[..., idx] = freqs[dim][..., idx]
    emb = torch.cat((out, out), dim=-1)
    return emb.cos().float(), emb.sin().float()


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Adjacent pairs (2i, 2i+1) regrouped to rotate-half, then rotated (InternVideo3's mla_apply_rotary_pos_emb)."""
    *lead, d = x.shape
    x = x.view(*lead, d // 2, 2).transpose(-1, -2).reshape(*lead, d)
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def _reference(sd: dict[str, torch.Tensor], embeds: torch.Tensor, pos3: torch.Tensor, mask: torch.Tensor,
               deepstack: tuple[torch.Tensor, ...]) -> torch.Tensor:
    t = TEXT
    heads, dn, dr, dv, r = (t[k] for k in ("num_attention_heads", "qk_nope_head_dim", "qk_rope_head_dim",
                                           "v_head_dim", "kv_lora_rank"))
    b, n, _ = embeds.shape
    cos, sin = _cos_sin(pos3)
    x, pre = embeds, "model.language_model."
    for i in range(t["num_hidden_layers"]):
        p = f"{pre}layers.{i}."
        a = _rms(x, sd[p + "input_layernorm.weight"])
        q = F.linear(a, sd[p + "self_attn.q_proj.weight"], sd[p + "self_attn.q_proj.bias"]).view(b, n, heads, dn + dr)
        q = q.transpose(1, 2)
        ckv = F.linear(a, sd[p + "self_attn.kv_a_proj_with_mqa.weight"], sd[p + "self_attn.kv_a_proj_with_mqa.bias"])
        c, k_pe = ckv.split([r, dr], dim=-1)
        kv = F.linear(c, sd[p + "self_attn.kv_b_proj.weight"]).view(b, n, heads, dn + dv).transpose(1, 2)
        k_nope, v = kv.split([dn, dv], dim=-1)
        q_pe = _rope(q[..., dn:], cos[:, None], sin[:, None])
        k_pe = _rope(k_pe[:, None], cos[:, None], sin[:, None]).expand(-1, heads, -1, -1)
        qq, kk = torch.cat((q[..., :dn], q_pe), -1), torch.cat((k_nope, k_pe), -1)
        att = (qq @ kk.transpose(-1, -2)) * (dn + dr) ** -0.5
        att = att.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf")).softmax(-1)
        x = x + F.linear((att @ v).transpose(1, 2).reshape(b, n, heads * dv), sd[p + "self_attn.o_proj.weight"])
        m = _rms(x, sd[p + "post_attention_layernorm.weight"])
        x = x + F.linear(F.silu(F.linear(m, sd[p + "mlp.gate_proj.weight"])) * F.linear(m, sd[p + "mlp.up_proj.weight"]),
                         sd[p + "mlp.down_proj.weight"])
        if i < len(deepstack):
            x = x.index_put((mask,), x[mask] + deepstack[i])
    return F.linear(_rms(x, sd[pre + "norm.weight"]), sd["lm_head.weight"])


def _inputs() -> dict:
    return dict(tiny_processor("qwen3_vl")(text=[image_prompt(1)], images=[tiny_image(0, 64)], return_tensors="pt"))


def test_internvideo3_checkpoint_loads_and_matches_its_formulas(tmp_path: Path) -> None:
    sd = _write(tmp_path / "iv3")
    model = load_internvideo3(tmp_path / "iv3")
    inputs = _inputs()
    with torch.no_grad():
        prompt = model.prompt(inputs)
        assert int(prompt.visual_mask.sum()) == 4 and len(prompt.deepstack) == 2
        ref = _reference(sd, prompt.embeds, prompt.positions, prompt.visual_mask, prompt.deepstack)
        ours = model(**inputs)
        assert (ours - ref).abs().max() < 1e-4
        assert ref.abs().max() > 1.0  # logits that differ between tokens, not a degenerate match
        assert (model(**inputs, mode="absorbed") - ref).abs().max() < 1e-4
    # decode over the latent cache continues the reference: the next token's logits at position max + 1
    result = model.generate(inputs, 2)
    ids = torch.cat((inputs["input_ids"], torch.tensor([[result.tokens[0]]])), dim=1)
    with torch.no_grad():
        emb = torch.cat((prompt.embeds, model.text.embed_tokens(ids[:, -1:])), dim=1)
        pos = torch.cat((prompt.positions, torch.full((3, 1, 1), int(prompt.positions.max()) + 1)), dim=2)
        mask = torch.cat((prompt.visual_mask, torch.zeros(1, 1, dtype=torch.bool)), dim=1)
        nxt = _reference(sd, emb, pos, mask, prompt.deepstack)[0, -1]
    assert result.tokens[1] == int(nxt.argmax())


@pytest.mark.parametrize("break_it, named", [
    ("shape", "model.language_model.layers.1.self_attn.kv_b_proj.weight"),
    ("extra", "model.language_model.layers.0.self_attn.q_norm.weight"),
    ("missing", "model.language_model.layers.2.self_attn.kv_a_proj_with_mqa.bias"),
])
def test_a_tensor_that_does_not_fit_is_named_in_one_line(tmp_path: Path, break_it: str, named: str) -> None:
    sd = _write(tmp_path / "iv3")
    if break_it == "shape":
        sd[named] = sd[named][:, :-1].contiguous()
    elif break_it == "extra":
        sd[named] = torch.ones(16)
    else:
        del sd[named]
    save_file(sd, str(tmp_path / "iv3" / "model.safetensors"))
    with pytest.raises(CheckpointMismatch) as err:
        load_internvideo3(tmp_path / "iv3")
    assert isinstance(err.value, UserError)
    assert named in str(err.value) and "\n" not in str(err.value)
