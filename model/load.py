"""Loading the policy model: SmolLM2 from its offline GGUF, converted once to M2LA and cached, optionally nf4.

The lite profile's model is SmolLM2-135M-Instruct. The first load reads the GGUF with transformers
(`gguf_file=`), converts it to M2LA with model.convert at the default (kv_rank, rope_dim), calibrated on
model.convert.corpus's calibration text, fits each attention layer to the source's on that text for about a
minute (model.convert.layerwise: the cheap first stage of `heal`), and writes the result (weights + tokenizer) to
`<models_dir>/converted/<name>-r<R>-d<D>-<fingerprint>/`; every later load reads that folder and never
the GGUF. The fingerprint hashes CONVERTER_VERSION with every conversion option, and is also written
into the folder (converter.json): a cache made by another converter version or other options is
never reused, it is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from assets import ASSETS, default_models_dir, resolve

if TYPE_CHECKING:
    from model.chat import ChatModel
    from model.convert import ConvertOptions
    from model.lm import M2LAForCausalLM

LITE_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class LiteDefaults:
    """The lite profile's conversion setting, picked by `python -m bench m2la` (see the report/README)."""

    # An int8 cache holds twice the latent of a bf16 one in the same bytes: after a heal, r=120/d=64 int8
    # beat r=64/d=32 bf16 on held-out perplexity at the same 4x smaller cache than GQA's; its one-token
    # decode reads twice the values (figures: docs/). Re-pick when model.convert changes.
    kv_rank: int = 120  # latent width r: (120 + 64) bytes + a 2-byte scale, x 30 layers = 5,580 B a token,
    #                     4.13x smaller than GQA's 384 bf16 values (23,040 B)
    rope_dim: int = 64  # width of the one shared RoPE key (32 of the 96 rotary pairs of SmolLM2's 3 KV heads)
    cache: str = "int8"  # how the cache stores the latent: "bf16" values, or "int8" rows with an fp16 scale each
    rope_context: int = 2048  # RoPE pairs are kept by how far they turn within this many tokens: the lite agent's
    #                           prompts stay near 2K (agent.context's 1,800-token event budget plus the system
    #                           prompt), far below SmolLM2's 8K, so pairs that only turn past 2K need no rotation
    rank_allocation: str = "spectrum"  # kv_rank is the mean: layers whose keys/values are nearly low-rank give
    #                                    latent width to the others (same cache; lower held-out ppl than uniform)
    calib_windows: int = 32  # calibration windows for the activation-aware factorisation and the layer fit,
    #                          spread evenly over every calibration document (not the licences alone)
    calib_seq: int = 512  # tokens per calibration window
    fit_steps: int = 60  # layer-wise fitting steps per attention layer after the conversion (model.convert.layerwise),
    #                      once; 0: one-shot only


LITE = LiteDefaults()

# Bump whenever model.convert (or what convert_lite feeds it) changes the weights it writes: every
# converted cache made before is then rebuilt instead of being silently reused.
CONVERTER_VERSION = 8  # 3: the layer-wise fit after conversion; 4: RoPE pairs judged over LITE.rope_context;
#                       5: latent ranks spread over the layers (LITE.rank_allocation);
#                       6: calibration windows spread over every calibration document;
#                       7: r=120/d=64 with an int8 latent cache
#                       8: q_proj keeps the source query once (ConvertOptions.shared_query)
FINGERPRINT_FILE = "converter.json"  # inside a converted folder: version, options and their hash
# a converted folder's name (converted_dir): model, setting, fingerprint; temp folders add ".xxx" and do not match
_CONVERTED_NAME = re.compile(r"(?P<model>.+)-r\d+-d\d+-[0-9a-f]{12}")

# Below this many weights a linear stays in high precision: 4-bit saves nothing there and costs accuracy.
NF4_MIN_PARAMS = 1 << 16
# Never quantised: the embeddings/lm_head (tied in SmolLM2), and kv_b_proj, whose weight the absorbed
# decode path reads directly as a matrix (and which is small: r x heads*(d_nope+d_v)).
NF4_SKIP = ("embed_tokens", "lm_head", "kv_b_proj")


def smollm2_gguf(models_dir: str | os.PathLike | None = None) -> Path:
    """The SmolLM2-135M-Instruct GGUF file (offline mirror or explicit path; raises AssetError if absent)."""
    return resolve(LITE_MODEL, models_dir) / ASSETS[LITE_MODEL].main_file


