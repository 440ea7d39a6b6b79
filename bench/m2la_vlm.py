"""Decode tokens/s of the M2LA vision-language decoder against transformers' Qwen3-VL text decoder.

`python -m bench.m2la_vlm --random-weights [--shapes 8b|tiny] [--contexts 8192,32768,131072] [--dtypes bf16,nf4]`
prints one JSON object. Both decoders get random weights at the same shapes (Qwen3-VL-8B's on a GPU: 36 layers,
hidden 4096, 32 query heads over 8 KV heads of 128, MLP 12288, vocabulary 151,936; ours with InternVideo3's
attention, a 896-wide latent plus one 128-wide RoPE key shared by the heads, 128 + 128 query/key and 128 value
dims a head), the same context and the same number of decode steps. Each cache is filled to the context
with random rows instead of a prefill (a decode step's time depends on the shapes, not on the values), so
a 128K context costs seconds, not a 128K-token prefill. Ours decodes with model.generate's absorbed step
(eager, and on CUDA replayed from a CUDA graph); transformers' with its own DynamicCache, eager.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from model.cache import LatentKVCache, StaticLatentKVCache
from model.generate import decode_one
from model.lm import LMConfig
from model.vlm.internvideo3 import text_config
from model.vlm.text import VLMTextModel


@dataclass(frozen=True)
class Shapes:
    """One decoder size, as InternVideo3-style text_config fields (ours) plus the source's KV heads (GQA)."""

    hidden: int  # residual width
    layers: int  # decoder layers
    heads: int  # query heads
    kv_heads: int  # the GQA reference's KV heads
    head_dim: int  # the GQA reference's head width
    intermediate: int  # MLP width
    vocab: int  # vocabulary
    kv_rank: int  # our latent width r
    d_rope: int  # our shared RoPE key width
    d_nope: int  # our per-head non-rotated query/key width
    mrope_section: tuple[int, int, int]  # interleaved MRoPE sections over head_dim / 2 frequencies
    rope_theta: float = 5000000.0  # Qwen3-VL's RoPE base


# Qwen3-VL-8B-Instruct's text_config; the latent as InternVideo3-8B's (kv_lora_rank 896, qk_rope_head_dim 128)
QWEN3_VL_8B = Shapes(hidden=4096, layers=36, heads=32, kv_heads=8, head_dim=128, intermediate=12288, vocab=151936,
                     kv_rank=896, d_rope=128, d_nope=128, mrope_section=(24, 20, 20))
TINY = Shapes(hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, intermediate=128, vocab=96,
              kv_rank=24, d_rope=16, d_nope=16, mrope_section=(4, 2, 2), rope_theta=10000.0)


def ours_config(s: Shapes) -> LMConfig:
    """Our decoder at these shapes (InternVideo3's attention layout)."""
    return text_config({"hidden_size": s.hidden, "num_hidden_layers": s.layers, "num_attention_heads": s.heads,
                        "qk_nope_head_dim": s.d_nope, "qk_rope_head_dim": s.d_rope, "v_head_dim": s.head_dim,
                        "kv_lora_rank": s.kv_rank, "q_lora_rank": None, "vocab_size": s.vocab,
                        "intermediate_size": s.intermediate, "rope_theta": s.rope_theta,
                        "rope_scaling": {"mrope_section": list(s.mrope_section)}})


class Reference(nn.Module):
    """transformers' Qwen3-VL text decoder and an output head: the GQA model our decoder is measured against."""

    def __init__(self, s: Shapes) -> None:
        super().__init__()
        from transformers import Qwen3VLTextConfig
        from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextModel

        cfg = Qwen3VLTextConfig(vocab_size=s.vocab, hidden_size=s.hidden, intermediate_size=s.intermediate,
                                num_hidden_layers=s.layers, num_attention_heads=s.heads, num_key_value_heads=s.kv_heads,
                                head_dim=s.head_dim, max_position_embeddings=262144,
                                rope_parameters={"rope_type": "default", "rope_theta": s.rope_theta,
                                                 "mrope_section": list(s.mrope_section), "mrope_interleaved": True})
        cfg._attn_implementation = "sdpa"
        self.config = cfg
        self.model = Qwen3VLTextModel(cfg)
        self.lm_head = nn.Linear(s.hidden, s.vocab, bias=False)

    def step(self, token: torch.Tensor, position: torch.Tensor, cache: Any) -> torch.Tensor:
        h = self.model(input_ids=token, position_ids=position, past_key_values=cache, use_cache=True).last_hidden_state
        return self.lm_head(h[:, -1]).float()


