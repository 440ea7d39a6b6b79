"""`python -m model heal`: a short distillation of a converted M2LA model toward its source model.

Two stages share one wall-clock budget:
1. layer-wise (model.convert.layerwise): each attention layer alone learns to reproduce the source layer's
   attention output from the source layer's input; cheap, and it removes most of the conversion error;
2. end to end: the student learns the teacher's next-token distributions on calibration text,
   KL(teacher || student) averaged over tokens, with warm-up then cosine learning-rate decay over the
   rest of the budget; every weight moves, the ones conversion did not touch at a tenth of the rate.
   By default the teacher runs once over all windows at the start and keeps its top-k log-probs per
   token (sparse KL, the rest of its mass in one bucket), instead of once a step.
Perplexity on held-out text (model.convert.corpus) is reported before and after. This is the only healing
claimed: the paper's continued pre-training, SFT and RL are out of reach here.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

from model.convert.corpus import evenly
from model.convert.layerwise import LayerFitConfig, budget, cosine, fit_layers
from model.convert.ppl import logits_of, perplexity


@dataclass(frozen=True)
class HealConfig:
    """How long and how the student is distilled."""

    minutes: float = 10.0  # wall-clock budget of both stages together
    max_steps: int | None = None  # end-to-end steps instead of the time budget (tests, reproducibility)
    seq_len: int = 256  # tokens per end-to-end training window
    batch: int = 2  # windows per end-to-end step
    lr: float = 3e-4  # AdamW peak learning rate of the end-to-end stage (warm-up, then cosine decay to 0)
    warmup: int = 10  # linear warm-up steps
    layer_fraction: float = 0.5  # share of the budget spent on layer-wise fitting (0 skips it)
    layer_tokens: int = 65536  # calibration tokens captured for layer-wise fitting, windows evenly spaced over
    #                            all of them (SmolLM2's calibration part whole; the first, licence-only tokens
    #                            alone healed less)
    layer_steps: int | None = None  # layer-wise steps per layer instead of its time share (tests)
    layer_lr: float = 1e-3  # AdamW peak learning rate of the layer-wise stage
    layer_inputs: str = "source"  # layer-wise inputs: the source's ("source") or the student's own ("student")
    train: str = "all"  # end-to-end: "all" moves every weight, "attention" only the M2LA attention weights
    other_lr: float = 0.1  # with train="all", learning-rate factor on the weights conversion left untouched:
    #                        they only need to adapt to the new attention (a little better than attention-only)
    teacher_topk: int = 128  # end-to-end: the teacher's top-k log-probs per token, computed once for all windows
    #                          (sparse KL with the rest of its mass in one bucket); 0 runs the teacher every step
    seed: int = 0  # window order
    bf16: bool = True  # bf16 autocast for the matmuls (fp32 master weights, fp32 KL): faster on AVX512-BF16/AMX
    #                    CPUs and GPUs


@dataclass(frozen=True)
class HealReport:
    """What one heal did."""

    steps: int  # end-to-end optimiser steps taken
    seconds: float  # wall seconds of both stages
    kl_first: float  # mean per-token KL of the first end-to-end step
    kl_last: float  # mean per-token KL over the last few end-to-end steps
    layer_steps: int = 0  # layer-wise optimiser steps over all layers (0: stage skipped)
    layer_error_first: float | None = None  # layer-wise relative output error, mean over layers, first step
    layer_error_last: float | None = None  # the same at each layer's last step


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Mean per-token KL(teacher || student) for logits [B, T, V]."""
    s = F.log_softmax(student_logits.float(), dim=-1)
    t = F.log_softmax(teacher_logits.float(), dim=-1)
    return F.kl_div(s.flatten(0, 1), t.flatten(0, 1), log_target=True, reduction="batchmean")


@dataclass(frozen=True)
class TeacherTopK:
    """The teacher's k most likely next tokens per position of every window, computed once."""

    logp: torch.Tensor  # [N, T, k] fp32 log-probabilities (normalised over the whole vocabulary)
    ids: torch.Tensor  # [N, T, k] int64 token ids


@torch.no_grad()
def teacher_topk(teacher: nn.Module, windows: torch.Tensor, k: int, bf16: bool = True, batch: int = 4) -> TeacherTopK:
    """One teacher pass over windows [N, T], keeping its top-k log-probs per position.

    Over a heal the end-to-end stage sees each calibration window several times; this replaces a
    teacher forward per step (a fifth of the step on SmolLM2) with one pass at the start.
    """
    device = next(teacher.parameters()).device
    logps, ids = [], []
    for s in range(0, windows.shape[0], batch):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = logits_of(teacher, windows[s:s + batch].to(device))
        top = F.log_softmax(logits, dim=-1).topk(k, dim=-1)  # [b, T, k]
        logps.append(top.values.cpu())
        ids.append(top.indices.cpu())
    return TeacherTopK(torch.cat(logps), torch.cat(ids))


