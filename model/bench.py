"""`python -m model bench --json` (also `python -m bench m2la --json`): M2LA on SmolLM2-135M-Instruct, real weights.

One run measures, against the source model measured in the same run:
- KV-cache bytes per token (all layers; bf16 values, or int8 rows with their scales) of the source GQA and of
  M2LA at each setting;
- perplexity on held-out text (model.corpus) of the source, of each one-shot conversion
  (activation-aware), of the weight-SVD baseline at the default setting, and of the default after heal;
- decode tokens/s at 1K/4K/8K tokens of context: transformers' GQA with its own DynamicCache against
  our absorbed decode over the LatentKVCache. The caches are filled with synthetic values of the
  right shape (a decode step's time does not depend on the values, and this spares an 8K prefill per
  model on a CPU); the same model weights and thread count are used for both. The two are measured
  alternately a few rounds and each keeps its best round (other processes only slow a round down).
  `--only decode` runs this part alone (minutes instead of the heal's half hour); there `--device cuda`
  measures it on a GPU in bf16 (`--nf4`: both models' large linears in bitsandbytes nf4), and
  `--random-weights` builds SmolLM2-135M's shapes with random weights where its GGUF is absent, and
  `--cuda-graph` also times our step replayed from one CUDA graph (model.graph_decode).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import torch

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


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def source_kv_bytes(cfg: Any) -> int:
    """GQA cache bytes per token: layers x 2 (K and V) x kv_heads x head_dim x value bytes."""
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return cfg.num_hidden_layers * 2 * cfg.num_key_value_heads * head_dim * VALUE_BYTES


def m2la_kv_bytes(model: Any) -> int:
    """M2LA cache bytes per token (VALUE_BYTES a value, or int8 rows and their scales): what a LatentKVCache
    for the model holds per token."""
    from model.cache import LatentKVCache

    return LatentKVCache.for_model(model, dtype=VALUE_DTYPE).bytes_per_token()


@torch.inference_mode()
def hf_decode_tps(model: Any, context: int, steps: int, warmup: int) -> float:
    """transformers' decode tokens/s with a DynamicCache holding `context` synthetic tokens."""
    from transformers import DynamicCache

    cfg, (dev, dtype) = model.config, _device_dtype(model)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    cache = DynamicCache(config=cfg)
    g = torch.Generator(dev).manual_seed(0)
    for layer in range(cfg.num_hidden_layers):
        k = torch.randn(1, cfg.num_key_value_heads, context, head_dim, generator=g, device=dev, dtype=dtype)
        cache.update(k, torch.randn_like(k), layer)

    def step(tok: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return model(input_ids=tok, past_key_values=cache, position_ids=pos, use_cache=True).logits[:, -1]

    return _greedy_steps_per_s(step, dev, context, steps, warmup)


@torch.inference_mode()
def m2la_decode_tps(model: Any, context: int, steps: int, warmup: int, graph: bool = False) -> float:
    """Our absorbed decode tokens/s over a latent cache holding `context` synthetic tokens; with `graph`,
    a StaticLatentKVCache and each step replayed from one CUDA graph (model.graph_decode)."""
    from model.cache import LatentKVCache, StaticLatentKVCache
    from model.generate import decode_one
    from model.graph_decode import GraphDecoder

    dev, dtype = _device_dtype(model)
    cache = (StaticLatentKVCache if graph else LatentKVCache).for_model(model, max_len=context + warmup + steps)
    g = torch.Generator(dev).manual_seed(0)
    for layer, w in enumerate(cache.widths):
        cache.update(layer, torch.randn(1, context, w, generator=g, device=dev, dtype=dtype))
    step = GraphDecoder(model, cache).step if graph else lambda tok, pos: decode_one(model, tok, cache, pos)
    return _greedy_steps_per_s(step, dev, context, steps, warmup)


def _greedy_steps_per_s(step: Any, dev: torch.device, context: int, steps: int, warmup: int) -> float:
    """Tokens/s of `steps` greedy decode steps after `warmup` untimed ones, the first at position `context`.

    `step(token [1, 1], position [1, 1])` returns the logits [1, V] of the next token.
    """
    tok = torch.tensor([[42]], device=dev)
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = _clock(dev)
        tok = step(tok, torch.tensor([[context + i]], device=dev)).argmax(-1, keepdim=True)
    return steps / (_clock(dev) - t0)


def _device_dtype(model: Any) -> tuple[torch.device, torch.dtype]:
    """The model's device and float dtype (of its first float weight: nf4 linears hold uint8 storage)."""
    p = next(p for p in model.parameters() if p.is_floating_point())
    return p.device, p.dtype


def _clock(device: torch.device) -> float:
    """Wall seconds once the device's queued work is done (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def decode_rows(source: Any, m2la: Any, config: BenchConfig) -> list[dict]:
    """Decode tokens/s of transformers' GQA and of our absorbed path at each context, same threads.

    The two are measured alternately `decode_rounds` times and each keeps its best round: on a shared
    machine other processes only ever slow a round down, so the best round is the least disturbed one.
    """
    rows = []
    for ctx in config.contexts:
        hf_runs, our_runs = [], []
        for _ in range(config.decode_rounds):
            hf_runs.append(hf_decode_tps(source, ctx, config.decode_steps, config.warmup_steps))
            our_runs.append(m2la_decode_tps(m2la, ctx, config.decode_steps, config.warmup_steps))
        hf, ours = max(hf_runs), max(our_runs)
        rows.append({"context": ctx, "transformers_gqa_tps": hf, "m2la_absorbed_tps": ours, "speedup": ours / hf,
                     "transformers_gqa_rounds": hf_runs, "m2la_absorbed_rounds": our_runs})
        _log(f"decode @{ctx}: transformers {hf:.2f} tok/s, m2la {ours:.2f} tok/s ({ours / hf:.2f}x); "
             f"rounds {[round(x, 2) for x in hf_runs]} vs {[round(x, 2) for x in our_runs]}")
        if config.cuda_graph:
            rows[-1] |= graph_row(m2la, ctx, config, hf)
    return rows


def graph_row(m2la: Any, ctx: int, config: BenchConfig, eager_hf: float) -> dict:
    """Our decode step replayed from one CUDA graph over a static cache (best of the rounds), against
    transformers' eager step. (Capturing transformers' own step over its StaticCache by hand hit a
    device-side assert on the H200, so there is no graph-vs-graph figure.)"""
    tps = max(m2la_decode_tps(m2la, ctx, config.decode_steps, config.warmup_steps, graph=True)
              for _ in range(config.decode_rounds))
    _log(f"decode @{ctx}, m2la from a CUDA graph: {tps:.2f} tok/s ({tps / eager_hf:.2f}x transformers eager)")
    return {"m2la_graph_tps": tps, "graph_vs_transformers_eager": tps / eager_hf}


def decode_models(config: BenchConfig) -> tuple[Any, Any, str]:
    """(source, M2LA at the default setting, a description) on `config.device`, as the decode part runs them.

    The M2LA weights come from the weight-SVD conversion (no calibration pass): a decode step's time
    depends on the shapes, not on the weights' values, so this spares minutes of calibration.
    """
    from model.load import load_gguf_source, quantize_nf4, smollm2_gguf

    if config.random_weights:
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        source = LlamaForCausalLM(LlamaConfig(**SMOLLM2_135M_SHAPES, attn_implementation="sdpa")).eval()
        what = "SmolLM2-135M-Instruct's shapes, random weights (speed only)"
    else:
        source, _ = load_gguf_source(smollm2_gguf())
        what = "SmolLM2-135M-Instruct (GGUF Q4_1, dequantised)"
    m2la = weight_svd_default(source, config)
    dtype = torch.bfloat16 if config.device == "cuda" else torch.float32
    source, m2la = (m.to(config.device, dtype).eval() for m in (source, m2la))
    if config.quantize == "nf4":
        for m in (source, m2la):
            quantize_nf4(m, compute_dtype=dtype)
    weights = "nf4" if config.quantize else str(dtype).removeprefix("torch.")
    return source, m2la, f"{what}, {weights} weights"


def weight_svd_default(source: Any, config: BenchConfig) -> Any:
    """`source` converted at the default setting by weight SVD (no calibration pass): the M2LA model the
    decode measurement times."""
    from model.convert import convert_model

    r, d, _ = config.default
    with torch.no_grad():
        return convert_model(source, r, d, method="weight_svd", options=setting_options(config.default))


def run_decode_only(config: BenchConfig) -> dict:
    """Only the decode measurement, on the default setting's shapes (see decode_models)."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: this machine has no CUDA device")
    if config.cuda_graph and config.device != "cuda":
        raise ValueError("--cuda-graph needs --device cuda")
    if config.threads:
        torch.set_num_threads(config.threads)
    t_start = time.perf_counter()
    source, m2la, what = decode_models(config)
    decode = decode_rows(source, m2la, config)
    return {
        "model": what, "device": _device_name(config.device), "threads": torch.get_num_threads(),
        "platform": platform.platform(), "torch": torch.__version__,
        "source_attention": source.config._attn_implementation, "m2la_attention": m2la_attention(config.device),
        "config": asdict(config),
        "decode": decode,
        "summary": {"decode_speedup_8k": next((x["speedup"] for x in decode if x["context"] == 8192), None)},
        "seconds": time.perf_counter() - t_start,
    }


