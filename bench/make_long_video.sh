#!/usr/bin/env bash
# Make a long h264 benchmark video from the shared clips vtest.avi (79.5 s, one static shot) and
# cityCC0.mpg (7.6 s, one hard cut), alternated and looped: real decode cost, known cut structure.
#
#   bench/make_long_video.sh OUT.mp4 [SECONDS=3600] [WIDTHxHEIGHT=1280x720] [FPS=25]
#
# One 87.1 s unit is encoded once (libx264, default GOP and B-frames), then the unit is repeated
# with the concat demuxer (stream copy) up to SECONDS, so making an hour takes about a minute.
set -euo pipefail
out=${1:?usage: make_long_video.sh OUT.mp4 [SECONDS] [WxH] [FPS]}
seconds=${2:-3600}
size=${3:-1280x720}
fps=${4:-25}
here=$(cd "$(dirname "$0")" && pwd)
media=${CITECLIP_SHARED_MEDIA:-$here/../../shared/media}
w=${size%x*}
h=${size#*x}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fit="scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=${fps},format=yuv420p"
ffmpeg -v error -nostdin -y -i "$media/vtest.avi" -i "$media/cityCC0.mpg" \
  -filter_complex "[0:v]${fit}[a];[1:v]${fit}[b];[a][b]concat=n=2:v=1:a=0[v]" -map "[v]" \
  -c:v libx264 -preset veryfast -crf 23 -an "$tmp/unit.mp4"
unit=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$tmp/unit.mp4")
n=$(python3 -c "import math,sys; print(math.ceil(float(sys.argv[1]) / float(sys.argv[2])))" "$seconds" "$unit")
for _ in $(seq "$n"); do echo "file '$tmp/unit.mp4'"; done > "$tmp/list.txt"
ffmpeg -v error -nostdin -y -f concat -safe 0 -i "$tmp/list.txt" -t "$seconds" -c copy "$out"
echo "$out: $(ffprobe -v error -show_entries format=duration -of csv=p=0 "$out") s, ${size} at ${fps} fps"
