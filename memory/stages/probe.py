"""The probe stage: container and stream facts, and the check that a file is a whole, decodable video.

Duration comes from presentation timestamps (the last packet's end), never from a frame count
divided by a rate. A file that is not video, has no video stream, is empty or truncated raises
one line, and since the probe runs before the video is stored, nothing is written for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error

from memory.decode import DecodeError, reason, open_input, stream_start, video_stream
from memory.stages import StageContext
from memory.store import Store

NAME = "probe"
STILL_FORMATS = ("image2",)  # FFmpeg demuxers of still images, besides every "*_pipe" one (png_pipe, jpeg_pipe)


@dataclass(frozen=True)
class ProbeConfig:
    """What counts as a broken file."""

    max_missing_fraction: float = 0.05  # packets ending this much before the declared duration = truncated
    max_missing_s: float = 1.0          # ... and by at least this many seconds
    decode_frames: int = 3              # frames decoded to prove the stream decodes


def probe_file(path: str | Path, config: ProbeConfig = ProbeConfig()) -> dict[str, Any]:
    """Facts about a video file: duration_s, fps, width, height, rotation, has_audio, codec, ...

    Raises DecodeError (one line) for anything that is not a whole, decodable video.
    """
    p = Path(path)
    name = p.name
    with open_input(p) as container:
        if container.format.name in STILL_FORMATS or container.format.name.endswith("_pipe"):
            # An image renamed .mp4 opens as a 0.04 s "video"; it is refused rather than indexed as one.
            raise DecodeError(f"{name}: a still image, not a video")
        stream = video_stream(container, name)
        start = stream_start(stream)
        tb = stream.time_base
        # Rotation and decodability: decode the first frames (the display matrix rides on them).
        rotation = 0
        width, height = stream.codec_context.width, stream.codec_context.height
        decoded = 0
        try:
            for frame in container.decode(stream):
                rotation = int(frame.rotation or 0)
                width, height = frame.width, frame.height
                decoded += 1
                if decoded >= config.decode_frames:
                    break
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{name}: the video stream does not decode ({reason(exc)})") from None
        if decoded == 0:
            raise DecodeError(f"{name}: no video frame could be decoded")
    # Duration from timestamps: demux every packet (no decoding) and take the latest end.
    with open_input(p) as container:
        stream = video_stream(container, name)
        end_pts = None
        n_packets = 0
        try:
            for pkt in container.demux(stream):
                if pkt.pts is None and pkt.dts is None:
                    continue
                t = pkt.pts if pkt.pts is not None else pkt.dts
                e = t + (pkt.duration or 0)
                end_pts = e if end_pts is None else max(end_pts, e)
                n_packets += 1
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{name}: the file is damaged ({reason(exc)})") from None
        if end_pts is None:
            raise DecodeError(f"{name}: the video stream has no timestamps")
        duration = float(end_pts * tb) - start
        declared = None
        if stream.duration is not None:
            declared = float(stream.duration * tb)
        elif container.duration is not None and not container.streams.audio:
            # The container's duration covers audio too; only trust it for a video-only file.
            declared = container.duration / av.time_base
        if declared and declared - duration > max(config.max_missing_s, config.max_missing_fraction * declared):
            raise DecodeError(f"{name}: the file is truncated ({duration:.1f} s of {declared:.1f} s present)")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else (n_packets / duration if duration > 0 else 0.0)
        if duration <= 0:
            raise DecodeError(f"{name}: the video has no duration")
        return {
            "duration_s": round(duration, 6),
            "fps": round(fps, 6),
            "width": int(width),
            "height": int(height),
            "rotation": rotation,
            "has_audio": any(True for _ in container.streams.audio),
            "codec": stream.codec_context.name,
            "container": container.format.name,
            "packets": n_packets,
            "start_s": start,
        }


def compute(ctx: StageContext) -> dict[str, Any]:
    """Stage entry (worker process): the facts of ctx.path."""
    return probe_file(ctx.path, ProbeConfig(**ctx.config))


def write(store: Store, video_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Stage entry (main process, inside a transaction): the facts onto the video's row."""
    store.update_video(video_id, **{k: result[k] for k in
                                    ("duration_s", "fps", "width", "height", "rotation", "has_audio")})
    return dict(result)
