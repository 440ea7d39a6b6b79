"""The text channels of hybrid search: "speech" and "ocr" (MiniLM vectors in FAISS) and "fts" (SQLite FTS5).

Importing this module registers the three channels with `memory.search` (which imports it as a
plugin). Each channel returns hits of one video, best first, already restricted to the optional
time range, so that the range filter also shapes what the channels rank.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from memory.search import ChannelHit, Searcher, register_channel, shared
from memory.text_encoder import MODEL_ID, embed

if TYPE_CHECKING:
    from memory.library import Library

# Words that carry no meaning for a keyword search; without them, "where is the dog" does not
# match every segment containing "the". FTS5's porter stemmer handles plurals and tenses.
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my no nor not of off on once only or other our ours
out over own same she should so some such than that the their theirs them then there these they this those
through to too under until up very was we were what when where which while who whom why will with would you
your yours show find tell see saw say said video clip scene moment part time
""".split())


@dataclass(frozen=True)
class TextSearchConfig:
    """How the text channels rank."""

    # MiniLM cosine below which a text is taken as unrelated to the query and not returned, so a
    # channel with nothing relevant stays out of the fusion instead of adding its best guess. On the
    # narrated fixture unrelated pairs scored <= 0.31 and paraphrases >= 0.39 (see bench/retrieval.py).
    min_score: float = 0.3
    # FTS is the exact-words channel: a text must hold at least this share of the query's content
    # words. One shared word of a longer question ("closes" in "a restaurant that never closes"
    # against "Boarding Closed") is left to the vector channels instead of outranking them.
    fts_min_coverage: float = 0.5
    # A search inside a time range this short ("what is on screen in the first 20 s") also returns the
    # lines mostly within it, however unlike the query: the range, not the words, says what is wanted.
    window_all_s: float = 30.0


CONFIG = TextSearchConfig()


def _vector_channel(kind: str) -> Searcher:
    """A searcher over the MiniLM vectors of one kind of text ("speech" or "ocr")."""

    def searcher(library: Library, video_id: int, query: str, k: int, start_s: float | None,
                 end_s: float | None) -> list[ChannelHit]:
        by_id = library.store.text_candidates(kind, video_id, MODEL_ID, start_s, end_s)
        if not by_id:
            return []
        # Speech and OCR share the query's vector: one MiniLM pass per search, not one per channel.
        q = shared(("text_query", MODEL_ID, query),
                   lambda: embed([query], library.data.models_dir))  # [1, 384]
        allowed = np.array(list(by_id), dtype=np.int64)
        scores, ids = library.index.search(kind, MODEL_ID, q, min(k, len(allowed)), allowed)
        short = start_s is not None and end_s is not None and end_s - start_s <= CONFIG.window_all_s
        hits = []
        for vid, score in zip(ids[0].tolist(), scores[0].tolist()):
            row = by_id.get(vid)
            if row is None:
                continue
            a, b = float(row[0]), float(row[1])
            inside = short and min(b, end_s) - max(a, start_s) >= 0.5 * (b - a)  # mostly within the short range
            if score >= CONFIG.min_score or inside:
                hits.append(ChannelHit(start_s=float(row[0]), end_s=float(row[1]), score=float(score), snippet=row[2]))
        return hits

    searcher.__name__ = f"{kind}_channel"
    return searcher


def _terms(text: str) -> list[str]:
    """The query's content words, lower-cased, in order, without repeats."""
    return list(dict.fromkeys(w for w in re.findall(r"[^\W_]+", text.lower()) if w not in STOPWORDS))


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts_query(text: str) -> str | None:
    """A safe FTS5 query for free text: its content words, each quoted, joined with OR.

    Quoting every term means no user text can be read as FTS5 syntax (NEAR, AND, column filters,
    unbalanced quotes, `*`, `^`); None when nothing searchable is left.
    """
    terms = _terms(text)
    return " OR ".join(_quote(t) for t in terms) if terms else None


def fts_channel(library: Library, video_id: int, query: str, k: int, start_s: float | None,
                end_s: float | None) -> list[ChannelHit]:
    """Speech segments and OCR lines that contain the query's words, ranked by BM25 over both."""
    match = fts_query(query)
    if match is None:
        return []
    terms = _terms(query)
    need = max(1, math.ceil(CONFIG.fts_min_coverage * len(terms)))
    hits: list[tuple[float, ChannelHit]] = []
    for kind in ("speech", "ocr"):
        rows = library.store.fts_matches(kind, match, video_id, int(k) * 4, start_s, end_s)
        if not rows:
            continue
        covered = {r[0]: 0 for r in rows}
        if need > 1:  # count the query words each candidate holds (FTS5 applies the same stemming)
            for term in terms:
                for rowid in library.store.fts_subset(kind, _quote(term), list(covered)):
                    covered[rowid] += 1
        for rid, start, end, text, rank in rows:
            if need > 1 and covered[rid] < need:
                continue
            # bm25() is lower-is-better; the hit's score is its negation so that higher is better.
            hits.append((float(rank), ChannelHit(start_s=float(start), end_s=float(end), score=-float(rank),
                                                  snippet=text)))
    hits.sort(key=lambda x: x[0])
    return [h for _, h in hits[:k]]


speech_channel = _vector_channel("speech")
ocr_channel = _vector_channel("ocr")

register_channel("speech", speech_channel)
register_channel("ocr", ocr_channel)
register_channel("fts", fts_channel)
