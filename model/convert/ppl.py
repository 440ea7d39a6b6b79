"""Perplexity and logits of either kind of model (transformers' or M2LA) over token windows."""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


def logits_of(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """Full-sequence logits [B, T, V] in fp32 for ids [B, T], without a cache."""
    out = model(ids)
    logits = out.logits if hasattr(out, "logits") else out
    return logits.float()


@torch.no_grad()
def perplexity(model: nn.Module, windows: torch.Tensor, batch: int = 4) -> float:
    """exp(mean next-token NLL) over windows [N, T] (each window scored on its own)."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, windows.shape[0], batch):
        ids = windows[i:i + batch].to(device)
        logits = logits_of(model, ids)[:, :-1]  # [B, T-1, V]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="sum")
        total += float(nll)
        count += ids[:, 1:].numel()
    return math.exp(total / count)
