"""Decode tokens/s of transformers' GQA against our absorbed M2LA decode, over caches of synthetic values.

A decode step's time does not depend on the cached values, so the caches are filled with random ones of
the right shape (this spares an 8K prefill per model on a CPU); the same weights and threads serve both.
"""
from __future__ import annotations

import platform
import time
from dataclasses import asdict
from typing import Any

import torch

from bench.m2la_config import SMOLLM2_135M_SHAPES, BenchConfig, log, setting_options


@torch.inference_mode()
def hf_decode_tps(model: Any, context: int, steps: int, warmup: int) -> float:
    """transformers' decode tokens/s with a DynamicCache holding `context` synthetic tokens."""
    from transformers import DynamicCache

    cfg, (dev, dtype) = model.config, _device_dtype(model)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    cache = DynamicCache(config=cfg)
    g = torch.Generator(dev).manual_seed(0)
    for layer in range(cfg.num_hidden_layers):
        k = torch.randn(1, cfg.num_key_value_heads, context, head_dim, generator=g, device=dev, dtype=dtype)
        cache.update(k, torch.randn_like(k), layer)

    def step(tok: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return model(input_ids=tok, past_key_values=cache, position_ids=pos, use_cache=True).logits[:, -1]

    return _greedy_steps_per_s(step, dev, context, steps, warmup)


@torch.inference_mode()
def m2la_decode_tps(model: Any, context: int, steps: int, warmup: int, graph: bool = False) -> float:
    """Our absorbed decode tokens/s over a latent cache holding `context` synthetic tokens; with `graph`,
    a StaticLatentKVCache and each step replayed from one CUDA graph (model.graph_decode)."""
    from model.cache import LatentKVCache, StaticLatentKVCache
    from model.generate import decode_one
    from model.graph_decode import GraphDecoder

    dev, dtype = _device_dtype(model)
    cache = (StaticLatentKVCache if graph else LatentKVCache).for_model(model, max_len=context + warmup + steps)
    g = torch.Generator(dev).manual_seed(0)
    for layer, w in enumerate(cache.widths):
        cache.update(layer, torch.randn(1, context, w, generator=g, device=dev, dtype=dtype))
    step = GraphDecoder(model, cache).step if graph else lambda tok, pos: decode_one(model, tok, cache, pos)
    return _greedy_steps_per_s(step, dev, context, steps, warmup)


def _greedy_steps_per_s(step: Any, dev: torch.device, context: int, steps: int, warmup: int) -> float:
    """Tokens/s of `steps` greedy decode steps after `warmup` untimed ones, the first at position `context`.

    `step(token [1, 1], position [1, 1])` returns the logits [1, V] of the next token.
    """
    tok = torch.tensor([[42]], device=dev)
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = _clock(dev)
        tok = step(tok, torch.tensor([[context + i]], device=dev)).argmax(-1, keepdim=True)
    return steps / (_clock(dev) - t0)


def _device_dtype(model: Any) -> tuple[torch.device, torch.dtype]:
    """The model's device and float dtype (of its first float weight: nf4 linears hold uint8 storage)."""
    p = next(p for p in model.parameters() if p.is_floating_point())
    return p.device, p.dtype


def _clock(device: torch.device) -> float:
    """Wall seconds once the device's queued work is done (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def decode_rows(source: Any, m2la: Any, config: BenchConfig) -> list[dict]:
    """Decode tokens/s of transformers' GQA and of our absorbed path at each context, same threads.

    The two are measured alternately `decode_rounds` times and each keeps its best round: on a shared
    machine other processes only ever slow a round down, so the best round is the least disturbed one.
    """
    rows = []
    for ctx in config.contexts:
        hf_runs, our_runs = [], []
        for _ in range(config.decode_rounds):
            hf_runs.append(hf_decode_tps(source, ctx, config.decode_steps, config.warmup_steps))
            our_runs.append(m2la_decode_tps(m2la, ctx, config.decode_steps, config.warmup_steps))
        hf, ours = max(hf_runs), max(our_runs)
        rows.append({"context": ctx, "transformers_gqa_tps": hf, "m2la_absorbed_tps": ours, "speedup": ours / hf,
                     "transformers_gqa_rounds": hf_runs, "m2la_absorbed_rounds": our_runs})
        log(f"decode @{ctx}: transformers {hf:.2f} tok/s, m2la {ours:.2f} tok/s ({ours / hf:.2f}x); "
             f"rounds {[round(x, 2) for x in hf_runs]} vs {[round(x, 2) for x in our_runs]}")
        if config.cuda_graph:
            rows[-1] |= graph_row(m2la, ctx, config, hf)
    return rows


def graph_row(m2la: Any, ctx: int, config: BenchConfig, eager_hf: float) -> dict:
    """Our decode step replayed from one CUDA graph over a static cache (best of the rounds), against
    transformers' eager step. (Capturing transformers' own step over its StaticCache by hand hit a
    device-side assert on the H200, so there is no graph-vs-graph figure.)"""
    tps = max(m2la_decode_tps(m2la, ctx, config.decode_steps, config.warmup_steps, graph=True)
              for _ in range(config.decode_rounds))
    log(f"decode @{ctx}, m2la from a CUDA graph: {tps:.2f} tok/s ({tps / eager_hf:.2f}x transformers eager)")
    return {"m2la_graph_tps": tps, "graph_vs_transformers_eager": tps / eager_hf}


def decode_models(config: BenchConfig) -> tuple[Any, Any, str]:
    """(source, M2LA at the default setting, a description) on `config.device`, as the decode part runs them.

    The M2LA weights come from the weight-SVD conversion (no calibration pass): a decode step's time
    depends on the shapes, not on the weights' values, so this spares minutes of calibration.
    """
    from model.load import load_gguf_source, quantize_nf4, smollm2_gguf

    if config.random_weights:
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        source = LlamaForCausalLM(LlamaConfig(**SMOLLM2_135M_SHAPES, attn_implementation="sdpa")).eval()
        what = "SmolLM2-135M-Instruct's shapes, random weights (speed only)"
    else:
        source, _ = load_gguf_source(smollm2_gguf())
        what = "SmolLM2-135M-Instruct (GGUF Q4_1, dequantised)"
    m2la = weight_svd_default(source, config)
    dtype = torch.bfloat16 if config.device == "cuda" else torch.float32
    source, m2la = (m.to(config.device, dtype).eval() for m in (source, m2la))
    if config.quantize == "nf4":
        for m in (source, m2la):
            quantize_nf4(m, compute_dtype=dtype)
    weights = "nf4" if config.quantize else str(dtype).removeprefix("torch.")
    return source, m2la, f"{what}, {weights} weights"


def weight_svd_default(source: Any, config: BenchConfig) -> Any:
    """`source` converted at the default setting by weight SVD (no calibration pass): the M2LA model the
    decode measurement times."""
    from model.convert.gqa import convert_model

    r, d, _ = config.default
    with torch.no_grad():
        return convert_model(source, r, d, method="weight_svd", options=setting_options(config.default))


def run_decode_only(config: BenchConfig) -> dict:
    """Only the decode measurement, on the default setting's shapes (see decode_models)."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: this machine has no CUDA device")
    if config.cuda_graph and config.device != "cuda":
        raise ValueError("--cuda-graph needs --device cuda")
    if config.threads:
        torch.set_num_threads(config.threads)
    t_start = time.perf_counter()
    source, m2la, what = decode_models(config)
    decode = decode_rows(source, m2la, config)
    return {
        "model": what, "device": _device_name(config.device), "threads": torch.get_num_threads(),
        "platform": platform.platform(), "torch": torch.__version__,
        "source_attention": source.config._attn_implementation, "m2la_attention": m2la_attention(config.device),
        "config": asdict(config),
        "decode": decode,
        "summary": {"decode_speedup_8k": next((x["speedup"] for x in decode if x["context"] == 8192), None)},
        "seconds": time.perf_counter() - t_start,
    }


def m2la_attention(device: str) -> str:
    """What ran our decode step's attention over the int8 latent cache."""
    from model.kernels import attend_kernel

    if device == "cpu" and attend_kernel.available():
        return "fused CPU kernel (model/kernels/attend_kernel.cpp)"
    return "torch ops" + (" (integer products, model/latent_quant.py)" if device == "cpu" else "")


def _device_name(device: str) -> str:
    return f"cuda ({torch.cuda.get_device_name()})" if device == "cuda" else "cpu"
