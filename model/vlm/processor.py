"""The Qwen-VL processors without torchvision: the PIL image processor, and frames passed as images.

transformers' fast image processors and its video processors need torchvision, which this project does
not install (without it transformers cannot even check a video processor's class). The PIL image
processor (`Qwen2VLImageProcessorPil`) gives the same patches; a short frame sequence goes in as several
images (each its own <|vision_start|>...<|vision_end|> slot). So the family's own processor class is
used through a subclass that has no video processor attribute; everything else is transformers' code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import Qwen2_5_VLProcessor, Qwen3VLProcessor

FAMILIES = ("qwen2_5_vl", "qwen3_vl")


class Qwen2_5_VLImageProcessor(Qwen2_5_VLProcessor):
    """Qwen2_5_VLProcessor for images only (no video processor to construct or check)."""

    attributes = ["image_processor", "tokenizer"]  # what older transformers read instead of __init__'s signature

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)


class Qwen3VLImageProcessor(Qwen3VLProcessor):
    """Qwen3VLProcessor for images only (no video processor to construct or check)."""

    attributes = ["image_processor", "tokenizer"]

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)


def build_processor(family: str, image_processor: Any, tokenizer: Any, chat_template: str | None = None) -> Any:
    """The family's processor over these parts (images and frames; no videos)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown vision-language family {family!r} ({' or '.join(FAMILIES)})")
    kind = Qwen2_5_VLImageProcessor if family == "qwen2_5_vl" else Qwen3VLImageProcessor
    return kind(image_processor=image_processor, tokenizer=tokenizer,
                chat_template=chat_template if chat_template is not None else getattr(tokenizer, "chat_template", None))


def image_processor_class() -> type:
    """Qwen2-VL's image processor that needs no torchvision: the PIL backend (transformers 5.2x), else the
    slow numpy one of older releases."""
    try:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
        return Qwen2VLImageProcessorPil
    except ImportError:
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
        return Qwen2VLImageProcessor


def load_processor(directory: str | Path, family: str) -> Any:
    """A checkpoint folder's processor: its image processor settings and tokenizer, without torchvision."""
    from transformers import AutoTokenizer

    images = image_processor_class().from_pretrained(str(directory))
    return build_processor(family, images, AutoTokenizer.from_pretrained(str(directory)))
