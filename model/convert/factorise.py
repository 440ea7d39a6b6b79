"""The low-rank factorisation of the joint [K_nope; V] projection, and how latent ranks are spread over layers."""
from __future__ import annotations

from typing import Literal

import torch

Method = Literal["activation", "weight_svd"]  # activation-aware SVD, or MHA2MLA's plain weight SVD (the baseline)


def factorise(m: torch.Tensor, rank: int, sigma: torch.Tensor | None, k_rows: int,
              method: Method, balance_kv: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """A [r, hidden], B [rows, r] with B A ~= m [rows, hidden], and the share of the (whitened, balanced)
    energy each singular direction carries [rows] (None at full rank, where B is an exact 0/1 matrix)."""
    rows = m.shape[0]
    if rank == rows:
        return m.clone(), torch.eye(rows, dtype=m.dtype), None
    if rank > rows:
        raise ValueError(f"--kv-rank {rank} exceeds the joint [K_nope; V] width {rows}")
    if method == "weight_svd" or sigma is None:
        u, s, vh = torch.linalg.svd(m, full_matrices=False)
        return s[:rank, None] * vh[:rank], u[:, :rank], energy_shares(s)
    if method != "activation":
        raise ValueError(f"unknown method {method!r} (activation|weight_svd)")
    evals, evecs = torch.linalg.eigh(sigma)
    sqrt_sigma = (evecs * evals.clamp_min(0).sqrt()) @ evecs.T  # Sigma^1/2
    # balance: K_nope and V blocks get equal energy on the calibration inputs
    energy_k = (m[:k_rows] @ sigma * m[:k_rows]).sum().clamp_min(1e-30)
    energy_v = (m[k_rows:] @ sigma * m[k_rows:]).sum().clamp_min(1e-30)
    bal = torch.ones(rows, dtype=m.dtype)
    if k_rows and balance_kv:
        bal[:k_rows] = (energy_v / energy_k).sqrt()
    u, s, _ = torch.linalg.svd(bal[:, None] * m @ sqrt_sigma, full_matrices=False)
    u_r = u[:, :rank]  # best rank-r subspace of the balanced, whitened outputs
    return u_r.T @ (bal[:, None] * m), u_r / bal[:, None], energy_shares(s)


def energy_shares(s: torch.Tensor) -> torch.Tensor:
    """Share of the total energy per singular value (s descending) [n]."""
    e = s.double() ** 2
    return e / e.sum().clamp_min(1e-300)


def allocate_ranks(shares: list[torch.Tensor], mean_rank: int, unit: int = 8, floor: int = 16) -> list[int]:
    """Per-layer latent ranks that sum to len(shares) x mean_rank, from each layer's energy shares [rows].

    Greedy (optimal here, since every layer's shares descend): each layer starts at `floor`, then each
    `unit` of rank goes to the layer whose discarded share of energy it lowers most. Relative shares
    weigh every layer alike whatever the scale of its activations.
    """
    n = len(shares)
    caps = [int(e.numel()) for e in shares]
    total = mean_rank * n
    if total > sum(caps):
        raise ValueError(f"--kv-rank {mean_rank} exceeds the joint [K_nope; V] width of the layers")
    # tail[l][r]: share of layer l's energy beyond rank r
    tails = [torch.cat((e.flip(0).cumsum(0).flip(0), e.new_zeros(1))).tolist() for e in shares]
    ranks = [min(floor, mean_rank, c) for c in caps]
    left = total - sum(ranks)
    while left > 0:
        step = min(unit, left)

        def gain(i: int) -> float:
            return tails[i][ranks[i]] - tails[i][min(ranks[i] + step, caps[i])] if ranks[i] < caps[i] else -1.0

        best = max(range(n), key=gain)
        add = min(step, caps[best] - ranks[best])
        ranks[best] += add
        left -= add
    return ranks
