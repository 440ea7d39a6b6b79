"""Hybrid search: channels rank moments of a video, reciprocal rank fusion merges them into clips.

A channel is a function `(library, video_id, query, k, start_s, end_s) -> list[ChannelHit]`,
best first, registered by name. This module owns the registry and the fusion; the channels register
themselves from the modules beside it: "image" from `memory.image_search`, "speech", "ocr" and
"fts" from `memory.text_search`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Hashable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from memory.types import CHANNELS, Clip

if TYPE_CHECKING:
    from memory.library import Library

T = TypeVar("T")


@dataclass(frozen=True)
class ChannelHit:
    """One moment a channel found, with the channel's own score (higher is better)."""

    start_s: float
    end_s: float
    score: float
    snippet: str = ""                 # the matching text, "" for image hits
    thumb: str | None = None          # absolute path of a JPEG thumbnail
    keyframe_s: float | None = None   # the frame that matched, where there is one


Searcher = Callable[["Library", int, str, int, "float | None", "float | None"], list[ChannelHit]]


@dataclass(frozen=True)
class SearchConfig:
    """How channels are fused and hits merged."""

    rrf_k: float = 60.0           # reciprocal rank fusion constant: 1 / (rrf_k + rank)
    per_channel: int = 4          # each channel is asked for per_channel * k hits (at least min_channel_k)
    min_channel_k: int = 20       # so that fusion sees enough of each channel's list
    same_moment: float = 0.5      # hits overlapping by this share of the shorter one are one moment
    max_clip_s: float = 20.0      # merging never grows a clip beyond this span
    snippet_chars: int = 240      # longest snippet a clip carries


_REGISTRY: dict[str, Searcher] = {}
# Modules that register channels on import; a missing one is simply not there yet.
_PLUGINS = ("memory.image_search", "memory.text_search")
_plugins_loaded = False


def register_channel(name: str, searcher: Searcher) -> None:
    """Make a channel available to `search()` (re-registering a name replaces it)."""
    _REGISTRY[name] = searcher


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for mod in _PLUGINS:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


# Values that several channels of one search need (the query's text vector): see `shared()`.
_per_search: ContextVar[dict[Hashable, Any] | None] = ContextVar("citeclip_search_shared", default=None)


def shared(key: Hashable, make: Callable[[], T]) -> T:
    """A value the channels of the running search share: `make()` runs for the first channel that asks.

    Channels keep the registry's signature, so a value they have in common (the speech and OCR
    channels embed the same query with the same model) is handed over here rather than computed
    once per channel. Outside `search()` (a channel called on its own) it is simply made.
    """
    memo = _per_search.get()
    if memo is None:
        return make()
    if key not in memo:
        memo[key] = make()
    return memo[key]


@dataclass
class _Group:
    start_s: float
    end_s: float
    hits: list[tuple[str, int, ChannelHit, float]] = field(default_factory=list)  # channel, rank, hit, rrf

    def fused(self) -> float:
        # Each channel counts once, with its best rank in the group.
        best: dict[str, float] = {}
        for ch, _, _, rrf in self.hits:
            best[ch] = max(best.get(ch, 0.0), rrf)
        return float(sum(best.values()))


def fuse(ranked: dict[str, list[ChannelHit]], video_id: int, k: int,
         config: SearchConfig = SearchConfig()) -> list[Clip]:
    """Fuse ranked channel lists with RRF, merging hits of the same moment into one clip."""
    scored = [(ch, rank, hit, 1.0 / (config.rrf_k + rank))
              for ch, hits in ranked.items() for rank, hit in enumerate(hits, start=1)]
    scored.sort(key=lambda x: -x[3])
    groups: list[_Group] = []
    for ch, rank, hit, rrf in scored:
        target = None
        for g in groups:
            span = max(g.end_s, hit.end_s) - min(g.start_s, hit.start_s)
            if _same_moment(g, hit, config.same_moment) and span <= config.max_clip_s:
                target = g
                break
        if target is None:
            groups.append(_Group(hit.start_s, hit.end_s, [(ch, rank, hit, rrf)]))
        else:
            target.start_s = min(target.start_s, hit.start_s)
            target.end_s = max(target.end_s, hit.end_s)
            target.hits.append((ch, rank, hit, rrf))
    groups.sort(key=lambda g: (-g.fused(), g.start_s))
    return [_clip(g, video_id, config) for g in groups[:k]]


