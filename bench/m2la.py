"""`python -m bench m2la --json` (also `python -m model bench --json`): M2LA on SmolLM2-135M-Instruct, real weights.

One run measures, against the source model measured in the same run:
- KV-cache bytes per token (all layers; bf16 values, or int8 rows with their scales) of the source GQA and of
  M2LA at each setting;
- perplexity on held-out text (model.convert.corpus) of the source, of each one-shot conversion
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
from dataclasses import asdict, replace
from typing import Any

import torch

from bench.m2la_config import CACHES, QUICK, VALUE_DTYPE, VALUE_BYTES, BenchConfig, Setting, log, setting_options
from bench.m2la_decode import decode_rows, m2la_attention, run_decode_only


def source_kv_bytes(cfg: Any) -> int:
    """GQA cache bytes per token: layers x 2 (K and V) x kv_heads x head_dim x value bytes."""
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return cfg.num_hidden_layers * 2 * cfg.num_key_value_heads * head_dim * VALUE_BYTES


def m2la_kv_bytes(model: Any) -> int:
    """M2LA cache bytes per token (VALUE_BYTES a value, or int8 rows and their scales): what a LatentKVCache
    for the model holds per token."""
    from model.cache import LatentKVCache

    return LatentKVCache.for_model(model, dtype=VALUE_DTYPE).bytes_per_token()


def run(config: BenchConfig) -> dict:
    """Measure everything once (or only decode, with `only="decode"`); returns the JSON-able result."""
    if config.only == "decode":
        return run_decode_only(config)
    if config.device != "cpu" or config.quantize or config.random_weights or config.cuda_graph:
        raise ValueError("--device, --nf4, --random-weights and --cuda-graph apply to --only decode")
    from model.convert import attention_input_moments, convert_model
    from model.convert.corpus import token_windows
    from model.convert.heal import HealConfig, heal
    from model.load import load_gguf_source, smollm2_gguf
    from model.convert.ppl import perplexity

    if config.threads:
        torch.set_num_threads(config.threads)
    t_start = time.perf_counter()
    source, tok = load_gguf_source(smollm2_gguf())
    held = token_windows(tok, "heldout", config.eval_seq, config.eval_windows)
    calib = token_windows(tok, "calib", config.calib_seq, config.calib_windows)
    src_bytes = source_kv_bytes(source.config)
    log("source perplexity")
    ppl_src = perplexity(source, held)
    log(f"source ppl {ppl_src:.3f}; calibration statistics")
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
        log(f"{setting.label()}: ppl {ppl:.3f}")
        if setting == config.default:
            models["default"] = m
    with torch.no_grad():  # MHA2MLA's SVD-joint: no calibration, so every layer at rank r
        svd = convert_model(source, config.default.kv_rank, config.default.rope_dim, method="weight_svd",
                            options=setting_options(config.default))
    ppl_svd = perplexity(svd, held)
    rows.append(_row(config.default, "weight_svd", svd, src_bytes, ppl_svd, ppl_src))
    del svd
    log(f"weight-SVD baseline {config.default.label()}: ppl {ppl_svd:.3f}")
    default = models["default"]
    ppl_one_shot = next(x["ppl"] for x in rows if _setting_of(x) == config.default and x["method"] == "activation")

    heal_info: dict[str, Any] = {"minutes": 0.0}
    ppl_healed = None
    if config.heal_minutes > 0:
        log(f"heal {config.heal_minutes} min")
        train = token_windows(tok, "calib", config.heal_seq, config.heal_windows)
        hc = HealConfig(minutes=config.heal_minutes, seq_len=config.heal_seq)
        rep = heal(default, source, train, hc, log)
        ppl_healed = perplexity(default, held)
        heal_info = {"config": asdict(hc), **asdict(rep), "minutes": rep.seconds / 60,
                     "ppl": ppl_healed, "ppl_ratio": ppl_healed / ppl_src}
        log(f"healed ppl {ppl_healed:.3f}")

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
    """Run the benchmark and print one JSON object (with --json) or a short table; `--vlm` runs the
    vision-language model's decode benchmark instead (bench/m2la_vlm.py, its own options)."""
    if "--vlm" in argv:
        from bench.m2la_vlm import main as vlm_main

        return vlm_main([a for a in argv if a not in ("--vlm", "--json")])
    p = argparse.ArgumentParser(prog="python -m bench m2la", description=__doc__.splitlines()[0])
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
