#!/usr/bin/env bash
# The GPU checks of the M2LA path, in one call on a lent CUDA machine (README, "M2LA on a GPU"):
# the `gpu`-marked tests, then the decode benchmark on CUDA in bf16 and in nf4. Logs and JSON go to
# $OUT (the device tool's folder) or ./gpu-out, then bench/gpu_vlm.sh (the vision-language model). Wheels that
# the machine lacks (bitsandbytes) travel in .whl/.
set -uo pipefail
source bench/gpu_env.sh gpu.txt
# --noconftest: the shared conftest needs the app's packages (sqlite-utils, ...); -m gpu selects the CUDA tests
python3 -m pytest -q -p no:cacheprovider --noconftest -m gpu tests/test_gpu.py tests/test_m2la.py 2>&1 | tee "$OUT/pytest-gpu.log"
# eager decode of both models, and each step replayed from a CUDA graph (--cuda-graph)
for weights in bf16 nf4; do
  flag=$([ $weights = nf4 ] && echo --nf4)
  contexts=$([ $weights = nf4 ] && echo "${NF4_CONTEXTS:-1024 8192}" || echo "${CONTEXTS:-1024 4096 8192 32768 131072}")
  python3 -m bench m2la --only decode --device cuda --random-weights --cuda-graph $flag --contexts $contexts \
    --decode-steps 64 --json > "$OUT/bench-cuda-$weights.json" 2>> "$OUT/bench.log"
  echo "bench $weights: rc=$?"
  grep "decode @" "$OUT/bench.log" | tail -n $((2 * $(wc -w <<< "$contexts")))
done
# the vision-language model: its CUDA/nf4 tests and the decode bench at Qwen3-VL-8B's shapes (8K, 32K, 128K)
bash bench/gpu_vlm.sh
