"""M2LAVisionLM: a transformers vision tower joined to our M2LA decoder, prefill naive, decode absorbed.

A prompt (the family's processor output: input_ids, mm_token_type_ids, pixel_values, image_grid_thw) is
embedded with the visual embeddings put at the image-pad tokens, positioned in 3-D by the family's own
MRoPE logic, and run through the decoder's naive path into a latent cache; decoding then runs
model.generate's absorbed steps (CPU kernel, or the CUDA-graph step) over that cache, text positions
continuing one past the largest prompt position as Qwen-VL's rope deltas do.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from model.cache import LatentKVCache
from model.generate import GenerationResult, generate
from model.m2la import Mode
from model.vlm.config import CONFIG_NAME, WEIGHTS_NAME, VLMConfig
from model.vlm.text import VLMTextModel
from model.vlm.vision import RopeIndex, build_vision_tower, encode_images


@dataclass(frozen=True)
class Prompt:
    """A prompt ready for the decoder."""

    input_ids: torch.Tensor  # [1, T]
    embeds: torch.Tensor  # [1, T, hidden]: token embeddings, visual embeddings at the image-pad tokens
    positions: torch.Tensor  # [3, 1, T]
    visual_mask: torch.Tensor | None  # [1, T] bool: the visual tokens (None: a text-only prompt)
    deepstack: tuple[torch.Tensor, ...]  # Qwen3-VL's per-layer features of the visual tokens


class _Prompted(nn.Module):
    """The decoder with one prompt bound: its prefill takes the prompt's embeddings, later steps plain tokens.
    What model.generate drives (it needs parameters(), config, uses_mrope and a forward of its shape)."""

    def __init__(self, text: VLMTextModel, prompt: Prompt) -> None:
        super().__init__()
        self.text, self.prompt = text, prompt
        self.config, self.uses_mrope = text.config, True

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor | None = None,
                cache: LatentKVCache | None = None, mode: Mode = "naive", last_only: bool = False) -> torch.Tensor:
        p = self.prompt
        if (cache is None or cache.seq_len() == 0) and input_ids.shape == p.input_ids.shape:
            return self.text(input_ids, positions, cache, mode, last_only, inputs_embeds=p.embeds,
                             visual_mask=p.visual_mask, deepstack=p.deepstack)
        return self.text(input_ids, positions, cache, mode, last_only)


class M2LAVisionLM(nn.Module):
    """Vision tower + M2LA decoder (the VLM policy in our runtime)."""

    def __init__(self, config: VLMConfig, attn_implementation: str = "sdpa", text_device: str | None = None) -> None:
        super().__init__()
        self.config = config
        hf = config.transformers_config()
        self.visual = build_vision_tower(hf, attn_implementation)
        with torch.device(text_device or "cpu"):  # "meta" when weights follow (the tower keeps its rotary buffers)
            self.text = VLMTextModel(config.text, config.source_norm)
        self._rope_index = RopeIndex(config.family, hf)
        self._image_token, self._video_token = hf.image_token_id, hf.video_token_id

    @property
    def device(self) -> torch.device:
        return self.text.embed_tokens.weight.device

    def prompt(self, inputs: Mapping[str, Any]) -> Prompt:
        """Embed and position one processor output (batch of one)."""
        dev = self.device
        ids = torch.as_tensor(inputs["input_ids"], device=dev)
        if ids.dim() == 1:
            ids = ids[None]
        embeds = self.text.embed_tokens(ids)
        pixels, grid = inputs.get("pixel_values"), inputs.get("image_grid_thw")
        if pixels is None:
            pos = torch.arange(ids.shape[1], device=dev)[None, None].expand(3, 1, -1)
            return Prompt(ids, embeds, pos, None, ())
        grid = torch.as_tensor(grid, device=dev)
        visual, deepstack = encode_images(self.visual, torch.as_tensor(pixels, device=dev), grid)
        mask = ids == self._image_token
        if int(mask.sum()) != visual.shape[0]:
            raise ValueError(f"the prompt has {int(mask.sum())} image tokens for {visual.shape[0]} visual embeddings")
        embeds = embeds.index_put((mask,), visual.to(embeds.dtype))
        types = inputs.get("mm_token_type_ids")
        types = mask.int() if types is None else torch.as_tensor(types, device=dev)
        pos = self._rope_index(ids, types, grid).to(dev)
        return Prompt(ids, embeds, pos, mask, tuple(deepstack))

    def forward(self, input_ids: torch.Tensor, pixel_values: torch.Tensor | None = None,
                image_grid_thw: torch.Tensor | None = None, mm_token_type_ids: torch.Tensor | None = None,
                cache: LatentKVCache | None = None, mode: Mode = "naive", last_only: bool = False,
                **_processor_extras: Any) -> torch.Tensor:
        """Logits [1, T, V] of a whole prompt (a processor output's fields; attention_mask is ignored)."""
        p = self.prompt({"input_ids": input_ids, "pixel_values": pixel_values, "image_grid_thw": image_grid_thw,
                         "mm_token_type_ids": mm_token_type_ids})
        return self.text(p.input_ids, p.positions, cache, mode, last_only, inputs_embeds=p.embeds,
                         visual_mask=p.visual_mask, deepstack=p.deepstack)

    def bound(self, inputs: Mapping[str, Any]) -> tuple[nn.Module, Prompt]:
        """(the decoder bound to this prompt, for model.generate's functions; the prompt)."""
        p = self.prompt(inputs)
        return _Prompted(self.text, p), p

    @torch.no_grad()
    def generate(self, inputs: Mapping[str, Any], max_new_tokens: int, **kwargs: Any) -> GenerationResult:
        """model.generate.generate over this prompt (same keyword arguments: sampling, stops, cache, cuda_graph)."""
        model, p = self.bound(inputs)
        return generate(model, p.input_ids, max_new_tokens, positions=p.positions, **kwargs)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the config and every weight (vision tower and decoder) to `directory`."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.config.save(out)
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        if self.config.text.tie_embeddings:
            state.pop("text.lm_head.weight", None)
        save_file(state, str(out / WEIGHTS_NAME), metadata={"format": "pt", "model_type": "m2la_vlm"})
        return out

    @classmethod
    def from_pretrained(cls, directory: str | Path, dtype: torch.dtype | None = None,
                        device: torch.device | str = "cpu", attn_implementation: str = "sdpa") -> "M2LAVisionLM":
        """Rebuild a model written by save_pretrained."""
        d = Path(directory)
        if not (d / CONFIG_NAME).is_file():
            raise FileNotFoundError(f"{d} is not a converted M2LA vision-language model (no {CONFIG_NAME})")
        config = VLMConfig.load(d)
        model = cls(config, attn_implementation, text_device="meta")
        state = load_file(str(d / WEIGHTS_NAME), device=str(device))
        if config.text.tie_embeddings:
            state["text.lm_head.weight"] = state["text.embed_tokens.weight"]
        model.load_state_dict(state, assign=True, strict=True)
        if config.text.tie_embeddings:
            model.text.lm_head.weight = model.text.embed_tokens.weight
        if dtype is not None:
            model.to(dtype)
        return model.eval()