def _build(make: Callable[[], nn.Module], device: torch.device, dtype: torch.dtype, nf4: bool) -> nn.Module:
    """A model built on the device in the dtype (random init there, no host copy), optionally nf4."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = make()
    finally:
        torch.set_default_dtype(previous)
    if nf4:
        from model.load import quantize_nf4

        quantize_nf4(model, compute_dtype=dtype)
    return model.eval()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(step: Callable[[int], Any], steps: int, device: torch.device, warmup: int = 2) -> float:
    """Tokens/s of `steps` calls of step(i) after `warmup` untimed ones."""
    for i in range(warmup):
        step(i)
    _sync(device)
    t0 = time.perf_counter()
    for i in range(steps):
        step(warmup + i)
    _sync(device)
    return steps / (time.perf_counter() - t0)


@torch.no_grad()
def _ours(model: VLMTextModel, context: int, steps: int, graph: bool, device: torch.device) -> float:
    kind = StaticLatentKVCache if graph else LatentKVCache
    cache = kind.for_model(model, max_len=context + steps + 4)
    gen = torch.Generator(device=device).manual_seed(0)
    for i, w in enumerate(cache.widths):  # the context's rows, as a prefill would have left them
        cache.update(i, torch.randn(1, context, w, generator=gen, device=device, dtype=cache.dtype))
    token = torch.ones(1, 1, dtype=torch.long, device=device)

    def position(i: int) -> torch.Tensor:
        return torch.full((3, 1, 1), context + i, device=device)

    if graph:
        from model.graph_decode import GraphDecoder

        decoder = GraphDecoder(model, cache)
        return _time(lambda i: decoder.step(token, position(i)), steps, device)
    return _time(lambda i: decode_one(model, token, cache, position(i)), steps, device)


@torch.no_grad()
def _reference(model: Reference, s: Shapes, context: int, steps: int, device: torch.device, dtype: torch.dtype) -> float:
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    gen = torch.Generator(device=device).manual_seed(0)
    for i in range(s.layers):
        k, v = (torch.randn(1, s.kv_heads, context, s.head_dim, generator=gen, device=device, dtype=dtype)
                for _ in range(2))
        cache.update(k, v, i)
    token = torch.ones(1, 1, dtype=torch.long, device=device)
    return _time(lambda i: model.step(token, torch.full((3, 1, 1), context + i, device=device), cache), steps, device)


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run(s: Shapes, contexts: list[int], dtypes: list[str], steps: int, device: torch.device) -> dict[str, Any]:
    """Every (dtype, context) row: tokens/s of ours (eager, and graph on CUDA) and of transformers, and the ratio."""
    rows = []
    for name in dtypes:
        dtype = torch.float32 if name == "fp32" else torch.bfloat16
        nf4 = name == "nf4"
        ours = _build(lambda: VLMTextModel(ours_config(s)), device, dtype, nf4)
        per_ctx: dict[int, dict[str, Any]] = {}
        for ctx in contexts:
            row = {"dtype": name, "context": ctx, "ours_eager_tok_s": round(_ours(ours, ctx, steps, False, device), 2)}
            _free(device)
            if device.type == "cuda":
                row["ours_graph_tok_s"] = round(_ours(ours, ctx, steps, True, device), 2)
                _free(device)
            row["ours_cache_bytes_per_token"] = LatentKVCache.for_model(ours, dtype=dtype).bytes_per_token()
            per_ctx[ctx] = row
        del ours
        _free(device)
        ref = _build(lambda: Reference(s), device, dtype, nf4)
        for ctx in contexts:
            row = per_ctx[ctx]
            row["transformers_tok_s"] = round(_reference(ref, s, ctx, steps, device, dtype), 2)
            row["transformers_cache_bytes_per_token"] = s.layers * 2 * s.kv_heads * s.head_dim * (2 if dtype != torch.float32 else 4)
            # like against like: both eager; the graph row compares ours replayed from a CUDA graph with
            # transformers' eager step (transformers has no graph-captured step here), so it is kept apart
            row["speedup"] = round(row["ours_eager_tok_s"] / row["transformers_tok_s"], 3)
            if "ours_graph_tok_s" in row:
                row["graph_vs_transformers_eager"] = round(row["ours_graph_tok_s"] / row["transformers_tok_s"], 3)
            rows.append(row)
            _free(device)
        del ref
        _free(device)
    return {"rows": rows}


def main(argv: list[str]) -> int:
    """Parse arguments, run, print one JSON object."""
    p = argparse.ArgumentParser(prog="python -m bench.m2la_vlm", description=__doc__.splitlines()[0])
    p.add_argument("--random-weights", action="store_true", help="random weights at the chosen shapes (required)")
    p.add_argument("--shapes", choices=["8b", "tiny"], default=None, help="default: 8b on CUDA, tiny on a CPU")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda where available)")
    p.add_argument("--contexts", default=None, help="comma-separated context lengths (default: 8192,32768,131072 "
                                                   "on CUDA, 256,1024 on a CPU)")
    p.add_argument("--dtypes", default=None, help="comma-separated: bf16, nf4, fp32 (default: bf16,nf4 on CUDA, fp32 on CPU)")
    p.add_argument("--steps", type=int, default=32, help="timed decode steps per measurement")
    args = p.parse_args(argv)
    if not args.random_weights:
        print("m2la_vlm: only --random-weights is measured here (no 8B weights travel with the project)", file=sys.stderr)
        return 2
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    shapes = QWEN3_VL_8B if (args.shapes or ("8b" if cuda else "tiny")) == "8b" else TINY
    contexts = [int(c) for c in (args.contexts or ("8192,32768,131072" if cuda else "256,1024")).split(",")]
    dtypes = (args.dtypes or ("bf16,nf4" if cuda else "fp32")).split(",")
    if not cuda and set(dtypes) - {"fp32", "bf16"}:
        print("m2la_vlm: nf4 is measured on CUDA only", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    torch.manual_seed(0)
    result = run(shapes, contexts, dtypes, args.steps, device)
    info = {"device": torch.cuda.get_device_name(device) if cuda else "cpu", "torch": torch.__version__,
            "shapes": "qwen3-vl-8b" if shapes is QWEN3_VL_8B else "tiny", "shape_values": vars(shapes),
            "weights": "random", "steps": args.steps,
            "cache_fill": "random rows written to the context length, no prefill (step time depends on shapes only)",
            "ours": "M2LA decoder, absorbed decode over the latent cache (graph: one CUDA graph replayed a step)",
            "transformers": "Qwen3VLTextModel + lm_head, sdpa, DynamicCache, eager",
            **result, "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
