"""What one M2LA benchmark run measures (`python -m bench m2la`): the cache settings, the run's sizes, and
SmolLM2-135M-Instruct's shapes for timing without its weights."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import torch

from model.convert.gqa import ConvertOptions
from model.load import LITE, lite_convert_options


CACHES = ("bf16", "int8")  # how a setting's cache stores values


class Setting(NamedTuple):
    """One M2LA cache setting: latent width, shared RoPE key width, how the cache stores values."""

    kv_rank: int
    rope_dim: int
    cache: str = "bf16"  # "bf16": 2 bytes a value; "int8": 1 byte a value plus a 2-byte scale a row

    def label(self) -> str:
        return f"r={self.kv_rank} d={self.rope_dim} {self.cache}"


@dataclass(frozen=True)
class BenchConfig:
    """What one bench run measures and how much of it."""

    # settings measured one-shot
    settings: tuple[Setting, ...] = (Setting(32, 64), Setting(64, 32), Setting(48, 48), Setting(128, 64),
                                     Setting(120, 64, "int8"), Setting(128, 64, "int8"))
    default: Setting = Setting(LITE.kv_rank, LITE.rope_dim, LITE.cache)  # the setting the summary speaks for
    eval_windows: int | None = None  # held-out windows for perplexity, evenly spaced (None: all of them)
    eval_seq: int = 512  # tokens per held-out window
    calib_windows: int | None = None  # calibration windows for the activation statistics, evenly spaced (None: all)
    calib_seq: int = 512  # tokens per calibration window
    heal_minutes: float = 30.0  # heal budget for the default setting (0: skip)
    heal_seq: int = 256  # heal window length
    heal_windows: int | None = None  # calibration windows the heal trains on, evenly spaced (None: all of them)
    contexts: tuple[int, ...] = (1024, 4096, 8192)  # decode context lengths
    decode_steps: int = 16  # timed decode steps per context
    warmup_steps: int = 2  # untimed decode steps first
    decode_rounds: int = 3  # alternating transformers/M2LA measurements per context; each side keeps its best
    threads: int | None = None  # torch CPU threads (None: torch's default)
    only: str | None = None  # "decode": measure only decode tokens/s (no perplexity, no heal); None: everything
    # the next four apply to `only="decode"` alone (the perplexity figures are the CPU fp32 reference)
    device: str = "cpu"  # where decode runs: "cpu" (fp32 weights) or "cuda" (bf16 weights)
    quantize: str | None = None  # "nf4": both models' large linears in bitsandbytes nf4 (model.load.quantize_nf4)
    random_weights: bool = False  # SmolLM2-135M's shapes with random weights instead of the GGUF (speed only)
    cuda_graph: bool = False  # also time our decode step replayed from a CUDA graph (a static latent cache)


# a couple of minutes' heal cannot afford the teacher passes over all 216 heal windows: 32 of them
QUICK = BenchConfig(settings=(Setting(64, 32), Setting(120, 64, "int8"), Setting(128, 64)), eval_windows=4,
                    calib_windows=8, heal_minutes=2.0, heal_windows=32,
                    contexts=(1024, 8192), decode_steps=8, warmup_steps=1)

# SmolLM2-135M-Instruct's architecture as its GGUF describes it (tests/test_m2la_bench.py checks the two agree):
# a decode step's time depends on these shapes, not on the weights, so a machine without the GGUF can time it
SMOLLM2_135M_SHAPES: dict[str, Any] = dict(
    vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
    num_key_value_heads=3, head_dim=64, max_position_embeddings=8192, rope_parameters={"rope_theta": 100000.0,
    "rope_type": "default"}, rms_norm_eps=1e-5, tie_word_embeddings=True, hidden_act="silu", attention_bias=False,
    mlp_bias=False, bos_token_id=1, eos_token_id=2)

VALUE_DTYPE = torch.bfloat16  # float cache values in the deployment dtype (the source's too)
VALUE_BYTES = torch.empty(0, dtype=VALUE_DTYPE).element_size()


def setting_options(setting: Setting) -> ConvertOptions:
    """The lite profile's converter options (the bench speaks for it), with the setting's cache storage."""
    if setting.cache not in CACHES:
        raise ValueError(f"unknown cache storage {setting.cache!r} ({'|'.join(CACHES)})")
    return replace(lite_convert_options(), latent_int8=setting.cache == "int8")


def log(msg: str) -> None:
    """One progress line on stderr, stamped with the time (stdout carries the JSON)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
