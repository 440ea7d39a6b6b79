#!/usr/bin/env bash
# The GPU checks of the M2LA path, in one call on a lent CUDA machine (README, "M2LA on a GPU"):
# the `gpu`-marked tests, then the decode benchmark on CUDA in bf16 and in nf4. Logs and JSON go to
# $OUT (the device tool's folder) or ./gpu-out. Wheels that the machine lacks (bitsandbytes) travel in .whl/.
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || exit 1
fi
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import torch, transformers, bitsandbytes as b; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'transformers', transformers.__version__, 'bitsandbytes', b.__version__)"
  python3 -c "import flash_attn" 2>&1 | tail -1; } | tee "$OUT/gpu.txt"
# --noconftest: the shared conftest needs the app's packages (sqlite-utils, ...); -m gpu selects the CUDA tests
python3 -m pytest -q -p no:cacheprovider --noconftest -m gpu tests/test_gpu.py tests/test_m2la.py 2>&1 | tee "$OUT/pytest-gpu.log"
# eager decode of both models, and each step replayed from a CUDA graph (--cuda-graph)
for weights in bf16 nf4; do
  flag=$([ $weights = nf4 ] && echo --nf4)
  contexts=$([ $weights = nf4 ] && echo "${NF4_CONTEXTS:-1024 8192}" || echo "${CONTEXTS:-1024 4096 8192 32768 131072}")
  python3 -m model bench --only decode --device cuda --random-weights --cuda-graph $flag --contexts $contexts \
    --decode-steps 64 --json > "$OUT/bench-cuda-$weights.json" 2>> "$OUT/bench.log"
  echo "bench $weights: rc=$?"
  grep "decode @" "$OUT/bench.log" | tail -n $((2 * $(wc -w <<< "$contexts")))
done