def attn_implementation() -> str:
    """"flash_attention_2" where flash-attn is installed and CUDA is present, else "sdpa"."""
    if torch.cuda.is_available():
        try:
            import flash_attn  # noqa: F401
            return "flash_attention_2"
        except ImportError:
            pass
    return "sdpa"


def load_gguf_source(gguf: Path, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, Any]:
    """The source (GQA) model and tokenizer from a GGUF file, dequantised to `dtype`."""
    from model.convert import load_source

    model, tok = load_source(gguf, dtype)
    if tok is None:
        raise ValueError(f"{gguf} carries no tokenizer")
    return model, tok


def conversion_options(kv_rank: int, rope_dim: int, method: str = "activation") -> dict[str, Any]:
    """Everything that decides the converted weights of the lite model, as a JSON-able dict."""
    asset = ASSETS[LITE_MODEL]
    return {"converter_version": CONVERTER_VERSION, "source": LITE_MODEL,
            "source_sha256": asset.files.get(asset.main_file or ""), "kv_rank": kv_rank, "rope_dim": rope_dim,
            "method": method, "convert_options": asdict(lite_convert_options()),
            # calibration only feeds the activation-aware method and the layer fit that follows it
            "calib": [LITE.calib_windows, LITE.calib_seq] if method == "activation" else None,
            "fit_steps": LITE.fit_steps if method == "activation" else 0}


def lite_convert_options() -> ConvertOptions:
    """The converter options of the lite model (and of the bench, which speaks for it)."""
    from model.convert import ConvertOptions

    return ConvertOptions(rope_context=LITE.rope_context, rank_allocation=LITE.rank_allocation,
                          latent_int8=LITE.cache == "int8")


def fingerprint(options: dict[str, Any]) -> str:
    """Short stable hash of conversion options (12 hex digits of sha256 over sorted-key JSON)."""
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]


def converted_dir(models_dir: str | os.PathLike | None, name: str, kv_rank: int, rope_dim: int,
                  fp: str | None = None) -> Path:
    """Where the converted copy of `name` at one setting is cached (`fp`: the options' fingerprint)."""
    root = Path(models_dir) if models_dir else default_models_dir()
    return root / "converted" / (f"{name}-r{kv_rank}-d{rope_dim}" + (f"-{fp}" if fp else ""))


