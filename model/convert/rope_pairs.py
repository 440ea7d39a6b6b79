"""Which RoPE pairs keep their rotation: the shared rotated key is chosen per (frequency, rotated KV head)."""
from __future__ import annotations

import torch


def pair_quota(n_pairs: int, half: int, mrope_section: tuple[int, ...] | None) -> list[int] | None:
    """Pairs each MRoPE section keeps: proportional to its size, at least one each; None without MRoPE."""
    if mrope_section is None:
        return None
    if n_pairs < len(mrope_section):
        raise ValueError(f"--rope-dim {2 * n_pairs} leaves no pair for some MRoPE section; "
                         f"need >= {2 * len(mrope_section)}")
    quota = [max(1, round(n_pairs * s / half)) for s in mrope_section]
    while sum(quota) != n_pairs:  # fix rounding on the largest section (never below 1)
        i = max(range(len(quota)), key=lambda k: quota[k])
        quota[i] += 1 if sum(quota) < n_pairs else -1
    return quota


def rotation_sensitivity(inv_freq: torch.Tensor, context: int) -> torch.Tensor:
    """Mean |R(theta d) - I| over distances d < context, per frequency [D/2].

    Dropping a pair's rotation replaces q.R(theta d)k by q.k; the error scales with |2 sin(theta d / 2)|.
    Slow pairs barely turn within the context, so they lose little; fast ones lose everything.
    """
    d = torch.arange(context, dtype=torch.float64)
    return (2 * torch.sin(inv_freq.double()[:, None] * d / 2)).abs().mean(dim=1)


def select_pairs(score: torch.Tensor, n_pairs: int, mrope_section: tuple[int, ...] | None,
                 groups: int) -> list[tuple[int, int]]:
    """Top (f, j) candidates by score [D/2, G]; per-section quotas under MRoPE. Sorted by (j, f)."""
    half = score.shape[0]
    if n_pairs > half * groups:
        raise ValueError(f"--rope-dim {2 * n_pairs} exceeds all RoPE dims of the KV heads ({2 * half * groups})")
    quota = pair_quota(n_pairs, half, mrope_section)
    if quota is None:
        spans = [(0, half, n_pairs)]
    else:
        ends = torch.tensor(mrope_section).cumsum(0).tolist()
        spans = [(e - s, e, q) for s, e, q in zip(mrope_section, ends, quota)]
    chosen: list[tuple[int, int]] = []
    for lo, hi, q in spans:
        sub = score[lo:hi].flatten()
        if q > sub.numel():
            raise ValueError(f"MRoPE section [{lo},{hi}) cannot keep {q} pairs")
        for k in torch.topk(sub, q).indices.tolist():
            chosen.append((lo + k // groups, k % groups))
    return sorted(chosen, key=lambda p: (p[1], p[0]))
