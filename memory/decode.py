"""Frame access with PyAV: open a file with one-line errors, accurate seeks, rotation applied.

Shared by the keyframe and OCR stages and by the agent's `verify_frame`: every image that leaves
this module is upright (the stream's display matrix applied) and is the frame that is on screen
at the requested time (the last frame whose presentation time is <= t).

A phone video with one bad stretch must stay searchable everywhere else: `open_input` hands out a
`TolerantInput`, whose `decode()` sends packets one at a time and skips the ones the decoder
refuses (FFmpeg's own command line does the same), counting them in `damage`.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
import stat
from pathlib import Path

import av
import av.error
from PIL import Image

from assets.errors import UserError


class DecodeError(UserError, RuntimeError):
    """A file that cannot be read as video; the message is one line for the user."""


@dataclass
class Damage:
    """How much of a stream could not be read, counted while decoding it."""

    packets: int = 0        # packets handed to the decoder
    bad_packets: int = 0    # ... of which the decoder refused this many (their frames are lost)
    cut_short: bool = False  # demuxing stopped at damaged container data before the end

    @property
    def fraction(self) -> float:
        """The share of packets that could not be decoded (0 when none were seen)."""
        return self.bad_packets / self.packets if self.packets else 0.0


class TolerantInput:
    """An opened media file whose `decode(stream)` skips undecodable packets instead of stopping.

    Everything else is the PyAV container's own (`streams`, `demux`, `seek`, `format`, ...).
    """

    def __init__(self, container: av.container.InputContainer, name: str) -> None:
        self._container = container
        self.name = name
        self.damage = Damage()

    def __getattr__(self, attr: str) -> object:
        return getattr(self._container, attr)

    def __enter__(self) -> "TolerantInput":
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def close(self) -> None:
        """Close the file."""
        self._container.close()

    def decode(self, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
        """Frames of `stream` in decoding order; a packet the decoder refuses is counted and skipped."""
        packets = self._container.demux(stream)
        while True:
            try:
                pkt = next(packets)
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError):
                self.damage.cut_short = True  # the rest of the container cannot be parsed
                yield from self._drain(stream)
                return
            if pkt.size:
                self.damage.packets += 1
            try:
                frames = pkt.decode()
            except av.error.FFmpegError:
                if pkt.size:
                    self.damage.bad_packets += 1
                continue
            yield from frames

    def _drain(self, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
        try:
            yield from stream.decode(None)  # the frames still inside the decoder
        except av.error.FFmpegError:
            return


@dataclass(frozen=True)
class DecodeConfig:
    """How frames are fetched."""

    seek_gap_s: float = 4.0   # a target further ahead than this is reached by seeking, nearer by decoding on
    threads: int = 0          # decoder threads; 0 lets FFmpeg choose


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def check_regular_file(path: str | Path) -> Path:
    """The path when it names a non-empty regular file, else DecodeError saying what it is instead."""
    p = Path(path)
    try:
        st = p.stat()
    except (OSError, ValueError):
        raise DecodeError(f"{p.name}: no such file") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
        raise DecodeError(f"{p.name}: not a regular file ({kind})")
    if st.st_size == 0:
        raise DecodeError(f"{p.name}: the file is empty (0 bytes)")
    return p


def open_input(path: str | Path) -> TolerantInput:
    """Open a media file for reading, or raise DecodeError with one line saying why."""
    p = check_regular_file(path)
    try:
        return TolerantInput(av.open(str(p), mode="r"), p.name)
    except (av.error.FFmpegError, OSError, ValueError, MemoryError) as exc:
        # FFmpeg's reasons for refusing a header (even "Device or resource busy") mislead more than help.
        raise DecodeError(f"{p.name}: not a readable video file (unknown format or damaged headers)") from None


def reason(exc: BaseException) -> str:
    """FFmpeg's reason without its file name or errno: 'Invalid data found when processing input'."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    if isinstance(exc, MemoryError):
        return "too large to decode"
    return _one_line(exc).split(": '")[0]


def video_stream(container: TolerantInput, name: str = "") -> av.video.stream.VideoStream:
    """The first video stream (cover art excluded), or DecodeError."""
    for s in container.streams.video:
        # An attached picture (album art) is a one-frame "video" stream that is not the video.
        if s.disposition & av.stream.Disposition.attached_pic:
            continue
        return s
    raise DecodeError(f"{name or 'file'}: has no video stream")


def upright(img: Image.Image, rotation: int) -> Image.Image:
    """Apply a display-matrix rotation (degrees counter-clockwise, PyAV's `frame.rotation`)."""
    r = int(round(rotation / 90.0)) * 90 % 360
    if r == 0:
        return img
    # PIL's rotate is counter-clockwise for positive angles, like the display matrix.
    return img.transpose({90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
                          270: Image.Transpose.ROTATE_270}[r])


