"""`python -m model convert`: a GQA model (local HF directory or GGUF) to an M2LA model directory."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from model.cache import LatentKVCache
from model.convert.gqa import ConvertOptions, convert_model
from model.convert.source import calib_ids_from_text, load_source

DESCRIPTION = "GQA -> M2LA conversion for Llama / Qwen2 / Qwen2-VL(-2.5) text models, and `python -m model convert`."


def main(argv: list[str]) -> int:
    """`python -m model convert SOURCE --kv-rank R --rope-dim D --out DIR [--calib FILE]`."""
    p = argparse.ArgumentParser(prog="python -m model convert", description=DESCRIPTION)
    p.add_argument("source", help="local HF model directory or GGUF file")
    p.add_argument("--kv-rank", type=int, default=None, help="latent width r (default: full, exact)")
    p.add_argument("--rope-dim", type=int, default=None, help="shared RoPE key width (default: all, exact)")
    p.add_argument("--out", required=True, help="output directory for the converted model")
    p.add_argument("--calib", default=None, help="calibration text file (activation-aware conversion)")
    p.add_argument("--method", choices=["activation", "weight_svd"], default="activation")
    p.add_argument("--calib-tokens", type=int, default=32768, help="calibration tokens to use")
    p.add_argument("--seq-len", type=int, default=512, help="calibration row length")
    p.add_argument("--rope-context", type=int, default=None,
                   help="prompt length the model will serve: RoPE pairs are kept by how far they turn within it "
                        "(default: the source's context)")
    p.add_argument("--rank-allocation", choices=["uniform", "spectrum"], default="uniform",
                   help="spectrum: layers get unequal latent ranks by their calibration spectra, kv-rank on average "
                        "(same cache size; needs --calib)")
    p.add_argument("--latent-int8", action="store_true",
                   help="the cache stores int8 latent rows with one fp16 scale each (half the bytes of bf16)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    try:
        if args.rope_context is not None and args.rope_context < 1:
            raise ValueError(f"--rope-context must be a positive number of tokens, got {args.rope_context}")
        if args.rank_allocation == "spectrum" and (not args.calib or args.method != "activation"):
            raise ValueError("--rank-allocation spectrum needs --calib and the activation method")
        t0 = time.perf_counter()
        options = ConvertOptions(rope_context=args.rope_context, rank_allocation=args.rank_allocation,
                                 latent_int8=args.latent_int8)
        from model.vlm.convert import convert_vlm, is_vlm_checkpoint  # lazy: the vision side is heavy

        if is_vlm_checkpoint(Path(args.source)):  # Qwen2.5-VL / Qwen3-VL: vision tower kept, decoder converted
            out = convert_vlm(Path(args.source), Path(args.out), args.kv_rank, args.rope_dim,
                              Path(args.calib) if args.calib else None, args.method, options,
                              args.calib_tokens, args.seq_len)
            print(json.dumps({"out": str(out), "vlm": True, "seconds": round(time.perf_counter() - t0, 2)})
                  if args.json else f"out: {out}")
            return 0
        hf_model, tok = load_source(args.source)
        calib = None
        if args.calib:
            if tok is None:
                raise ValueError(f"--calib needs a tokenizer, and none loads from {args.source}")
            text = Path(args.calib).read_text(encoding="utf-8", errors="replace")
            calib = calib_ids_from_text(tok, text, args.seq_len, args.calib_tokens)
        model = convert_model(hf_model, args.kv_rank, args.rope_dim, calib, args.method,
                              options=options)
        out = model.save_pretrained(args.out)
        if tok is not None:  # so the converted model is usable without the source
            tok.save_pretrained(str(out))
    except (OSError, ValueError) as e:
        print(f"convert: {e}", file=sys.stderr)
        return 1
    attn = model.config.attn
    ranks = [a.kv_rank for a in attn]
    # allocation keeps the total at layers x kv_rank, so the means are whole numbers
    info = {"out": str(out), "layers": model.config.layers, "kv_rank": sum(ranks) // len(ranks),
            "kv_ranks": ranks, "rope_dim": attn[0].d_rope,
            "cache_values_per_token_per_layer": sum(a.kv_rank + a.d_rope for a in attn) // len(attn),
            "cache_bytes_per_token_bf16": LatentKVCache.for_model(model, dtype=torch.bfloat16).bytes_per_token(),
            "method": args.method,
            "calibration_rows": 0 if calib is None else int(calib.shape[0]),
            "seconds": round(time.perf_counter() - t0, 2)}
    print(json.dumps(info) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0
