"""The full profile's policy model: a vision-language M2LA checkpoint, loaded into a VisionChatModel.

Two folder formats load: one `python -m model convert` wrote from a Qwen2.5-VL / Qwen3-VL checkpoint
(m2la_vlm_config.json), and an InternVideo3-format checkpoint as the hub publishes it (config.json with
MLA attention). The folder is $CITECLIP_MODEL_INTERNVIDEO3_8B_INSTRUCT, else the one that
`python -m model fetch --profile full` checked into the models dir (assets.find_hub_model).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from assets import find_hub_model
from assets.registry import FULL_VLM
from model.vlm.chat import VisionChatModel
from model.vlm.config import CONFIG_NAME
from model.vlm.model import M2LAVisionLM


def load_vlm(folder: str | os.PathLike, quantize: str | None = None,
             device: str | torch.device | None = None) -> VisionChatModel:
    """A VLM folder (converted or InternVideo3 format) as a VisionChatModel; nf4 quantises the decoder."""
    from model.load import attn_implementation, quantize_nf4
    from model.vlm.internvideo3 import load_internvideo3
    from model.vlm.processor import load_processor

    if quantize not in (None, "nf4"):
        raise ValueError(f"unknown quantisation {quantize!r} (none or nf4)")
    d = Path(folder)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    attn = attn_implementation()
    if (d / CONFIG_NAME).is_file():
        model = M2LAVisionLM.from_pretrained(d, dtype=dtype, attn_implementation=attn)
    else:
        model = load_internvideo3(d, dtype=dtype, attn_implementation=attn)
    if quantize == "nf4":  # the decoder's large linears; the vision tower stays in dtype
        quantize_nf4(model.text, compute_dtype=dtype)
    processor = load_processor(d, model.config.family)
    model_id = d.name + ("-nf4" if quantize else "")
    return VisionChatModel(model=model.to(dev).eval(), tokenizer=processor.tokenizer, model_id=model_id,
                           processor=processor)


def load_full(models_dir: str | os.PathLike | None = None, quantize: str | None = None,
              device: str | torch.device | None = None) -> VisionChatModel:
    """The full profile's VLM; assets.WeightsMissing (one line: what is missing, how to get it) when absent."""
    return load_vlm(find_hub_model(FULL_VLM, models_dir), quantize=quantize, device=device)
