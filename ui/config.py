"""The UI's one configuration object."""
from __future__ import annotations

from dataclasses import dataclass

# Containers PyAV/ffmpeg read and browsers can usually play (mkv/avi may not play in every browser,
# but they index fine and the player says so).
VIDEO_EXTS: tuple[str, ...] = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ts",
                               ".3gp", ".ogv", ".wmv", ".flv")


@dataclass(frozen=True)
class UIConfig:
    max_upload_mb: int = 4096           # upload cap, stated on the page and enforced by Gradio and by us
    video_exts: tuple[str, ...] = VIDEO_EXTS  # accepted upload types
    poll_s: float = 1.0                 # how often the page polls indexing jobs
    replay_step_s: float = 0.2          # pause between steps when replaying a saved session
    gallery_max: int = 48               # evidence frames shown per answer
    model_concurrency: int = 1          # questions answered at once (one model on one device)
    title: str = "CiteClip"             # browser tab title

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024
