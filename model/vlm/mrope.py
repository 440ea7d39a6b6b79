"""MRoPE layouts of the Qwen-VL families, mapped onto M2LAConfig's contiguous sections.

M2LAConfig (model.m2la) gives each rotated pair one MRoPE section by where its source frequency index falls
in `mrope_section` taken as contiguous runs (time, then height, then width), Qwen2-VL/Qwen2.5-VL's layout.
Qwen3-VL interleaves the sections instead (frequency f turns with height when f % 3 == 1 and
f < 3 * sections[1], with width when f % 3 == 2 and f < 3 * sections[2], else with time). A dot product
q . k is the same whatever order its pairs are listed in, so an interleaved model is served by listing its
pairs sorted by section (stable, so each section keeps ascending frequencies): the sorted list is
contiguous, and the counts of each section are its `mrope_section`.
"""
from __future__ import annotations

import torch


def pair_sections(pairs: int, mrope_section: tuple[int, ...], interleaved: bool) -> list[int]:
    """Section (0 time, 1 height, 2 width) of each source frequency 0..pairs-1."""
    if not interleaved:
        bounds = torch.tensor(mrope_section).cumsum(0)
        return (torch.bucketize(torch.arange(pairs), bounds, right=True) % len(mrope_section)).tolist()
    out = []
    for f in range(pairs):
        sec = 0
        for s, offset in ((1, 1), (2, 2)):
            if f % 3 == offset and f < 3 * mrope_section[s]:
                sec = s
        out.append(sec)
    return out


def section_order(pairs: int, mrope_section: tuple[int, ...], interleaved: bool) -> tuple[list[int], tuple[int, ...]]:
    """(frequencies sorted by section, the size of each section in that order) for `pairs` frequencies.

    The identity order and the source's own sections for a contiguous layout.
    """
    secs = pair_sections(pairs, mrope_section, interleaved)
    order = sorted(range(pairs), key=lambda f: (secs[f], f))
    return order, tuple(secs.count(s) for s in range(len(mrope_section)))


def rotate_half_rows(order: list[int], interleaved_pairs: bool = False) -> torch.Tensor:
    """Row index [2P] that lays pairs out in rotate-half order (pair p -> rows p and P + p) taking pair p
    from source pair order[p]: the source's rotate-half rows (f, f + P), or with `interleaved_pairs`
    its adjacent rows (2f, 2f + 1) (DeepSeek/InternVideo3's layout of the RoPE dims)."""
    f = torch.tensor(order, dtype=torch.long)
    if interleaved_pairs:
        return torch.cat((2 * f, 2 * f + 1))
    return torch.cat((f, f + len(order)))
