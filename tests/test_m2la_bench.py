"""The M2LA benchmark: its reduced CI form on the real SmolLM2 weights (slow: about three minutes), and the
decode-only options the GPU check uses."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SUMMARY_KEYS = {"kv_compression", "ppl_ratio_one_shot", "ppl_ratio_svd_baseline", "ppl_ratio_healed",
                "heal_minutes", "decode_speedup_8k"}


def _bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model", "bench", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def test_decode_only_on_random_weights_needs_no_gguf_and_reports_its_setup():
    """The GPU machine has no GGUF: `--random-weights` times SmolLM2-135M's shapes (here on CPU, nf4)."""
    out = _bench("--only", "decode", "--random-weights", "--nf4", "--contexts", "64", "--decode-steps", "2",
                 "--decode-rounds", "1", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["model"].startswith("SmolLM2-135M-Instruct's shapes, random weights") and "nf4" in result["model"]
    assert result["device"] == "cpu" and result["source_attention"] == "sdpa"
    (row,) = result["decode"]
    assert row["context"] == 64 and row["transformers_gqa_tps"] > 0 and row["m2la_absorbed_tps"] > 0
    assert result["summary"] == {"decode_speedup_8k": None}


@pytest.mark.parametrize("args, message", [
    (["--nf4"], "apply to --only decode"),
    (["--only", "decode", "--device", "cuda", "--random-weights"], "no CUDA device"),
    (["--only", "decode", "--random-weights", "--cuda-graph"], "--cuda-graph needs --device cuda"),
])
def test_bench_refuses_what_it_cannot_do_in_one_line(args, message):
    import torch

    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("CUDA present")
    out = _bench(*args)
    assert out.returncode == 1 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()  # one line, naming the tool
    assert line.startswith("bench: ") and message in line


def test_smollm2_shapes_match_its_gguf():
    from assets import AssetError
    from bench.m2la_config import SMOLLM2_135M_SHAPES
    from model.load import load_gguf_source, smollm2_gguf

    try:
        source, _ = load_gguf_source(smollm2_gguf())
    except AssetError as e:
        pytest.skip(str(e))
    for key, value in SMOLLM2_135M_SHAPES.items():
        got = getattr(source.config, key)
        assert got == pytest.approx(value) if isinstance(value, float) else got == value, key


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_bench_reports_the_summary_and_heal_helps():
    from assets import AssetError
    from model.load import smollm2_gguf

    try:
        smollm2_gguf()
    except AssetError as e:
        pytest.skip(str(e))
    out = _bench("--quick", "--heal-minutes", "1.5", "--threads", "1", "--json", timeout=850)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    s = result["summary"]
    assert set(s) == SUMMARY_KEYS
    # r=120 + d_rope=64 int8 values and a 2-byte scale a layer against 3 KV heads x 64 x (K and V) in bf16
    assert s["kv_compression"] == pytest.approx(23040 / (30 * (120 + 64 + 2)))
    # calibration-aware conversion beats the plain weight SVD at the same budget by far, and both
    # healing stages move the default setting toward the source
    assert s["ppl_ratio_one_shot"] < s["ppl_ratio_svd_baseline"] / 10
    assert 1.0 < s["ppl_ratio_healed"] < s["ppl_ratio_one_shot"]
    # the latent ranks are spread over the layers at the same total (LITE.rank_allocation)
    ranks = next(r["kv_ranks"] for r in result["conversions"] if (r["kv_rank"], r["rope_dim"], r["cache"])
                 == (120, 64, "int8") and r["method"] == "activation")
    assert sum(ranks) == 30 * 120 and len(set(ranks)) > 1
    # at the same cache bytes the bf16 r=64/d=32 one-shot loses to the int8 r=120/d=64 one
    ppl = {(r["kv_rank"], r["cache"]): r["ppl"] for r in result["conversions"] if r["method"] == "activation"}
    assert ppl[(120, "int8")] < ppl[(64, "bf16")]
    heal = result["heal"]
    assert result["corpus"]["heldout_tokens"] == 4 * 512  # --quick: 4 held-out windows
    assert heal["layer_steps"] >= 30 and heal["steps"] >= 1 and heal["layer_error_last"] < heal["layer_error_first"]
    assert [row["context"] for row in result["decode"]] == [1024, 8192]
    assert all(row["transformers_gqa_tps"] > 0 and row["m2la_absorbed_tps"] > 0 for row in result["decode"])
