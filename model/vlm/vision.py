"""The vision side of an M2LA VLM: transformers' own vision tower and its MRoPE position logic.

The tower (Qwen2.5-VL's or Qwen3-VL's, built from the source's config) turns processor patches into
merged visual embeddings (and, for Qwen3-VL, deepstack features from intermediate blocks). The 3-D
positions of a prompt come from transformers' own `get_rope_index` of the family, bound to a small
holder of the config (the text model those classes carry is not needed for it).
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn


def build_vision_tower(hf_config: Any, attn_implementation: str = "sdpa") -> nn.Module:
    """The family's vision tower (random weights), from the composite transformers config."""
    # The family's own class, not AutoModel: older transformers (5.17) register no AutoModel entry for
    # Qwen2.5-VL's vision config.
    if hf_config.model_type == "qwen2_5_vl":
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel as Tower
    else:
        from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLVisionModel as Tower
    config = hf_config.vision_config
    config._attn_implementation = attn_implementation
    return Tower._from_config(config, attn_implementation=attn_implementation)


def _model_class(family: str) -> type:
    from transformers import Qwen2_5_VLModel, Qwen3VLModel

    return Qwen2_5_VLModel if family == "qwen2_5_vl" else Qwen3VLModel


class RopeIndex:
    """transformers' get_rope_index of a family, over a config alone."""

    def __init__(self, family: str, hf_config: Any) -> None:
        self.config, self._cls = hf_config, _model_class(family)

    def get_vision_position_ids(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self._cls.get_vision_position_ids(self, *args, **kwargs)

    def __call__(self, input_ids: torch.Tensor, mm_token_type_ids: torch.Tensor,
                 image_grid_thw: torch.Tensor | None) -> torch.Tensor:
        """Positions [3, B, T] of a prompt (text advances all three rows; image tokens take their grid's)."""
        kwargs: dict[str, Any] = {"image_grid_thw": image_grid_thw}
        if "mm_token_type_ids" in inspect.signature(self._cls.get_rope_index).parameters:  # newer transformers
            kwargs["mm_token_type_ids"] = mm_token_type_ids
        pos, _ = self._cls.get_rope_index(self, input_ids, **kwargs)
        return pos


@torch.no_grad()
def encode_images(tower: nn.Module, pixel_values: torch.Tensor,
                  grid_thw: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Merged visual embeddings [N, hidden] of every image in order, and the deepstack features (Qwen3-VL;
    one [N, hidden] per deepstack layer, [] otherwise)."""
    dtype = next(tower.parameters()).dtype
    out = tower(pixel_values.to(dtype), grid_thw=grid_thw)
    if hasattr(out, "pooler_output"):  # transformers 5.2x: an output object
        return out.pooler_output, list(getattr(out, "deepstack_features", None) or [])
    if isinstance(out, torch.Tensor):  # older Qwen2.5-VL towers: the merged embeddings
        return out, []
    return out[0], list(out[1])  # older Qwen3-VL towers: (merged embeddings, deepstack features)
