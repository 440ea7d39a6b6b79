"""The M2LA vision-language model on CUDA: bf16 parity with transformers, the CUDA-graph decode, nf4.

Marked `gpu` (skipped without CUDA); bench/gpu_vlm.sh runs them on a lent GPU.
"""
from __future__ import annotations

import pytest
import torch

from model.load import quantize_nf4
from model.vlm.convert import convert_vlm_model
from tests.fixtures.tiny_vlm import EOS, IMAGE_SIDE, image_prompt, tiny_image, tiny_processor, tiny_qwen2_5_vl, tiny_qwen3_vl

pytestmark = pytest.mark.gpu
SOURCES = {"qwen2_5_vl": tiny_qwen2_5_vl, "qwen3_vl": tiny_qwen3_vl}


def _inputs(family: str) -> dict:
    proc = tiny_processor(family)
    out = proc(text=[image_prompt(1)], images=[tiny_image(0, IMAGE_SIDE[family])], return_tensors="pt")
    return {k: v.cuda() for k, v in out.items()}


@pytest.mark.parametrize("family", SOURCES)
def test_cuda_exact_rewrite_and_graph_decode_match_transformers(family: str) -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    hf = SOURCES[family]()
    with torch.no_grad():
        vlm = convert_vlm_model(hf).cuda()
    hf, inputs = hf.cuda(), _inputs(family)
    with torch.no_grad():
        assert (vlm(**inputs) - hf(**inputs).logits).abs().max() < 1e-4
        ref = hf.generate(**inputs, max_new_tokens=8, do_sample=False)[0, inputs["input_ids"].shape[1]:].tolist()
    eager = vlm.generate(inputs, 8, stop_ids=[EOS])
    graph = vlm.generate(inputs, 8, stop_ids=[EOS], cuda_graph=True)
    assert eager.tokens == graph.tokens == [t for t in ref if t != EOS][: len(eager.tokens)]


@pytest.mark.parametrize("family", SOURCES)
def test_cuda_nf4_bf16_decode_agrees_with_its_naive_path(family: str) -> None:
    vlm = convert_vlm_model(SOURCES[family]()).to(torch.bfloat16).cuda()
    assert quantize_nf4(vlm.text, compute_dtype=torch.bfloat16, min_params=1024) > 0  # quantised on the GPU
    inputs = _inputs(family)
    with torch.no_grad():
        naive, absorbed = vlm(**inputs).float(), vlm(**inputs, mode="absorbed").float()
    assert (naive - absorbed).abs().max() < 0.05 * naive.abs().max()
    out = vlm.generate(inputs, 6, cuda_graph=True)
    assert len(out.tokens) == 6 and out.tokens == vlm.generate(inputs, 6).tokens
