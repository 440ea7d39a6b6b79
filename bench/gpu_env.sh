# Sourced by bench/gpu_check.sh and bench/gpu_vlm.sh: $OUT, unbuffered Python, the wheels the lent CUDA
# machine lacks (bitsandbytes) from .whl/, the repo on PYTHONPATH, and one line of versions in $OUT/$1.
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || exit 1
fi
export PYTHONPATH=".:${PYTHONPATH:-}"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import torch, transformers, bitsandbytes as b; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'transformers', transformers.__version__, 'bitsandbytes', b.__version__)"
  python3 -c "import flash_attn" 2>&1 | tail -1; } | tee "$OUT/$1"
