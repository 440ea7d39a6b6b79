"""`python -m model heal`: a short distillation of a converted M2LA model toward its source model.

The student (the converted model) learns the teacher's (the source's) next-token distributions on
calibration text: KL(teacher || student) on logits, summed over the vocabulary, averaged over tokens.
Perplexity on held-out text (model.corpus) is reported before and after. This is the only healing
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

from model.ppl import logits_of, perplexity


@dataclass(frozen=True)
class HealConfig:
    """How long and how the student is distilled."""

    minutes: float = 10.0  # wall-clock budget of the training loop
    max_steps: int | None = None  # stop earlier after this many optimiser steps (tests, reproducibility)
    seq_len: int = 256  # tokens per training window
    batch: int = 2  # windows per step
    lr: float = 3e-4  # AdamW learning rate (constant after a short warm-up)
    warmup: int = 10  # linear warm-up steps
    train: str = "attention"  # "attention": only the M2LA attention weights move; "all": every weight
    seed: int = 0  # window order


@dataclass(frozen=True)
class HealReport:
    """What one heal did."""

    steps: int  # optimiser steps taken
    seconds: float  # wall seconds of the loop
    kl_first: float  # mean per-token KL of the first step
    kl_last: float  # mean per-token KL over the last few steps


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Mean per-token KL(teacher || student) for logits [B, T, V]."""
    s = F.log_softmax(student_logits.float(), dim=-1)
    t = F.log_softmax(teacher_logits.float(), dim=-1)
    return F.kl_div(s.flatten(0, 1), t.flatten(0, 1), log_target=True, reduction="batchmean")


def trainable(student: nn.Module, which: str) -> list[nn.Parameter]:
    """The parameters that heal moves (the rest are frozen)."""
    if which not in ("attention", "all"):
        raise ValueError(f"unknown heal target {which!r} (attention|all)")
    params = []
    for name, p in student.named_parameters():
        on = which == "all" or ".self_attn." in name
        p.requires_grad_(on)
        if on:
            params.append(p)
    return params


def heal(student: nn.Module, teacher: nn.Module, windows: torch.Tensor, config: HealConfig = HealConfig(),
         log: Callable[[str], None] | None = None) -> HealReport:
    """Distil student toward teacher on token windows [N, T] (T >= config.seq_len) in place."""
    if windows.shape[1] < config.seq_len:
        raise ValueError(f"heal windows hold {windows.shape[1]} tokens, fewer than seq_len {config.seq_len}")
    windows = windows[:, : config.seq_len]
    params = trainable(student, config.train)
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, config.warmup)))
    gen = torch.Generator().manual_seed(config.seed)
    device = next(student.parameters()).device
    teacher.eval()
    student.train()
    order, pos = torch.randperm(windows.shape[0], generator=gen), 0
    t0, steps, kls = time.monotonic(), 0, []
    while time.monotonic() - t0 < config.minutes * 60 and (config.max_steps is None or steps < config.max_steps):
        if pos + config.batch > len(order):
            order, pos = torch.randperm(windows.shape[0], generator=gen), 0
        ids = windows[order[pos:pos + config.batch]].to(device)  # [B, T]
        pos += config.batch
        with torch.no_grad():
            t_logits = logits_of(teacher, ids)
        loss = distill_kl(logits_of(student, ids), t_logits)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        steps += 1
        kls.append(loss.item())
        if log is not None and (steps == 1 or steps % 10 == 0):
            log(f"heal step {steps}: kl {kls[-1]:.4f} ({time.monotonic() - t0:.0f} s)")
    student.eval()
    for p in student.parameters():
        p.requires_grad_(False)
    if not kls:
        raise ValueError("heal took no step: raise --minutes")
    tail = kls[-min(10, len(kls)):]
    return HealReport(steps, time.monotonic() - t0, kls[0], sum(tail) / len(tail))


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
        from model.assets import ASSETS, resolve
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
    p.add_argument("--train", choices=["attention", "all"], default=HealConfig.train)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--eval-windows", type=int, default=8, help="held-out windows of 512 tokens for perplexity")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    try:
        from transformers import AutoTokenizer

        from model.corpus import token_windows
        from model.lm import M2LAForCausalLM

        student = M2LAForCausalLM.from_pretrained(args.model)
        teacher, tok = _load_teacher(args.source)
        if tok is None:
            tok = AutoTokenizer.from_pretrained(args.model)
        held = token_windows(tok, "heldout", 512, args.eval_windows)
        train = token_windows(tok, "calib", args.seq_len)
        cfg = HealConfig(minutes=args.minutes, max_steps=args.max_steps, seq_len=args.seq_len,
                         batch=args.batch, lr=args.lr, train=args.train)
        ppl_source = perplexity(teacher, held)
        ppl_before = perplexity(student, held)
        report = heal(student, teacher, train, cfg, log)
        ppl_after = perplexity(student, held)
        out = student.save_pretrained(args.out)
        tok.save_pretrained(str(out))
    except (OSError, ValueError) as e:
        print(f"heal: {e}", file=sys.stderr)
        return 1
    info = {"out": str(out), "config": asdict(cfg), "steps": report.steps,
            "heal_minutes": round(report.seconds / 60, 2), "kl_first": report.kl_first, "kl_last": report.kl_last,
            "ppl_source": ppl_source, "ppl_before": ppl_before, "ppl_after": ppl_after}
    print(json.dumps(info) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