def sparse_kl(student_logits: torch.Tensor, t_logp: torch.Tensor, t_ids: torch.Tensor) -> torch.Tensor:
    """Mean per-token KL(teacher || student) over the teacher's top-k tokens plus one bucket for the rest.

    student_logits [B, T, V]; t_logp, t_ids [B, T, k]. With k = V it is the exact KL; with k < V it is
    the KL between the two distributions coarsened to (k tokens, everything else), a lower bound.
    """
    s = F.log_softmax(student_logits.float(), dim=-1).gather(-1, t_ids)  # [B, T, k]
    p = t_logp.exp()
    t_rest = (1.0 - p.sum(-1)).clamp_min(1e-9)  # [B, T]
    s_rest = (1.0 - s.exp().sum(-1)).clamp_min(1e-9)
    kl = (p * (t_logp - s)).sum(-1) + t_rest * (t_rest.log() - s_rest.log())  # [B, T]
    return kl.mean()


def trainable(student: nn.Module, which: str, other_lr: float = 1.0) -> list[dict]:
    """Optimiser parameter groups of what heal moves (the rest are frozen): the attention weights at
    lr_scale 1, with which="all" every other weight at lr_scale other_lr."""
    if which not in ("attention", "all"):
        raise ValueError(f"unknown heal target {which!r} (attention|all)")
    attention, other = [], []
    for name, p in student.named_parameters():
        is_attn = ".self_attn." in name
        p.requires_grad_(is_attn or which == "all")
        if p.requires_grad:
            (attention if is_attn else other).append(p)
    groups = [{"params": attention, "lr_scale": 1.0}]
    return groups + ([{"params": other, "lr_scale": other_lr}] if other else [])


