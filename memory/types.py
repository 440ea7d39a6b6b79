"""Value types the memory hands to the agent and the UI."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CHANNELS = ("image", "speech", "ocr", "fts")  # every search channel a clip can be matched by


@dataclass(frozen=True)
class Clip:
    """A span of one video that a search returned, with why it matched."""

    video_id: int
    start_s: float
    end_s: float
    score: float                       # fused relevance, higher is better (not a probability)
    sources: tuple[str, ...] = ()      # channels that matched: a subset of CHANNELS
    snippet: str = ""                  # the matching transcript / on-screen text, or "" for image-only hits
    thumb: str | None = None           # absolute path of a JPEG thumbnail inside the data dir
    keyframe_s: float | None = None    # the time of the frame that matched (or the shot's keyframe)
    extra: dict[str, Any] = field(default_factory=dict)  # per-channel scores and ranks

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sources"] = list(self.sources)
        return d
