"""The check an upload passes before it is queued: it opens as a video and one frame decodes.

Cheap (the header and the first frames only), so a file that is not a video is refused with one
plain sentence at upload, instead of failing later in the indexing job.
"""
from __future__ import annotations

from pathlib import Path

import av.error

from memory.decode import DecodeError, open_input, video_stream


def unreadable_reason(path: Path, name: str) -> str | None:
    """None when `path` reads as a video; else one sentence about `name` (no error numbers, no paths)."""
    try:
        with open_input(path) as container:
            stream = video_stream(container, name)
            for _frame in container.decode(stream):
                return None
    except DecodeError as exc:
        if "no video stream" in str(exc):
            return f"“{name}” has no video in it, so it was not added."
    except (av.error.FFmpegError, OSError, ValueError, MemoryError):
        pass
    return f"“{name}” is not a video CiteClip can read (not a video file, or a damaged one), so it was not added."
