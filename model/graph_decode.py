"""One-token decode captured once as a CUDA graph and replayed: gpt-fast's "reduce-overhead", by hand.

A small model's decode step on a GPU is kernel launches, not bytes: on one H200, SmolLM2-135M's
shapes decoded at the same tokens/s from 1K to 128K tokens of context, eager, for transformers and
for us alike. Replaying a captured graph launches the whole step at once. The step must then have
the same shapes at every position, which a StaticLatentKVCache gives (the new row goes to a
device-side index; attention reads every preallocated row under a mask).
"""
from __future__ import annotations

from typing import Any

import torch

from model.cache import StaticLatentKVCache
from model.generate import decode_one


class GraphDecoder:
    """Decode steps for `model` over `cache`, replayed from one CUDA graph."""

    def __init__(self, model: Any, cache: StaticLatentKVCache, warmup: int = 2) -> None:
        if not isinstance(cache, StaticLatentKVCache) or cache.device.type != "cuda":
            raise ValueError("a CUDA-graph decode needs a StaticLatentKVCache on a CUDA device")
        dev, self.model, self.cache = cache.device, model, cache
        self.token = torch.zeros(cache.batch, 1, dtype=torch.long, device=dev)
        mrope = getattr(model, "uses_mrope", False)
        self.position = torch.zeros(*((3,) if mrope else ()), cache.batch, 1, dtype=torch.long, device=dev)
        # warm-up steps on a side stream settle lazily built kernels and tables before capture; they
        # write the row at cache.index without advancing it, so the first real step overwrites it
        side = torch.cuda.Stream(dev)
        side.wait_stream(torch.cuda.current_stream(dev))
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(warmup):
                decode_one(model, self.token, cache, self.position)
        torch.cuda.current_stream(dev).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.logits = decode_one(model, self.token, cache, self.position)  # [B, V], rewritten each replay

    def step(self, token: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """Logits [B, V] after token [B, 1] at position [B, 1] (or [3, B, 1]); valid until the next step."""
        if self.cache.seq_len() >= self.cache.max_len:
            raise ValueError(f"latent cache full: {self.cache.seq_len() + 1} tokens > max_len {self.cache.max_len}")
        self.token.copy_(token)
        self.position.copy_(position)
        self.graph.replay()
        self.cache.advance()
        return self.logits
