"""The image channel of hybrid search: shots whose keyframes look like the query says.

The query's text vector (from the library's image-text encoder) is compared with the keyframes'
image vectors in FAISS; each shot counts once, with its best frame. Importing this module registers
the channel with `memory.search`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from memory.search import ChannelHit, register_channel

if TYPE_CHECKING:
    from memory.library import Library


def image_channel(library: Library, video_id: int, query: str, k: int,
                  start_s: float | None, end_s: float | None) -> list[ChannelHit]:
    """Shots whose keyframes' image vectors are nearest to the query's text vector."""
    enc = library.image_encoder()
    if enc is None:
        return []
    # The candidates' shot and frame come with the ids in one query, so that ranking costs no
    # further query per hit (a video has a few keyframes per shot: these rows stay small).
    by_id = library.store.image_candidates(video_id, enc.model_id, start_s, end_s)
    if not by_id:
        return []
    allowed = np.array(list(by_id), dtype=np.int64)
    q = enc.encode_texts([query])  # [1, dim], L2-normalised
    scores, ids = library.index.search("image", enc.model_id, q, min(len(allowed), k * 3), allowed)
    hits: list[ChannelHit] = []
    seen_shots: set[int] = set()
    for vid, score in zip(ids[0].tolist(), scores[0].tolist()):
        row = by_id.get(vid)  # None for FAISS's -1 padding
        if row is None or row[0] in seen_shots:
            continue  # one hit per shot: its best frame
        shot_id, shot_start, shot_end, t_s, thumb = row
        seen_shots.add(shot_id)
        hits.append(ChannelHit(start_s=shot_start, end_s=shot_end, score=float(score),
                               thumb=str(library.data.root / thumb) if thumb else None, keyframe_s=t_s))
        if len(hits) >= k:
            break
    return hits


register_channel("image", image_channel)
