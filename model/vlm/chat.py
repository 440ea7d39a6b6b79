"""VisionChatModel: ChatModel's sibling for an M2LA vision-language model; its calls also take images.

Messages are rendered by the checkpoint's own chat template through its processor; the images go into
the last user turn, before its text, each shrunk to at most `VisionChatConfig.max_pixels` (a frame of a
1080p video would otherwise cost thousands of visual tokens), then the processor patches them and the
model puts their embeddings at the image-pad tokens. Constrained JSON decoding is ChatModel's.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image

from model.chat import ChatModel, OnText
from model.generate import GenerationResult
from model.vlm.model import M2LAVisionLM


@dataclass(frozen=True)
class VisionChatConfig:
    """How images are prepared for the model."""

    max_pixels: int = 448 * 448  # an image larger than this is shrunk (aspect kept) before the processor;
    #                              at Qwen3-VL's 32-pixel merged patches that is about 196 visual tokens


def fit_pixels(image: Image.Image, max_pixels: int) -> Image.Image:
    """`image` as RGB, shrunk (aspect kept) so that width x height <= max_pixels."""
    image = image.convert("RGB")
    w, h = image.size
    if w * h <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (w * h))
    return image.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.Resampling.BICUBIC)


def with_images(messages: Sequence[dict], n_images: int) -> list[dict]:
    """Messages as content-part lists (what VL chat templates read), `n_images` image parts opening the
    last user turn."""
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    if n_images and last_user < 0:
        raise ValueError("images need a user message to go with")
    out: list[dict] = []
    for i, m in enumerate(messages):
        content = m["content"]
        parts = list(content) if isinstance(content, list) else [{"type": "text", "text": str(content)}]
        if i == last_user:
            parts = [{"type": "image"} for _ in range(n_images)] + parts
        out.append({"role": m["role"], "content": parts})
    return out


@dataclass
class VisionChatModel(ChatModel):
    """An M2LAVisionLM and its processor behind ChatModel's calls; `images=` reach the vision tower."""

    sees_images: ClassVar[bool] = True

    processor: Any = None  # the checkpoint's processor (model.vlm.processor.load_processor)
    vision: VisionChatConfig = field(default_factory=VisionChatConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.model, M2LAVisionLM) or self.processor is None:
            raise TypeError("VisionChatModel needs an M2LAVisionLM and its processor")

    def prompt_inputs(self, messages: Sequence[dict], images: Sequence[Image.Image] = ()) -> dict[str, Any]:
        """The processor's output (input_ids, and pixel_values/image_grid_thw when there are images)."""
        if not messages:
            raise ValueError("messages must not be empty")
        text = self.processor.apply_chat_template(with_images(messages, len(images)), add_generation_prompt=True,
                                                  tokenize=False)
        pics = [fit_pixels(im, self.vision.max_pixels) for im in images]
        return dict(self.processor(text=[text], images=pics or None, return_tensors="pt"))

    def prompt_ids(self, messages: Sequence[dict]) -> list[int]:
        return self.prompt_inputs(messages)["input_ids"][0].tolist()

    def _generate(self, messages: Sequence[dict], max_new_tokens: int, images: Sequence[Image.Image],
                  **kwargs: Any) -> GenerationResult:
        return self.model.generate(self.prompt_inputs(messages, images), max_new_tokens, **kwargs)

    def complete(self, messages: Sequence[dict], max_new_tokens: int = 256, stop: Sequence[str] = (),
                 on_token: OnText | None = None, temperature: float = 0.0, seed: int | None = None,
                 images: Sequence[Image.Image] = ()) -> str:
        """ChatModel.complete, with `images` put before the last user turn's text."""
        return self._complete(messages, max_new_tokens, stop, on_token, temperature, seed, images)

    def complete_json(self, messages: Sequence[dict], schema: dict, max_new_tokens: int = 256,
                      on_token: OnText | None = None, temperature: float = 0.0, seed: int | None = None,
                      images: Sequence[Image.Image] = ()) -> dict:
        """ChatModel.complete_json, with `images` put before the last user turn's text."""
        return self._complete_json(messages, schema, max_new_tokens, on_token, temperature, seed, images)
