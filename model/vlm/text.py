"""The decoder of an M2LA vision-language model: model.lm's decoder fed prompt embeddings, with deepstack."""
from __future__ import annotations

from typing import Sequence

import torch

from model.cache import LatentKVCache
from model.lm import LMConfig, M2LAForCausalLM
from model.m2la import Mode
from model.vlm.attention import SourceNormAttention
from model.vlm.config import SourceNorm


class VLMTextModel(M2LAForCausalLM):
    """M2LAForCausalLM that also takes input embeddings (text with the visual tokens merged in) and adds
    Qwen3-VL's deepstack features (one per early layer) to the visual tokens' hidden states after that layer."""

    def __init__(self, config: LMConfig, source_norm: SourceNorm | None = None) -> None:
        super().__init__(config)
        if source_norm is not None:
            for block, attn in zip(self.layers, config.attn):
                block.self_attn = SourceNormAttention(attn, source_norm)

    def forward(
        self,
        input_ids: torch.Tensor,  # [B, T]
        positions: torch.Tensor | None = None,  # [B, T] or [3, B, T]; None: continue after the cache
        cache: LatentKVCache | None = None,
        mode: Mode = "naive",
        last_only: bool = False,
        inputs_embeds: torch.Tensor | None = None,  # [B, T, hidden]: used instead of embedding input_ids
        visual_mask: torch.Tensor | None = None,  # [B, T] bool: the visual tokens (deepstack targets)
        deepstack: Sequence[torch.Tensor] = (),  # per early layer, [n visual tokens, hidden]
    ) -> torch.Tensor:
        if positions is None:  # text continuing after the cache
            start = cache.seq_len() if cache is not None else 0
            positions = start + torch.arange(input_ids.shape[1], device=input_ids.device).expand(input_ids.shape[0], -1)
        x = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        for i, (block, rope) in enumerate(zip(self.layers, self.rope.cos_sin(positions, x.dtype))):
            x = block(x, positions, cache, i, mode, rope)
            if i < len(deepstack) and visual_mask is not None:
                x = x.index_put((visual_mask,), x[visual_mask] + deepstack[i].to(x.dtype))
        if last_only:
            x = x[:, -1:]
        return self.lm_head(self.norm(x))
