#!/usr/bin/env bash
# The full profile's agent end to end on a lent CUDA machine: tests/test_vlm_agent.py (the loop, verify_frame's
# frames reaching the vision tower, exports) with the tiny RANDOM vision-language model, now placed on CUDA in
# bf16 (model/vlm/load.py picks CUDA when present). Prints which of the app's packages the machine lacks first;
# wheels it lacks travel in .whl/ as for bench/gpu_check.sh. Logs go to $OUT (or ./gpu-out).
set -uo pipefail
source bench/gpu_env.sh gpu-agent.txt
python3 - <<'PY' 2>&1 | tee "$OUT/agent-imports.txt"
import importlib, sys
print(sys.version.split()[0])
for m in ("torch", "transformers", "numpy", "PIL", "sqlite_utils", "faiss", "av", "llguidance", "jellyfish", "pysubs2",
          "opentimelineio", "jsonschema", "huggingface_hub", "yaml", "regex", "platformdirs", "psutil", "click", "pluggy",
          "tabulate", "accelerate", "kernels", "pandas", "scipy", "safetensors", "tokenizers", "jinja2", "filelock"):
    try:
        importlib.import_module(m)
        print("have", m)
    except Exception as e:  # noqa: BLE001 - a probe: any failure means the package is unusable here
        print("MISSING", m, type(e).__name__)
PY
# Without tesseract or the MiniLM weights on the lent machine (nothing can be fetched there), verify_frame's frame
# OCR reads nothing and answers are ranked with hashed bags of words (each said in the log): what is checked here is
# the VLM on CUDA, not the OCR engine or the text encoder, which the CPU test run covers with the real ones.
timeout 300 python3 - <<'PY' 2>&1 | tee "$OUT/pytest-vlm-agent.log" | tail -15
import shutil, sys
import pytest
if shutil.which("tesseract") is None:
    import memory.stages.ocr
    memory.stages.ocr.read_text = lambda image: []
    print("no tesseract here: verify_frame's frame OCR reads nothing in this run")
try:
    from assets import find_hub_model
    find_hub_model("all-minilm-l6-v2", None)
except Exception:  # noqa: BLE001 - absent weights: the stand-in below, said in the log
    import zlib
    import numpy as np
    import agent.answer_reader

    def hashed(texts):  # [n, 256] L2-normalised bags of hashed words
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, zlib.crc32(w.encode()) % 256] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    agent.answer_reader.minilm = lambda library: hashed
    print("no MiniLM weights here: answers are ranked with hashed bags of words in this run")
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--noconftest", "tests/test_vlm_agent.py"]))
PY
