"""VLMConfig: what an M2LA vision-language model is made of, saved beside its weights."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.lm import LMConfig

CONFIG_NAME = "m2la_vlm_config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class SourceNorm:
    """A converted Qwen3-VL keeps its per-head query/key RMSNorms (model.vlm.attention.SourceNormAttention)."""

    kv_heads: int  # the source's KV heads (groups the key norm runs over)
    head_dim: int  # the source's head width (the norms' width)
    eps: float  # the norms' epsilon


@dataclass(frozen=True)
class VLMConfig:
    """An M2LA decoder joined to a transformers vision tower."""

    family: str  # "qwen2_5_vl" | "qwen3_vl": the vision tower's and position logic's family
    hf_config: dict[str, Any]  # the source's transformers config (vision tower, token ids), as to_dict() gives it
    text: LMConfig  # the M2LA decoder (every attention layer's shapes and RoPE pairs)
    source_norm: SourceNorm | None = None  # per-head q/k norms kept (an exactly rewritten Qwen3-VL); None: DeepSeek
    #                                        layout (a converted Qwen2.5-VL, an InternVideo3 checkpoint)
    source: str = ""  # where the weights came from, for the record

    @property
    def deepstack_layers(self) -> int:
        """Decoder layers after which deepstack visual features are added (Qwen3-VL), 0 for none."""
        return len(self.hf_config.get("vision_config", {}).get("deepstack_visual_indexes", []) or [])

    def transformers_config(self) -> Any:
        """The source's transformers config object (builds the vision tower; holds token ids and merge sizes)."""
        from transformers import AutoConfig

        d = dict(self.hf_config)
        return AutoConfig.for_model(d.pop("model_type"), **d)

    def save(self, directory: Path) -> None:
        """Write CONFIG_NAME into `directory`."""
        d = {"family": self.family, "hf_config": self.hf_config, "text": self.text.to_dict(),
             "source_norm": None if self.source_norm is None else vars(self.source_norm), "source": self.source}
        (directory / CONFIG_NAME).write_text(json.dumps(d, indent=1))

    @classmethod
    def load(cls, directory: Path) -> "VLMConfig":
        """Read CONFIG_NAME from `directory`."""
        d = json.loads((directory / CONFIG_NAME).read_text())
        norm = d.get("source_norm")
        return cls(d["family"], d["hf_config"], LMConfig.from_dict(d["text"]),
                   SourceNorm(**norm) if norm else None, d.get("source", ""))
