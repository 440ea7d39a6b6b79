"""M2LAForCausalLM: a small nanoGPT-style decoder (RMSNorm + M2LA attention + SwiGLU) with save/load."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from itertools import accumulate
from pathlib import Path

import torch
from torch import nn
from safetensors.torch import load_file, save_file

from model.cache import LatentKVCache
from model.layers import RMSNorm, SwiGLU
from model.m2la import M2LAAttention, M2LAConfig, Mode, pair_angles

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
            for key in ("rope_inv_freq", "mrope_section", "rope_freq_index", "q_nope_freq_index"):
                if a.get(key) is not None:
                    a[key] = tuple(a[key])
            return M2LAConfig(**a)

        d = dict(d)
        d["attn"] = tuple(_attn(a) for a in d["attn"])
        return cls(**d)


class LayersRope:
    """Every layer's RoPE cos/sin in one pass over the positions.

    Conversion keeps different RoPE pairs in each layer, so each has its own tables; computing them all
    at once (one angle product, one cos, one sin) spares a decode step ~10 small ops a layer, which is
    what a one-token step on a GPU pays for (each op a kernel launch). Values equal rope_cos_sin's.
    """

    def __init__(self, attn: tuple[M2LAConfig, ...]) -> None:
        self.attn, self.widths = attn, [c.d_rope for c in attn]
        self.mixed = len({c.mrope_section is None for c in attn}) > 1  # MRoPE in some layers only: per layer
        # tables per device, built on first use (a meta-device model construction must not hold them)
        self._on: dict[torch.device, tuple[torch.Tensor | None, ...]] = {}

    def _tables(self, dev: torch.device) -> tuple[torch.Tensor | None, ...]:
        if dev not in self._on:
            attn = self.attn
            inv = torch.cat([c.pair_inv_freq() for c in attn])  # [sum P]
            sections = None if attn[0].mrope_section is None else torch.cat([c.pair_sections() for c in attn])
            starts = [0, *accumulate(w // 2 for w in self.widths)]  # each layer's first pair
            # rotate-half layout: each layer's dims are its pairs twice over, [a_0..a_P-1, a_0..a_P-1]
            layout = torch.cat([torch.arange(a, b).repeat(2) for a, b in zip(starts, starts[1:])])  # [sum d_rope]
            scale = torch.cat([torch.full((c.d_rope,), c.rope_attention_scaling) for c in attn])
            scale = None if bool((scale == 1.0).all()) else scale
            self._on[dev] = tuple(None if t is None else t.to(dev) for t in (inv, sections, layout, scale))
        return self._on[dev]

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        """(cos, sin) [B, T, d_rope] per layer for positions [B, T] or [3, B, T] (None per layer if mixed)."""
        if self.mixed:
            return [None] * len(self.widths)
        inv, sections, layout, scale = self._tables(positions.device)
        emb = pair_angles(positions, inv, sections)[..., layout]  # [B, T, sum d_rope]
        cos, sin = emb.cos(), emb.sin()
        if scale is not None:
            cos, sin = cos * scale, sin * scale
        cos, sin = cos.to(dtype), sin.to(dtype)
        out, start = [], 0
        for w in self.widths:
            out.append((cos[..., start:start + w], sin[..., start:start + w]))
            start += w
        return out


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)); x + mlp(norm(x))."""

    def __init__(self, cfg: LMConfig, attn: M2LAConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden, cfg.rms_eps)
        self.self_attn = M2LAAttention(attn)
        self.post_attention_layernorm = RMSNorm(cfg.hidden, cfg.rms_eps)
        self.mlp = SwiGLU(cfg.hidden, cfg.intermediate, cfg.mlp_bias)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, cache: LatentKVCache | None,
                layer_idx: int, mode: Mode, rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), positions, cache, layer_idx, mode, rope)
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
        self.rope = LayersRope(config.attn)

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
        for i, (block, rope) in enumerate(zip(self.layers, self.rope.cos_sin(positions, x.dtype))):
            x = block(x, positions, cache, i, mode, rope)
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
