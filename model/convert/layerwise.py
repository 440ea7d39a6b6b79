"""Layer-wise attention-output fitting: the first, cheap stage of `heal`.

Each converted attention layer is trained on its own to reproduce the source layer's attention output
from the source layer's input (both captured in one teacher pass over calibration text). The layers
are independent, so this costs one small attention forward/backward per step instead of a whole
model's, and it removes most of the conversion error before the end-to-end KL stage (block-wise
reconstruction, as GPTQ/OmniQuant do for quantisation). Optionally layer i is fed the student's own
input (the residual stream after the already-fitted layers below it), so it also learns to undo the
drift those layers leave (measured slightly worse on SmolLM2, so "source" is the default); the
target is always the source's attention output. The loss is the mean squared error of the
output relative to the output's mean square, so layers of different scale weigh the same.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import nn


@dataclass(frozen=True)
class LayerFitConfig:
    """How each attention layer is fitted to its source."""

    seconds: float = 300.0  # wall-clock budget of the stage, capture included; the rest is split evenly over layers
    max_steps: int | None = None  # fixed step count per layer instead (tests, reproducibility)
    batch: int = 2  # captured windows per step
    lr: float = 1e-3  # AdamW peak learning rate, cosine-decayed to 0 over the layer's budget
    bf16: bool = True  # bf16 autocast for the matmuls (fp32 master weights and loss)
    inputs: str = "source"  # "source": the source's layer-i input; "student": the already-fitted student's own
    #                         layer-i input, so it also learns to undo the drift of the layers below it
    #                         (measured slightly worse on SmolLM2)


@dataclass(frozen=True)
class LayerFitReport:
    """What the fitting did, summed over layers."""

    steps: int  # optimiser steps over all layers
    seconds: float  # wall seconds including the capture
    loss_first: float  # mean over layers of the first step's relative error
    loss_last: float  # mean over layers of the last step's relative error


@torch.no_grad()
def capture_attention_io(teacher: nn.Module, windows: torch.Tensor, batch: int = 4,
                         bf16: bool = True) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per source layer (input, output) of self-attention over windows [N, T]: bf16 [N, T, hidden] each."""
    from model.convert import source_parts

    layers = source_parts(teacher).decoder.layers
    ins: list[list[torch.Tensor]] = [[] for _ in layers]
    outs: list[list[torch.Tensor]] = [[] for _ in layers]

    def hook(i: int) -> Callable[..., None]:
        def fn(_m: nn.Module, args: tuple, kwargs: dict[str, Any], out: Any) -> None:
            x = args[0] if args else kwargs["hidden_states"]
            ins[i].append(x.detach().to("cpu", torch.bfloat16))
            outs[i].append((out[0] if isinstance(out, tuple) else out).detach().to("cpu", torch.bfloat16))
        return fn

    handles = [layer.self_attn.register_forward_hook(hook(i), with_kwargs=True) for i, layer in enumerate(layers)]
    device = next(teacher.parameters()).device
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            for s in range(0, windows.shape[0], batch):
                teacher(input_ids=windows[s:s + batch].to(device), use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return [(torch.cat(x), torch.cat(y)) for x, y in zip(ins, outs)]


def budget(max_steps: int | None, seconds: float) -> Iterator[float]:
    """Before each step, the spent fraction of a step budget (max_steps) or else of a time budget;
    ends when it reaches 1, after at least one step."""
    t0, steps = time.monotonic(), 0
    while True:
        frac = steps / max_steps if max_steps is not None else (time.monotonic() - t0) / max(seconds, 1e-9)
        if frac >= 1.0 and steps > 0:
            return
        yield frac
        steps += 1


def cosine(frac: float) -> float:
    """Learning-rate factor at a fraction of the budget: 1 -> 0 along half a cosine."""
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))


