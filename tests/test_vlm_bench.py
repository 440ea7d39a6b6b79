"""The VLM decode benchmark's tiny CPU form (what CI runs)."""
from __future__ import annotations

import json

from bench.m2la_vlm import TINY, main


def test_tiny_bench_prints_both_decoders_at_every_context(capsys) -> None:
    # through `python -m bench m2la --vlm`, the command the README gives
    from bench.m2la import main as m2la_main

    assert m2la_main(["--vlm", "--json", "--random-weights", "--device", "cpu", "--contexts", "64,160",
                      "--steps", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["shapes"] == "tiny" and [r["context"] for r in out["rows"]] == [64, 160]
    for row in out["rows"]:
        assert row["ours_eager_tok_s"] > 0 and row["transformers_tok_s"] > 0
        assert row["speedup"] == round(row["ours_eager_tok_s"] / row["transformers_tok_s"], 3)
        # fp32: layers x (r + d_rope) x 4 bytes against layers x 2 x kv_heads x head_dim x 4
        assert row["ours_cache_bytes_per_token"] == TINY.layers * (TINY.kv_rank + TINY.d_rope) * 4
        assert row["transformers_cache_bytes_per_token"] == TINY.layers * 2 * TINY.kv_heads * TINY.head_dim * 4


def test_bench_refuses_what_it_cannot_measure(capsys) -> None:
    assert main(["--device", "cpu"]) == 2
    assert main(["--random-weights", "--device", "cpu", "--dtypes", "nf4"]) == 2
    assert "nf4" in capsys.readouterr().err
