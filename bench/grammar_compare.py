"""Measures the grammar libraries on one tokenizer: compile time and per-token mask time, as JSON.

`python -m bench.grammar_compare [--gguf PATH]` walks a tool-call document token by token and times
the mask each library computes at every step (llguidance always; xgrammar if importable). This is
how model/grammar.py's library was chosen; the figures go in the report, not in a test.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

TOOL_SCHEMA = {
    "type": "object",
    "properties": {
        "tool": {"enum": ["retrieve_clip", "verify_frame", "answer"]},
        "arguments": {
            "type": "object",
            "properties": {
                "query": {"type": "string"}, "k": {"type": "integer", "minimum": 1, "maximum": 50},
                "start_s": {"type": "number"}, "end_s": {"type": "number"},
            },
            "required": ["query"],
        },
    },
    "required": ["tool", "arguments"],
    "additionalProperties": False,
}
DOC = '{"tool":"retrieve_clip","arguments":{"query":"the moment the red car parks by the gate","k":5,"start_s":12.5}}'


def _llguidance(tok: Any, ids: list[int]) -> dict:
    import llguidance
    from model.grammar import compile_schema, ll_tokenizer

    llt = ll_tokenizer(tok)
    t0 = time.perf_counter()
    m = llguidance.LLMatcher(llt, compile_schema(TOOL_SCHEMA))
    compile_s = time.perf_counter() - t0
    times = []
    for t in ids:
        t0 = time.perf_counter()
        m.compute_bitmask()
        times.append(time.perf_counter() - t0)
        assert m.consume_token(t), m.get_error()
    return {"compile_ms": compile_s * 1e3, "mask_us_median": statistics.median(times) * 1e6,
            "mask_us_max": max(times) * 1e6, "accepting": m.is_accepting()}


def _xgrammar(tok: Any, ids: list[int]) -> dict:
    import xgrammar as xgr

    info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=len(tok))
    t0 = time.perf_counter()
    compiled = xgr.GrammarCompiler(info).compile_json_schema(json.dumps(TOOL_SCHEMA), any_whitespace=False,
                                                             separators=(",", ":"))
    compile_s = time.perf_counter() - t0
    matcher = xgr.GrammarMatcher(compiled)
    bitmask = xgr.allocate_token_bitmask(1, info.vocab_size)
    times = []
    for t in ids:
        t0 = time.perf_counter()
        matcher.fill_next_token_bitmask(bitmask)
        times.append(time.perf_counter() - t0)
        assert matcher.accept_token(t)
    return {"compile_ms": compile_s * 1e3, "mask_us_median": statistics.median(times) * 1e6,
            "mask_us_max": max(times) * 1e6,
            "accepting": matcher.is_terminated() or matcher.accept_token(tok.eos_token_id)}


def main(argv: list[str] | None = None) -> int:
    """Print one JSON object: per library, compile and per-token mask times on the given tokenizer."""
    ap = argparse.ArgumentParser(prog="python -m bench.grammar_compare")
    ap.add_argument("--gguf", help="a GGUF file whose tokenizer to use (default: SmolLM2 from the data dir)")
    args = ap.parse_args(argv)
    from pathlib import Path

    from transformers import AutoTokenizer

    if args.gguf:
        gguf = Path(args.gguf)
    else:
        from model.load import smollm2_gguf
        gguf = smollm2_gguf(None)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    ids = tok(DOC, add_special_tokens=False)["input_ids"]
    out: dict[str, Any] = {"vocab": len(tok), "doc_tokens": len(ids)}
    for name, fn in (("llguidance", _llguidance), ("xgrammar", _xgrammar)):
        try:
            out[name] = fn(tok, ids)
        except ImportError as e:
            out[name] = {"unavailable": str(e)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