def _recorded(folder: Path) -> dict[str, Any]:
    """The options a converted folder records in its fingerprint file ({} when absent or unreadable)."""
    try:
        meta = json.loads((folder / FINGERPRINT_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def cache_is_current(folder: Path, fp: str) -> bool:
    """True when `folder` holds a complete conversion whose recorded fingerprint is `fp`."""
    return _recorded(folder).get("fingerprint") == fp and (folder / "m2la_config.json").is_file()


def prune_older_versions(folder: Path) -> list[Path]:
    """Delete the complete conversions beside `folder` of the same model, at any setting, that an older
    CONVERTER_VERSION wrote (each is a few hundred MB that nothing reads any more: a setting asked for
    again is converted anew); returns them.

    Folders of this version (other settings or options), folders without a fingerprint file, other
    models and temporary folders of conversions in progress are left alone.
    """
    own = _CONVERTED_NAME.fullmatch(folder.name)
    removed: list[Path] = []
    if own is None:
        return removed
    for other in folder.parent.iterdir():
        match = _CONVERTED_NAME.fullmatch(other.name)
        if other == folder or match is None or match["model"] != own["model"] or not other.is_dir():
            continue
        version = _recorded(other).get("converter_version")
        if isinstance(version, int) and version < CONVERTER_VERSION:
            shutil.rmtree(other, ignore_errors=True)
            removed.append(other)
    return removed


def calibration_ids(tokenizer: Any, windows: int = LITE.calib_windows, seq: int = LITE.calib_seq) -> torch.Tensor:
    """Calibration token windows [N, seq], evenly spaced over the project's calibration corpus."""
    from model.convert.corpus import token_windows

    return token_windows(tokenizer, "calib", seq, windows)


def convert_lite(kv_rank: int = LITE.kv_rank, rope_dim: int = LITE.rope_dim,
                 models_dir: str | os.PathLike | None = None, method: str = "activation") -> Path:
    """Convert SmolLM2 to M2LA once and cache it; returns the folder (reused only when its fingerprint matches)."""
    options = conversion_options(kv_rank, rope_dim, method)
    fp = fingerprint(options)
    out = converted_dir(models_dir, LITE_MODEL + ("" if method == "activation" else f"-{method}"),
                        kv_rank, rope_dim, fp)
    if cache_is_current(out, fp):
        return out
    from model.convert import convert_model

    source, tok = load_gguf_source(smollm2_gguf(models_dir))
    calib = calibration_ids(tok) if method == "activation" else None
    with torch.no_grad():
        m2la = convert_model(source, kv_rank, rope_dim, calib_input_ids=calib, method=method,
                             options=lite_convert_options())
    if options["fit_steps"]:
        from model.convert.layerwise import LayerFitConfig, fit_layers

        fit_layers(m2la, source, calib, LayerFitConfig(max_steps=options["fit_steps"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    # write to a sibling temp folder and rename: a crash never leaves a half-written cache behind
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        m2la.save_pretrained(tmp)
        tok.save_pretrained(str(tmp))
        (tmp / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": fp, **options}, indent=1, sort_keys=True))
        if out.exists():  # a stale or incomplete cache under this name: replace it
            shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not cache_is_current(out, fp):  # not a lost race with another process
            raise
    prune_older_versions(out)
    return out


def quantize_nf4(model: nn.Module, compute_dtype: torch.dtype = torch.float32,
                 skip: tuple[str, ...] = NF4_SKIP, min_params: int = NF4_MIN_PARAMS) -> int:
    """Replace large nn.Linear layers with bitsandbytes nf4 Linear4bit in place; returns how many.

    bitsandbytes 0.50 quantises and runs 4-bit matmuls on CPU as well as CUDA: the weights are
    quantised when the Params4bit moves to its device.
    """
    import bitsandbytes as bnb

    device = next(model.parameters()).device
    replaced = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if not isinstance(child, nn.Linear) or any(s in full for s in skip):
                continue
            if child.weight.numel() < min_params:
                continue
            q = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                  compute_dtype=compute_dtype, quant_type="nf4", device="meta")
            q.weight = bnb.nn.Params4bit(child.weight.data.to("cpu").contiguous(), requires_grad=False,
                                         quant_type="nf4")
            if child.bias is not None:
                q.bias = nn.Parameter(child.bias.data.clone(), requires_grad=False)
            setattr(module, child_name, q.to(device))
            replaced += 1
    return replaced


def load_m2la(directory: str | os.PathLike, quantize: str | None = None,
              device: str | torch.device | None = None) -> tuple["M2LAForCausalLM", Any]:
    """A converted model folder (weights + tokenizer) on `device`, optionally nf4-quantised."""
    from transformers import AutoTokenizer

    from model.lm import M2LAForCausalLM

    if quantize not in (None, "nf4"):
        raise ValueError(f"unknown quantisation {quantize!r} (none or nf4)")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    model = M2LAForCausalLM.from_pretrained(directory, dtype=dtype, device="cpu")
    tok = AutoTokenizer.from_pretrained(str(directory))
    if quantize == "nf4":
        quantize_nf4(model, compute_dtype=dtype)
    return model.to(dev).eval(), tok


def load_chat_model(profile: str = "lite", models_dir: str | os.PathLike | None = None,
                    quantize: str | None = None, device: str | torch.device | None = None,
                    kv_rank: int = LITE.kv_rank, rope_dim: int = LITE.rope_dim) -> "ChatModel":
    """The policy model for a profile, ready to chat; converts and caches on first use."""
    from model.chat import ChatModel

    if profile not in ("lite", "full"):
        raise ValueError(f"unknown profile {profile!r} (lite|full)")
    if profile == "full":  # the vision-language model (model.vlm.load; WeightsMissing when it is not here)
        from model.vlm.load import load_full

        return load_full(models_dir, quantize=quantize, device=device)
    folder = convert_lite(kv_rank, rope_dim, models_dir)
    model, tok = load_m2la(folder, quantize=quantize, device=device)
    model_id = f"{LITE_MODEL}-m2la-r{kv_rank}-d{rope_dim}" + ("-nf4" if quantize else "")
    return ChatModel(model=model, tokenizer=tok, model_id=model_id)