def fit_layer(attn: nn.Module, x: torch.Tensor, y: torch.Tensor, config: LayerFitConfig, seconds: float,
              gen: torch.Generator) -> tuple[int, float, float]:
    """Train one attention module so attn(x) ~= y within `seconds`; x, y [N, T, hidden].

    Returns (steps, first, last) relative error. Always takes at least one step.
    """
    device = next(attn.parameters()).device
    params = list(attn.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0, fused=True)
    n, t = x.shape[:2]
    positions = torch.arange(t, device=device)[None].expand(min(config.batch, n), -1)  # windows start at 0
    norm = y.float().pow(2).mean().clamp_min(1e-12)
    steps, first, last = 0, float("nan"), float("nan")
    for frac in budget(config.max_steps, seconds):
        for g in opt.param_groups:
            g["lr"] = config.lr * cosine(frac)
        idx = torch.randperm(n, generator=gen)[: config.batch]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            out = attn(x[idx].to(device).float(), positions)  # [B, T, hidden]
        loss = (out.float() - y[idx].to(device).float()).pow(2).mean() / norm
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
        first = loss.item() if steps == 1 else first
        last = loss.item()
    for p in params:
        p.requires_grad_(False)
    return steps, first, last


@torch.no_grad()
def _advance(block: nn.Module, h: torch.Tensor, bf16: bool, batch: int = 4) -> torch.Tensor:
    """The residual stream [N, T, hidden] after one (fitted) student block, computed in chunks."""
    positions = torch.arange(h.shape[1], device=h.device)[None]
    out = torch.empty_like(h)
    for s in range(0, h.shape[0], batch):
        chunk = h[s:s + batch]
        with torch.autocast(h.device.type, dtype=torch.bfloat16, enabled=bf16):
            out[s:s + batch] = block(chunk, positions.expand(chunk.shape[0], -1), None, 0, "naive").float()
    return out


def fit_layers(student: nn.Module, teacher: nn.Module, windows: torch.Tensor,
               config: LayerFitConfig = LayerFitConfig(),
               log: Callable[[str], None] | None = None, seed: int = 0) -> LayerFitReport:
    """Fit every attention layer of `student` (an M2LAForCausalLM) to `teacher`'s on windows [N, T], in place.

    Only attention weights move; every student parameter is left frozen (requires_grad False).
    """
    if config.inputs not in ("student", "source"):
        raise ValueError(f"unknown layer-fit inputs {config.inputs!r} (student|source)")
    t0 = time.monotonic()
    for p in student.parameters():
        p.requires_grad_(False)
    io = capture_attention_io(teacher, windows, bf16=config.bf16)
    if len(io) != len(student.layers):
        raise ValueError(f"student has {len(student.layers)} layers, the source {len(io)}")
    per_layer = (config.seconds - (time.monotonic() - t0)) / len(io)
    if config.max_steps is None and per_layer <= 0 and log is not None:
        log(f"layer-wise: the capture over {windows.shape[0]} windows used the whole budget: each layer's "
            "one step has learning rate 0 (give more time or fewer windows)")
    gen = torch.Generator().manual_seed(seed)
    was_training = student.training
    student.train()
    h = student.embed_tokens(windows.to(next(student.parameters()).device)) if config.inputs == "student" else None
    steps, firsts, lasts = 0, [], []
    for i, (block, (x, y)) in enumerate(zip(student.layers, io)):
        if h is not None:
            with torch.no_grad():
                x = block.input_layernorm(h).to("cpu", torch.bfloat16)  # [N, T, hidden]
        n, first, last = fit_layer(block.self_attn, x, y, config, per_layer, gen)
        if h is not None:
            h = _advance(block, h, config.bf16)
        steps, firsts, lasts = steps + n, firsts + [first], lasts + [last]
        if log is not None:
            log(f"layer {i}: relative error {first:.4f} -> {last:.4f} in {n} steps ({time.monotonic() - t0:.0f} s)")
    student.train(was_training)
    return LayerFitReport(steps, time.monotonic() - t0, sum(firsts) / len(firsts), sum(lasts) / len(lasts))
