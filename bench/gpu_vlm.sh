#!/usr/bin/env bash
# The M2LA vision-language checks on a lent CUDA machine, in one call (about 6 minutes on one H200): the VLM tests
# on CUDA (the gpu-marked ones: bf16 parity, CUDA-graph decode, nf4) and on the CPU path, then the decode bench at
# Qwen3-VL-8B's shapes with random weights at 8K/32K/128K in bf16 and nf4. Logs and JSON go to $OUT (or ./gpu-out).
# Wheels the machine lacks (bitsandbytes) travel in .whl/, as for bench/gpu_check.sh. Each step has its own timeout.
set -uo pipefail
source bench/gpu_env.sh gpu-vlm.txt
# --noconftest: the shared conftest needs the app's packages; -m gpu selects the CUDA tests, then the CPU ones
timeout 120 python3 -m pytest -q -p no:cacheprovider --noconftest -m gpu tests/test_vlm_gpu.py 2>&1 \
  | tee "$OUT/pytest-vlm-gpu.log"
timeout 90 python3 -m pytest -q -p no:cacheprovider --noconftest -m "not gpu" tests/test_vlm.py \
  tests/test_vlm_internvideo3.py tests/test_vlm_bench.py 2>&1 | tee "$OUT/pytest-vlm-cpu.log"
for weights in bf16 nf4; do
  timeout 150 python3 -m bench.m2la_vlm --random-weights --device cuda --dtypes $weights \
    --contexts "${VLM_CONTEXTS:-8192,32768,131072}" --steps "${VLM_STEPS:-32}" > "$OUT/bench-vlm-$weights.json" 2>> "$OUT/bench-vlm.log"
  echo "bench $weights: rc=$?" | tee -a "$OUT/bench-vlm.log"
  python3 -c "import json,sys; [print(r) for r in json.load(open(sys.argv[1]))['rows']]" "$OUT/bench-vlm-$weights.json" 2>&1 | tail -3
done
