#!/usr/bin/env bash
# Fills .whl/ with the wheels a lent CUDA machine lacks (it reaches no package index), for Python 3.12 on
# manylinux, at the versions of this machine's .venv, for one check:
#   bash bench/gpu_wheels.sh m2la    bitsandbytes                   -> bench/gpu_check.sh, bench/gpu_vlm.sh
#   bash bench/gpu_wheels.sh agent   the app's packages it lacks    -> bench/gpu_agent.sh
# then pass carry [".whl"] to the device tool. The two sets together exceed what one call may carry, so
# .whl/ holds one set at a time (the script empties it first).
set -euo pipefail
case "${1:-}" in
  m2la) pkgs="bitsandbytes" ;;
  agent) pkgs="sqlite-utils sqlite-fts4 click click-default-group tabulate pluggy python-dateutil platformdirs psutil
               pysubs2 jellyfish llguidance av faiss-cpu opentimelineio otio-cmx3600-adapter jsonschema
               jsonschema-specifications referencing rpds-py attrs" ;;
  *) echo "usage: bash bench/gpu_wheels.sh m2la|agent" >&2; exit 2 ;;
esac
pins=$(.venv/bin/python - $pkgs <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for name in sys.argv[1:]:
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        print(name)  # not in this venv (bitsandbytes: CUDA only): the newest that fits
PY
)
rm -rf .whl && mkdir -p .whl
platforms=""
for p in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64 manylinux_2_27_x86_64 manylinux_2_28_x86_64 \
         manylinux_2_31_x86_64; do platforms="$platforms --platform $p"; done
# shellcheck disable=SC2086 - word splitting of the lists is meant
pip download -q -d .whl --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $platforms $pins
du -sh .whl
