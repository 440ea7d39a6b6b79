"""The M2LA vision-language model against transformers' Qwen2.5-VL and Qwen3-VL (tiny random configs)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.cache import LatentKVCache
from model.generate import decode_one, prefill
from model.vlm.convert import convert_vlm_model, is_vlm_checkpoint
from model.vlm.model import M2LAVisionLM
from model.vlm.mrope import pair_sections
from tests.fixtures.tiny_vlm import (EOS, IMAGE_SIDE, VOCAB, image_prompt, tiny_image, tiny_processor,
                                     tiny_qwen2_5_vl, tiny_qwen3_vl)

FAMILIES = ("qwen2_5_vl", "qwen3_vl")
SOURCES = {"qwen2_5_vl": tiny_qwen2_5_vl, "qwen3_vl": tiny_qwen3_vl}


def _inputs(family: str, images: int = 1, seed: int = 0) -> dict:
    proc = tiny_processor(family)
    pics = [tiny_image(seed + i, IMAGE_SIDE[family]) for i in range(images)]
    return dict(proc(text=[image_prompt(images)], images=pics, return_tensors="pt"))


@pytest.mark.parametrize("family", FAMILIES)
def test_exact_rewrite_logits_equal_transformers_with_an_image(family: str) -> None:
    hf, inputs = SOURCES[family](), _inputs(family)
    with torch.no_grad():
        ref = hf(**inputs).logits
        ours = convert_vlm_model(hf)(**inputs)
    assert ref.shape == ours.shape
    assert (ours - ref).abs().max() < 1e-4
    # the image matters: another picture changes the logits at and after the visual tokens
    other = _inputs(family, seed=5)
    with torch.no_grad():
        assert (convert_vlm_model(hf)(**other) - ours).abs().max() > 1e-2


def test_interleaved_sections_follow_transformers_rotary_embedding() -> None:
    hf = tiny_qwen3_vl()
    rot = hf.model.language_model.rotary_emb
    pos = torch.stack([torch.full((1, 1), 1), torch.full((1, 1), 100), torch.full((1, 1), 10000)])  # [3, 1, 1]
    cos, _ = rot(torch.zeros(1), pos)
    angles = torch.stack([p * rot.inv_freq for p in (1.0, 100.0, 10000.0)])  # [3, P]
    secs = pair_sections(rot.inv_freq.numel(), tuple(rot.mrope_section), interleaved=True)
    expect = torch.stack([angles[s, f] for f, s in enumerate(secs)]).cos()
    assert torch.allclose(cos[0, 0, : len(secs)], expect, atol=1e-5)
    assert sorted(set(secs)) == [0, 1, 2]


def _calib(seed: int = 0) -> torch.Tensor:
    return torch.randint(7, VOCAB, (8, 24), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("family", FAMILIES)
def test_compressed_naive_and_absorbed_paths_agree(family: str) -> None:
    hf, inputs = SOURCES[family](), _inputs(family)
    vlm = convert_vlm_model(hf, kv_rank=24, rope_dim=6, calib_input_ids=_calib())
    attn = vlm.config.text.attn[0]
    assert attn.kv_rank == 24 and attn.d_rope == 6
    assert all(n > 0 for n in attn.mrope_section)  # every MRoPE section keeps a rotary pair
    with torch.no_grad():
        naive, absorbed = vlm(**inputs), vlm(**inputs, mode="absorbed")
        assert (naive - absorbed).abs().max() < 1e-4
        model, prompt = vlm.bound(inputs)
        steps = {}
        for mode in ("naive", "absorbed"):
            cache = LatentKVCache.for_model(model)
            last = prefill(model, prompt.input_ids, cache, prompt.positions)
            nxt = torch.tensor([[int(last.argmax())]])
            pos = torch.full((3, 1, 1), int(prompt.positions.max()) + 1)
            steps[mode] = model(nxt, pos, cache=cache, mode=mode)[:, -1]
        assert (steps["naive"] - steps["absorbed"]).abs().max() < 1e-4
        assert torch.allclose(last, naive[:, -1], atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_generation_over_the_latent_cache_equals_transformers_generate(family: str) -> None:
    hf, inputs = SOURCES[family](), _inputs(family)
    vlm = convert_vlm_model(hf)
    with torch.no_grad():
        ref = hf.generate(**inputs, max_new_tokens=8, do_sample=False)[0, inputs["input_ids"].shape[1]:].tolist()
    ours = vlm.generate(inputs, 8, stop_ids=[EOS])
    assert ours.tokens == [t for t in ref if t != EOS][: len(ours.tokens)]
    assert len(ours.tokens) == len(ref) - (ref[-1] == EOS)


@pytest.mark.parametrize("family", FAMILIES)
def test_cache_bytes_per_token_do_not_depend_on_the_visual_tokens(family: str) -> None:
    vlm = convert_vlm_model(SOURCES[family](), kv_rank=24, rope_dim=6, calib_input_ids=_calib()).to(torch.bfloat16)
    cfg = vlm.config.text
    per_token = cfg.layers * (24 + 6) * 2  # bf16 values
    seen = set()
    for images in (1, 3):
        inputs = _inputs(family, images)
        model, prompt = vlm.bound(inputs)
        cache = LatentKVCache.for_model(model)
        assert cache.dtype == torch.bfloat16
        prefill(model, prompt.input_ids, cache, prompt.positions)
        decode_one(model, torch.tensor([[9]]), cache, torch.full((3, 1, 1), int(prompt.positions.max()) + 1))
        visual = int(prompt.visual_mask.sum())
        assert visual == 4 * images  # every frame's tokens reached the prompt
        assert cache.bytes_per_token() == per_token
        assert cache.nbytes == per_token * cache.seq_len() == per_token * (prompt.input_ids.shape[1] + 1)
        seen.add(prompt.input_ids.shape[1])
    assert len(seen) == 2


def test_frames_as_images_each_reach_the_vision_tower() -> None:
    hf = tiny_qwen3_vl()
    vlm = convert_vlm_model(hf)
    grids = []
    vlm.visual.register_forward_hook(lambda _m, args, kwargs, _out: grids.append(kwargs["grid_thw"]),
                                     with_kwargs=True)
    inputs = _inputs("qwen3_vl", images=3)
    result = vlm.generate(inputs, 3)
    assert len(result.tokens) == 3
    assert grids and grids[0].shape[0] == 3


def test_saved_conversion_reloads_with_equal_logits(tmp_path: Path) -> None:
    hf, inputs = tiny_qwen3_vl(), _inputs("qwen3_vl")
    src = tmp_path / "src"
    hf.save_pretrained(src)
    processor = tiny_processor("qwen3_vl")
    processor.tokenizer.save_pretrained(src)
    processor.image_processor.save_pretrained(src)
    assert is_vlm_checkpoint(src) and not is_vlm_checkpoint(tmp_path)
    from model.convert.cli import main as convert_cli  # `python -m model convert` dispatches a VL folder

    assert convert_cli([str(src), "--out", str(tmp_path / "m2la")]) == 0
    out = tmp_path / "m2la"
    back = M2LAVisionLM.from_pretrained(out)
    with torch.no_grad():
        assert (back(**inputs) - hf(**inputs).logits).abs().max() < 1e-4
    from model.vlm.processor import load_processor

    again = dict(load_processor(out, "qwen3_vl")(text=[image_prompt(1)], images=[tiny_image(0, 64)],
                                                  return_tensors="pt"))
    assert torch.equal(again["input_ids"], inputs["input_ids"])