def _same_moment(g: _Group, hit: ChannelHit, share: float) -> bool:
    # Merging merely adjacent hits chained neighbouring scenes into one wide clip, and a citation is
    # only as precise as its clip: hits join only when they overlap by most of the shorter one.
    overlap = min(g.end_s, hit.end_s) - max(g.start_s, hit.start_s)
    shorter = min(g.end_s - g.start_s, hit.end_s - hit.start_s)
    if shorter <= 0:  # an instant: the same moment when it lies inside the other
        return overlap >= 0
    return overlap >= share * shorter


def _clip(g: _Group, video_id: int, config: SearchConfig) -> Clip:
    sources = tuple(dict.fromkeys(ch for ch, *_ in g.hits))
    snippets: list[str] = []
    for _, _, hit, _ in g.hits:
        if hit.snippet and hit.snippet not in snippets:
            snippets.append(hit.snippet)
    snippet = " … ".join(snippets)
    if len(snippet) > config.snippet_chars:
        snippet = snippet[: config.snippet_chars - 1].rstrip() + "…"
    # The picture of the clip: the best image hit's frame, else the best hit that has one.
    pic = next((h for ch, _, h, _ in g.hits if ch == "image" and h.thumb), None) \
        or next((h for _, _, h, _ in g.hits if h.thumb), None)
    extra: dict[str, Any] = {"channels": {}}
    for ch, rank, hit, _ in g.hits:
        cur = extra["channels"].get(ch)
        if cur is None or rank < cur["rank"]:
            extra["channels"][ch] = {"rank": rank, "score": round(float(hit.score), 6)}
    return Clip(video_id=video_id, start_s=round(g.start_s, 3), end_s=round(g.end_s, 3),
                score=round(g.fused(), 6), sources=sources, snippet=snippet,
                thumb=pic.thumb if pic else None, keyframe_s=pic.keyframe_s if pic else None, extra=extra)


def search(library: Library, video_id: int, query: str, k: int = 5, start_s: float | None = None,
           end_s: float | None = None, channels: Sequence[str] | None = None,
           config: SearchConfig = SearchConfig()) -> list[Clip]:
    """Rank moments of one video for a text query across channels; the top k merged clips."""
    query = (query or "").strip()
    if not query:
        raise ValueError("the query is empty")
    if k < 1:
        raise ValueError("k must be at least 1")
    _load_plugins()
    known = _channel_names()
    names = known if channels is None else list(channels)
    unknown = [n for n in names if n not in _REGISTRY]
    if unknown:
        raise ValueError(f"unknown search channel(s): {', '.join(unknown)} (known: {', '.join(known)})")
    want = max(config.min_channel_k, config.per_channel * k)
    ranked: dict[str, list[ChannelHit]] = {}
    token = _per_search.set({})
    try:
        for name in names:
            hits = _REGISTRY[name](library, video_id, query, want, start_s, end_s)
            hits = [h for h in hits if _in_range(h, start_s, end_s)]
            if hits:
                ranked[name] = hits
    finally:
        _per_search.reset(token)
    clips = fuse(ranked, video_id, k, config)
    return [_with_shot_thumb(library, c) for c in clips]


def _channel_names() -> list[str]:
    """The registered channels, those of `CHANNELS` first in its order (fusion breaks ties by this
    order, so it must not depend on which channel module happened to be imported first)."""
    rank = {name: i for i, name in enumerate(CHANNELS)}
    return sorted(_REGISTRY, key=lambda n: rank.get(n, len(rank)))


def _in_range(hit: ChannelHit, start_s: float | None, end_s: float | None) -> bool:
    if start_s is not None and hit.end_s < start_s:
        return False
    if end_s is not None and hit.start_s > end_s:
        return False
    return True


def _with_shot_thumb(library: Library, clip: Clip) -> Clip:
    """A text-only clip borrows the thumbnail of the shot it falls in."""
    if clip.thumb:
        return clip
    mid = (clip.start_s + clip.end_s) / 2
    shot = library.store.shot_at(clip.video_id, mid)
    if shot is None or not shot["thumb"]:
        return clip
    return replace(clip, thumb=str(library.data.root / shot["thumb"]),
                   keyframe_s=clip.keyframe_s if clip.keyframe_s is not None else shot["keyframe_s"])