def m2la_attention(device: str) -> str:
    """What ran our decode step's attention over the int8 latent cache."""
    from model import attend_kernel

    if device == "cpu" and attend_kernel.available():
        return "fused CPU kernel (model/attend_kernel.cpp)"
    return "torch ops" + (" (integer products, model/latent_quant.py)" if device == "cpu" else "")


def _device_name(device: str) -> str:
    return f"cuda ({torch.cuda.get_device_name()})" if device == "cuda" else "cpu"


def run(config: BenchConfig) -> dict:
    """Measure everything once (or only decode, with `only="decode"`); returns the JSON-able result."""
    if config.only == "decode":
        return run_decode_only(config)
    if config.device != "cpu" or config.quantize or config.random_weights or config.cuda_graph:
        raise ValueError("--device, --nf4, --random-weights and --cuda-graph apply to --only decode")
    from model.convert import attention_input_moments, convert_model
    from model.corpus import token_windows
    from model.heal import HealConfig, heal
    from model.load import load_gguf_source, smollm2_gguf
    from model.ppl import perplexity

    if config.threads:
        torch.set_num_threads(config.threads)
    t_start = time.perf_counter()
    source, tok = load_gguf_source(smollm2_gguf())
    held = token_windows(tok, "heldout", config.eval_seq, config.eval_windows)
    calib = token_windows(tok, "calib", config.calib_seq, config.calib_windows)
    src_bytes = source_kv_bytes(source.config)
    _log("source perplexity")
    ppl_src = perplexity(source, held)
    _log(f"source ppl {ppl_src:.3f}; calibration statistics")
    moments = attention_input_moments(source, calib)
    settings = list(dict.fromkeys([*config.settings, config.default]))
    rows, models = [], {}
    for setting in settings:
        t0 = time.perf_counter()
        with torch.no_grad():
            m = convert_model(source, setting.kv_rank, setting.rope_dim, moments=moments, method="activation",
                              options=setting_options(setting))
        conv_s = time.perf_counter() - t0
        ppl = perplexity(m, held)
        rows.append(_row(setting, "activation", m, src_bytes, ppl, ppl_src) | {
            "kv_ranks": [a.kv_rank for a in m.config.attn], "convert_s": round(conv_s, 1)})
        _log(f"{setting.label()}: ppl {ppl:.3f}")
        if setting == config.default:
            models["default"] = m
    with torch.no_grad():  # MHA2MLA's SVD-joint: no calibration, so every layer at rank r
        svd = convert_model(source, config.default.kv_rank, config.default.rope_dim, method="weight_svd",
                            options=setting_options(config.default))
    ppl_svd = perplexity(svd, held)
    rows.append(_row(config.default, "weight_svd", svd, src_bytes, ppl_svd, ppl_src))
    del svd
    _log(f"weight-SVD baseline {config.default.label()}: ppl {ppl_svd:.3f}")
    default = models["default"]
    ppl_one_shot = next(x["ppl"] for x in rows if _setting_of(x) == config.default and x["method"] == "activation")

    heal_info: dict[str, Any] = {"minutes": 0.0}
    ppl_healed = None
    if config.heal_minutes > 0:
        _log(f"heal {config.heal_minutes} min")
        train = token_windows(tok, "calib", config.heal_seq, config.heal_windows)
        hc = HealConfig(minutes=config.heal_minutes, seq_len=config.heal_seq)
        rep = heal(default, source, train, hc, _log)
        ppl_healed = perplexity(default, held)
        heal_info = {"config": asdict(hc), **asdict(rep), "minutes": rep.seconds / 60,
                     "ppl": ppl_healed, "ppl_ratio": ppl_healed / ppl_src}
        _log(f"healed ppl {ppl_healed:.3f}")

    decode = decode_rows(source, default, config)
    at8k = next((x["speedup"] for x in decode if x["context"] == 8192), None)
    default_bytes = m2la_kv_bytes(default)
    return {
        "model": "SmolLM2-135M-Instruct (GGUF Q4_1, dequantised to fp32)",
        "device": "cpu", "threads": torch.get_num_threads(), "platform": platform.platform(),
        "m2la_attention": m2la_attention("cpu"),
        "config": asdict(config),
        "convert_options": asdict(setting_options(config.default)),
        "corpus": {"heldout_tokens": int(held.numel()), "calib_tokens": int(calib.numel())},
        "source": {"kv_bytes_per_token": src_bytes, "ppl": ppl_src},
        "conversions": rows,
        "heal": heal_info,
        "decode": decode,
        "summary": {
            "kv_compression": src_bytes / default_bytes,
            "ppl_ratio_one_shot": ppl_one_shot / ppl_src,
            "ppl_ratio_svd_baseline": ppl_svd / ppl_src,
            "ppl_ratio_healed": None if ppl_healed is None else ppl_healed / ppl_src,
            "heal_minutes": heal_info["minutes"],
            "decode_speedup_8k": at8k,
        },
        "seconds": time.perf_counter() - t_start,
    }