def heal(student: nn.Module, teacher: nn.Module, windows: torch.Tensor, config: HealConfig = HealConfig(),
         log: Callable[[str], None] | None = None) -> HealReport:
    """Distil student toward teacher on token windows [N, T] (T >= config.seq_len) in place: both stages.

    The layer-wise stage uses `layer_tokens` worth of windows, evenly spaced over all of them, at
    their full length; the end-to-end stage uses every window cut to seq_len.
    """
    if windows.shape[1] < config.seq_len:
        raise ValueError(f"heal windows hold {windows.shape[1]} tokens, fewer than seq_len {config.seq_len}")
    t0, total_s = time.monotonic(), config.minutes * 60
    teacher.eval()
    layer = None
    if config.layer_fraction > 0:
        n = max(1, min(windows.shape[0], config.layer_tokens // windows.shape[1]))
        layer = fit_layers(student, teacher, evenly(windows, n),
                           LayerFitConfig(seconds=config.layer_fraction * total_s, max_steps=config.layer_steps,
                                          lr=config.layer_lr, bf16=config.bf16, inputs=config.layer_inputs),
                           log, config.seed)
    steps, kls = end_to_end(student, teacher, windows[:, : config.seq_len], config,
                            total_s - (time.monotonic() - t0), log)
    tail = kls[-min(10, len(kls)):]
    return HealReport(steps, time.monotonic() - t0, kls[0], sum(tail) / len(tail),
                      layer.steps if layer else 0, layer.loss_first if layer else None,
                      layer.loss_last if layer else None)


def end_to_end(student: nn.Module, teacher: nn.Module, windows: torch.Tensor, config: HealConfig,
               seconds: float, log: Callable[[str], None] | None = None) -> tuple[int, list[float]]:
    """KL distillation on windows [N, T] for `seconds` (or config.max_steps). Returns (steps, per-step KL)."""
    t0 = time.monotonic()
    cached = None
    if config.teacher_topk > 0:
        cached = teacher_topk(teacher, windows, min(config.teacher_topk, student.config.vocab_size), config.bf16)
        if log is not None:
            log(f"teacher top-{cached.ids.shape[-1]} over {windows.shape[0]} windows ({time.monotonic() - t0:.0f} s)")
    if config.max_steps is None and seconds <= time.monotonic() - t0 and log is not None:
        log(f"heal: no time left for end-to-end steps after the teacher pass over {windows.shape[0]} windows: "
            "the one step taken has learning rate 0 (give more --minutes or fewer --windows)")
    groups = trainable(student, config.train, config.other_lr)
    params = [p for g in groups for p in g["params"]]
    opt = torch.optim.AdamW(groups, lr=config.lr, weight_decay=0.0, fused=True)  # one kernel over all weights
    gen = torch.Generator().manual_seed(config.seed)
    device = next(student.parameters()).device
    student.train()
    order, pos = torch.randperm(windows.shape[0], generator=gen), 0
    steps, kls = 0, []
    for frac in budget(config.max_steps, seconds - (time.monotonic() - t0)):
        for g in opt.param_groups:
            g["lr"] = config.lr * g["lr_scale"] * min(1.0, (steps + 1) / max(1, config.warmup)) * cosine(frac)
        if pos + config.batch > len(order):
            order, pos = torch.randperm(windows.shape[0], generator=gen), 0
        pick = order[pos:pos + config.batch]
        ids = windows[pick].to(device)  # [B, T]
        pos += config.batch
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            if cached is not None:
                loss = sparse_kl(logits_of(student, ids), cached.logp[pick].to(device), cached.ids[pick].to(device))
            else:
                with torch.no_grad():
                    t_logits = logits_of(teacher, ids)
                loss = distill_kl(logits_of(student, ids), t_logits)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        steps += 1
        kls.append(loss.item())
        if log is not None and (steps == 1 or steps % 10 == 0):
            log(f"heal step {steps}: kl {kls[-1]:.4f} ({time.monotonic() - t0:.0f} s)")
    student.eval()
    for p in student.parameters():
        p.requires_grad_(False)
    return steps, kls


@torch.no_grad()
def heldout_kl(student: nn.Module, teacher: nn.Module, windows: torch.Tensor) -> float:
    """Mean per-token KL(teacher || student) over windows [N, T]."""
    total = 0.0
    for i in range(windows.shape[0]):
        ids = windows[i:i + 1]
        total += float(distill_kl(logits_of(student, ids), logits_of(teacher, ids)))
    return total / windows.shape[0]


def _load_teacher(source: str):
    """(model, tokenizer) from a GGUF file, an HF folder, or an asset name such as smollm2-135m-instruct."""
    from model.convert import load_source

    if not Path(source).exists():
        from assets import ASSETS, resolve
        if source in ASSETS:
            source = str(resolve(source) / ASSETS[source].main_file)
    return load_source(source)


def main(argv: list[str]) -> int:
    """`python -m model heal --model DIR --source SOURCE --minutes M --out DIR [--json]`."""
    p = argparse.ArgumentParser(prog="python -m model heal", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="converted M2LA folder (python -m model convert)")
    p.add_argument("--source", required=True, help="the source: GGUF file, HF folder or asset name")
    p.add_argument("--minutes", type=float, default=HealConfig.minutes, help="training wall-clock budget")
    p.add_argument("--out", required=True, help="folder for the healed model")
    p.add_argument("--seq-len", type=int, default=HealConfig.seq_len)
    p.add_argument("--batch", type=int, default=HealConfig.batch)
    p.add_argument("--lr", type=float, default=HealConfig.lr)
    p.add_argument("--train", choices=["attention", "all"], default=HealConfig.train,
                   help="end-to-end: every weight (all) or only the attention weights")
    p.add_argument("--other-lr", type=float, default=HealConfig.other_lr,
                   help="with --train all, learning-rate factor on the non-attention weights")
    p.add_argument("--max-steps", type=int, default=None, help="end-to-end steps instead of the time budget")
    p.add_argument("--layer-fraction", type=float, default=HealConfig.layer_fraction,
                   help="share of the budget for layer-wise fitting (0 skips it)")
    p.add_argument("--layer-steps", type=int, default=None, help="layer-wise steps per layer instead of its time share")
    p.add_argument("--fp32", action="store_true", help="train in fp32 (default: bf16 autocast)")
    p.add_argument("--teacher-topk", type=int, default=HealConfig.teacher_topk,
                   help="teacher log-probs kept per token, computed once (0: run the teacher every step, exact KL)")
    p.add_argument("--windows", type=int, default=None,
                   help="calibration windows to train on, evenly spaced (default: all of them)")
    p.add_argument("--eval-windows", type=int, default=None,
                   help="held-out windows of 512 tokens for perplexity, evenly spaced (default: all of them)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    try:
        from transformers import AutoTokenizer

        from model.convert.corpus import token_windows
        from model.lm import M2LAForCausalLM

        student = M2LAForCausalLM.from_pretrained(args.model)
        teacher, tok = _load_teacher(args.source)
        if tok is None:
            tok = AutoTokenizer.from_pretrained(args.model)
        held = token_windows(tok, "heldout", 512, args.eval_windows)
        train = token_windows(tok, "calib", args.seq_len, args.windows)
        cfg = HealConfig(minutes=args.minutes, max_steps=args.max_steps, seq_len=args.seq_len,
                         batch=args.batch, lr=args.lr, train=args.train, other_lr=args.other_lr,
                         layer_fraction=args.layer_fraction,
                         layer_steps=args.layer_steps, bf16=not args.fp32, teacher_topk=args.teacher_topk)
        ppl_source = perplexity(teacher, held)
        ppl_before = perplexity(student, held)
        report = heal(student, teacher, train, cfg, log)
        ppl_after = perplexity(student, held)
        out = student.save_pretrained(args.out)
        tok.save_pretrained(str(out))
    except (OSError, ValueError) as e:
        print(f"heal: {e}", file=sys.stderr)
        return 1
    info = {"out": str(out), "config": asdict(cfg), **asdict(report), "heal_minutes": round(report.seconds / 60, 2),
            "ppl_source": ppl_source, "ppl_before": ppl_before, "ppl_after": ppl_after}
    print(json.dumps(info) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
