"""Example questions built from one video's own memory: names shown on screen, topics spoken about.

A video with no readable text and no speech gets no examples (generic ones would be about some other
video). Pure functions of the rows `Library.screen_text` / `Library.transcript` return.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’-]+")
# Capitalised words that are not topics: sentence openers and function words.
_COMMON = frozenset("""
a an and are as at be but by can do for from has have he her here his how i if in into is it its just
let like me my no not now of on or our out she so some than that the their them then there these they
this those to up us was we well what when where which who why will with you your yes okay ok oh hello
hi thanks thank welcome today first next last one two three also after before very really
""".split())


@dataclass(frozen=True)
class SuggestConfig:
    max_questions: int = 4           # examples offered under the question box
    min_ocr_conf: float = 0.6        # on-screen lines read less surely than this are not offered
    max_name_chars: int = 40         # a "name on screen" longer than this is a sentence, not a name
    min_topic_count: int = 2         # a spoken topic must come up at least this often


def screen_names(lines: Sequence[dict[str, Any]], config: SuggestConfig = SuggestConfig()) -> list[str]:
    """Short on-screen lines that read like names or titles, most often shown first."""
    seen: Counter[str] = Counter()
    first: dict[str, float] = {}
    for ln in lines:
        text = " ".join(str(ln.get("text") or "").split())
        conf = ln.get("conf")
        if conf is not None and float(conf) < config.min_ocr_conf:
            continue
        words = _WORD.findall(text)
        if not words or len(text) > config.max_name_chars or len(words) > 5:
            continue
        if sum(len(w) for w in words) < 0.7 * len(text.replace(" ", "")) or not any(w[0].isupper() for w in words):
            continue  # mostly digits or symbols, or no capital: a reading error more often than a name
        seen[text] += 1
        first.setdefault(text, float(ln.get("start_s") or 0.0))
    return sorted(seen, key=lambda t: (-seen[t], first[t]))


def spoken_topics(segments: Sequence[dict[str, Any]], config: SuggestConfig = SuggestConfig()) -> list[str]:
    """Capitalised words said more than once mid-sentence (names, places), most frequent first."""
    counts: Counter[str] = Counter()
    for seg in segments:
        for sentence in re.split(r"[.!?]+\s*", str(seg.get("text") or "")):
            for w in _WORD.findall(sentence)[1:]:  # the first word is capitalised anyway
                w = w.strip("'’-")
                if len(w) > 2 and w[0].isupper() and w.lower() not in _COMMON:
                    counts[w] += 1
    return [w for w, n in counts.most_common() if n >= config.min_topic_count]


def example_questions(screen: Sequence[dict[str, Any]], speech: Sequence[dict[str, Any]],
                      config: SuggestConfig = SuggestConfig()) -> list[str]:
    """Up to `max_questions` questions about what this video shows and says (none when it has neither)."""
    names = screen_names(screen, config)
    topics = [t for t in spoken_topics(speech, config) if not any(t.lower() in n.lower() for n in names[:2])]
    out = [f"When is “{n}” shown on screen?" for n in names[:2]]
    out += [f"What is said about {t}?" for t in topics[:2]]
    if len(out) < config.max_questions and len(names) > 2:
        out += [f"When is “{n}” shown on screen?" for n in names[2: 2 + config.max_questions - len(out)]]
    return out[: config.max_questions]