def _to_image(frame: av.VideoFrame, max_side: int | None) -> Image.Image:
    rotation = frame.rotation  # read first: a reformatted frame need not carry the display matrix
    w, h = frame.width, frame.height
    if max_side and max(w, h) > max_side:
        scale = max_side / max(w, h)
        # Scaling in swscale before the RGB conversion is far cheaper than PIL on the full frame.
        frame = frame.reformat(width=max(2, round(w * scale)), height=max(2, round(h * scale)),
                               format="rgb24", interpolation="AREA")
    return upright(frame.to_image(), rotation)


def frame_time(frame: av.VideoFrame) -> float | None:
    """The presentation time of a decoded frame in seconds (None when the stream has no timestamps)."""
    return float(frame.time) if frame.time is not None else None


def stream_start(stream: av.video.stream.VideoStream) -> float:
    """The stream's first presentation time in seconds; every time in CiteClip is relative to it."""
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def decode_from(container: TolerantInput, stream: av.video.stream.VideoStream,
                t_s: float) -> Iterator[av.VideoFrame]:
    """Decoded frames starting at or before `t_s` (seconds from the stream start).

    Some containers (MPEG-PS, AVI) land a seek after the target; then seek again further back,
    doubling the margin, until the first decoded frame is not later than the target.
    """
    start = stream_start(stream)
    back = 0.0
    while True:
        target = t_s - back
        try:
            if target <= 0:
                container.seek(0, stream=stream)
            else:
                container.seek(int((target + start) / stream.time_base), stream=stream, backward=True,
                               any_frame=False)
        except av.error.FFmpegError:
            container.seek(0, stream=stream)
            target = 0.0
        it = container.decode(stream)
        first = next(it, None)
        if first is None:
            return
        ft = frame_time(first)
        if ft is None or ft - start <= t_s + 1e-6 or target <= 0:
            yield first
            yield from it
            return
        back = max(1.0, back * 2)


def frames_at(path: str | Path, times: Iterable[float], max_side: int | None = None,
              config: DecodeConfig = DecodeConfig()) -> Iterator[tuple[float, Image.Image]]:
    """Yield (frame time, upright image) for each requested time, in ascending order of the times.

    Each image is the frame on screen at that time: seek to the key frame before it, then decode
    forward. Targets close together are reached by decoding on instead of seeking again.
    """
    targets = sorted(max(0.0, float(t)) for t in times)
    if not targets:
        return
    name = Path(path).name
    with open_input(path) as container:
        stream = video_stream(container, name)
        stream.thread_type = "AUTO"
        if config.threads:
            stream.codec_context.thread_count = config.threads
        start = stream_start(stream)
        it: Iterator[av.VideoFrame] | None = None
        cur: av.VideoFrame | None = None   # the last frame at or before the previous target
        nxt: av.VideoFrame | None = None   # a frame decoded past the previous target, not yet used
        last_t = -1.0                      # time of the last decoded frame
        for t in targets:
            t_abs = t + start
            if it is None or t_abs - last_t > config.seek_gap_s:
                it, cur, nxt = decode_from(container, stream, t), None, None
            try:
                while True:
                    frame, nxt = (nxt, None) if nxt is not None else (next(it, None), None)
                    if frame is None:
                        break
                    ft = frame_time(frame)
                    last_t = ft if ft is not None else last_t
                    if ft is None or ft <= t_abs + 1e-6:
                        cur = frame
                        continue
                    nxt = frame
                    break
            except av.error.FFmpegError as exc:
                if cur is None and nxt is None:
                    raise DecodeError(f"{name}: decoding failed near {t:.2f} s ({reason(exc)})") from None
            chosen = cur if cur is not None else nxt
            if chosen is None:
                raise DecodeError(f"{name}: no frame could be decoded near {t:.2f} s")
            yield _emit(chosen, start, max_side)


def _emit(frame: av.VideoFrame, start: float, max_side: int | None) -> tuple[float, Image.Image]:
    ft = frame_time(frame)
    return (max(0.0, (ft if ft is not None else start) - start), _to_image(frame, max_side))


def frame_at(path: str | Path, t_s: float, max_side: int | None = None) -> Image.Image:
    """The upright frame on screen at `t_s` seconds (accurate seek)."""
    for _, img in frames_at(path, [t_s], max_side=max_side):
        return img
    raise DecodeError(f"{Path(path).name}: no frame at {t_s:.2f} s")


def keyframe_times(path: str | Path) -> list[float]:
    """Times of the key frames (seek points), from packet flags: demuxing only, no decoding.

    Demuxing stops quietly at damaged container data: the key frames before it still serve.
    """
    with open_input(path) as container:
        stream = video_stream(container, Path(path).name)
        start = stream_start(stream)
        out = []
        try:
            for pkt in container.demux(stream):
                if pkt.is_keyframe and pkt.pts is not None:
                    out.append(float(pkt.pts * stream.time_base) - start)
        except (av.error.FFmpegError, OSError):
            pass
        return sorted(out)
