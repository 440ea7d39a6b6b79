"""M2LAForCausalLM: a small nanoGPT-style decoder (RMSNorm + M2LA attention + SwiGLU) with save/load."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from safetensors.torch import load_file, save_file

from model.cache import LatentKVCache
from model.layers import RMSNorm, SwiGLU
from model.m2la import M2LAAttention, M2LAConfig, Mode

CONFIG_NAME = "m2la_config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class LMConfig:
    """Shape of the decoder; attention settings are per layer because conversion picks RoPE pairs per layer."""

    vocab_size: int  # token embedding rows
    hidden: int  # residual width
    intermediate: int  # SwiGLU inner width
    attn: tuple[M2LAConfig, ...]  # one attention config per layer (same cache width in every layer)
    rms_eps: float = 1e-6  # epsilon of the block and final RMSNorms
    tie_embeddings: bool = False  # lm_head shares the embedding matrix (SmolLM2 does, Llama-3-8B does not)
    mlp_bias: bool = False  # biases on the MLP linears (Llama `mlp_bias`)
    source: str = ""  # where the weights came from (HF architecture / path), for the record

    @property
    def layers(self) -> int:
        return len(self.attn)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["attn"] = [asdict(a) for a in self.attn]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "LMConfig":
        def _attn(a: dict) -> M2LAConfig:
            a = dict(a)
            for key in ("rope_inv_freq", "mrope_section", "rope_freq_index"):
                if a.get(key) is not None:
                    a[key] = tuple(a[key])
            return M2LAConfig(**a)

        d = dict(d)
        d["attn"] = tuple(_attn(a) for a in d["attn"])
        return cls(**d)


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)); x + mlp(norm(x))."""

    def __init__(self, cfg: LMConfig, attn: M2LAConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden, cfg.rms_eps)
        self.self_attn = M2LAAttention(attn)
        self.post_attention_layernorm = RMSNorm(cfg.hidden, cfg.rms_eps)
        self.mlp = SwiGLU(cfg.hidden, cfg.intermediate, cfg.mlp_bias)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: LatentKVCache | None,
                layer_idx: int, mode: Mode) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), positions, cache, layer_idx, mode)
        return x + self.mlp(self.post_attention_layernorm(x))


class M2LAForCausalLM(nn.Module):
    """Decoder LM whose every attention layer is M2LA and caches only the latent."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden)
        self.layers = nn.ModuleList(Block(config, a) for a in config.attn)
        self.norm = RMSNorm(config.hidden, config.rms_eps)
        self.lm_head = nn.Linear(config.hidden, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    @property
    def uses_mrope(self) -> bool:
        return self.config.attn[0].mrope_section is not None

    def forward(
        self,
        input_ids: torch.Tensor,  # [B, T]
        positions: torch.Tensor | None = None,  # [B, T] or [3, B, T]; None: continue after the cache
        cache: LatentKVCache | None = None,
        mode: Mode = "naive",
        last_only: bool = False,  # logits of the last position only (prefill needs no others)
    ) -> torch.Tensor:  # logits [B, T, V], or [B, 1, V] with last_only (fp32-upcast is left to the caller)
        if positions is None:
            start = cache.seq_len() if cache is not None else 0
            positions = torch.arange(start, start + input_ids.shape[1], device=input_ids.device)
            positions = positions[None].expand(input_ids.shape[0], -1)
        x = self.embed_tokens(input_ids)  # [B, T, hidden]
        for i, block in enumerate(self.layers):
            x = block(x, positions, cache, i, mode)
        if last_only:  # the head is a fifth of prefill's work at SmolLM2's 49K vocabulary
            x = x[:, -1:]
        return self.lm_head(self.norm(x))

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write `m2la_config.json` + `model.safetensors` (tied lm_head stored once)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG_NAME).write_text(json.dumps(self.config.to_dict(), indent=1))
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        if self.config.tie_embeddings:
            state.pop("lm_head.weight", None)
        save_file(state, str(out / WEIGHTS_NAME), metadata={"format": "pt", "model_type": "m2la"})
        return out

    @classmethod
    def from_pretrained(cls, directory: str | Path, dtype: torch.dtype | None = None,
                        device: torch.device | str = "cpu") -> "M2LAForCausalLM":
        """Rebuild a model written by `save_pretrained` (no source model needed)."""
        d = Path(directory)
        if not (d / CONFIG_NAME).is_file():
            raise FileNotFoundError(f"{d} is not a converted M2LA model (no {CONFIG_NAME})")
        config = LMConfig.from_dict(json.loads((d / CONFIG_NAME).read_text()))
        with torch.device("meta"):
            model = cls(config)
        state = load_file(str(d / WEIGHTS_NAME), device=str(device))
        if config.tie_embeddings:
            state["lm_head.weight"] = state["embed_tokens.weight"]
        model.load_state_dict(state, assign=True, strict=True)
        if config.tie_embeddings:
            model.lm_head.weight = model.embed_tokens.weight
        if dtype is not None:
            model.to(dtype)
        return model.eval()