def setting_options(setting: Setting) -> Any:
    """The lite profile's converter options (the bench speaks for it), with the setting's cache storage."""
    if setting.cache not in CACHES:
        raise ValueError(f"unknown cache storage {setting.cache!r} ({'|'.join(CACHES)})")
    return replace(lite_convert_options(), latent_int8=setting.cache == "int8")


def _row(setting: Setting, method: str, model: Any, src_bytes: int, ppl: float, ppl_src: float) -> dict:
    """One row of the conversions table."""
    nbytes = m2la_kv_bytes(model)
    return {"kv_rank": setting.kv_rank, "rope_dim": setting.rope_dim, "cache": setting.cache,
            "kv_bytes_per_token": nbytes, "kv_compression": src_bytes / nbytes, "method": method,
            "ppl": ppl, "ppl_ratio": ppl / ppl_src}


def _setting_of(row: dict) -> Setting:
    return Setting(row["kv_rank"], row["rope_dim"], row["cache"])


def _setting(s: str) -> Setting:
    try:
        r, d, *cache = s.split(",")
        if len(cache) > 1 or (cache and cache[0] not in CACHES):
            raise ValueError
        return Setting(int(r), int(d), *cache)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected R,D or R,D,int8 (e.g. 96,32 or 120,64,int8), got {s!r}") from None


def main(argv: list[str]) -> int:
    """Run the benchmark and print one JSON object (with --json) or a short table."""
    p = argparse.ArgumentParser(prog="python -m model bench", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--quick", action="store_true",
                   help="reduced run for CI: 3 settings, 4 windows, 2-min heal, 1K/8K decode")
    p.add_argument("--settings", type=_setting, nargs="+",
                   help="kv_rank,rope_dim[,int8] settings, e.g. 64,32 120,64,int8 (bf16 cache values by default)")
    p.add_argument("--default", type=_setting, help="the setting the summary reports (default: the lite profile's)")
    p.add_argument("--heal-minutes", type=float, help="heal budget (0 skips the heal)")
    p.add_argument("--eval-windows", type=int, help="held-out windows of 512 tokens, evenly spaced (default: all)")
    p.add_argument("--contexts", type=int, nargs="+", help="decode context lengths")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--only", choices=["decode"], help="measure only this part (decode: tokens/s vs transformers)")
    p.add_argument("--decode-steps", type=int, help="timed decode steps per context")
    p.add_argument("--decode-rounds", type=int, help="alternating decode measurements per context (best kept)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="where --only decode runs (cuda: bf16 weights)")
    p.add_argument("--nf4", action="store_true", help="--only decode with both models' linears in nf4")
    p.add_argument("--random-weights", action="store_true",
                   help="--only decode on SmolLM2-135M's shapes with random weights (no GGUF needed)")
    p.add_argument("--cuda-graph", action="store_true",
                   help="with --device cuda: also time our decode step replayed from a CUDA graph")
    args = p.parse_args(argv)
    base = QUICK if args.quick else BenchConfig()
    over = {k: v for k, v in {"settings": tuple(args.settings) if args.settings else None,
                              "default": args.default, "heal_minutes": args.heal_minutes,
                              "eval_windows": args.eval_windows,
                              "contexts": tuple(args.contexts) if args.contexts else None,
                              "threads": args.threads, "only": args.only,
                              "decode_steps": args.decode_steps,
                              "decode_rounds": args.decode_rounds, "device": args.device,
                              "quantize": "nf4" if args.nf4 else None,
                              "random_weights": args.random_weights or None,
                              "cuda_graph": args.cuda_graph or None}.items() if v is not None}
    config = replace(base, **over)
    try:
        result = run(config)
    except (OSError, ValueError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        if "source" in result:
            print(f"source ppl {result['source']['ppl']:.3f}, {result['source']['kv_bytes_per_token']} KV bytes/token")
        for row in result.get("conversions", []):
            print(f"  r={row['kv_rank']:<4} d={row['rope_dim']:<3} {row['cache']:<4} {row['method']:<10} "
                  f"{row['kv_compression']:.2f}x  ppl {row['ppl']:.3f} ({row['ppl_ratio']:.2f}x)")
        for row in result["decode"]:
            print(f"  decode @{row['context']}: {row['transformers_gqa_tps']:.2f} vs {row['m2la_absorbed_tps']:.2f} "
                  f"tok/s ({row['speedup']:.2f}x)")
        print(json.dumps(result["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
