"""Vocabulary for Whisper from a video's on-screen text: the names the screen spells out.

Speech recognition mishears proper names (people, organisations, places) that the same video often
shows on screen in a title, a lower third or the credits. The speech stage hands these names to
Whisper as a prompt. Only runs of capitalised words of lines read with good confidence are taken:
ordinary words gain nothing from a prompt, and a garbled line would teach Whisper garbage. The
vocabulary is bounded (Whisper's prompt has a hard limit, and a long prompt invites Whisper to
repeat it instead of transcribing).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Capitalised in titles ("Made Possible With Support From") but never a name worth prompting.
_STOP = frozenset("""a an and are as at be by for from in into is it its of on or our the this to
    was we with you your made possible support presented produced directed narrated filmed written
    licensed under music sound design editing camera episode part chapter""".split())
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
_TITLE = re.compile(r"[A-Z][a-z]*(?:['\u2019-][A-Za-z][a-z]*)*")   # Elena, O'Neil, Smith-Jones
_INNER_CAP = re.compile(r"(?:Mc|Mac|De|Van|Le)[A-Z][a-z]+")       # McDonald, DeVries
_CAPS = re.compile(r"[A-Z]{2,}")                                     # BBC, or a title set in capitals
_ACRONYM_LEN = 5                                                     # BBC, NASA: capitals without vowels
_EDGE = "\"'\u2018\u2019\u201c\u201d()[]{}<>.,;:!?\u2026*_|/\\"
_BREAK = (",", ";", ":", "!", "?", ".", "|", "/")               # punctuation that ends a name


@dataclass(frozen=True)
class VocabConfig:
    """Which on-screen words become Whisper's vocabulary."""

    min_conf: float = 0.6        # OCR confidence (0..1) a line needs; lower reads are often misspelt
    min_letters: float = 0.75    # a line whose non-space characters are less than this share letters is garbage
    min_wordlike: float = 0.6    # ... as is one where fewer than this share of its tokens are real-looking words
    max_words: int = 40          # at most this many words in all (Whisper's prompt limit is 224 tokens)
    max_caps_len: int = 4        # a line in capitals with a word longer than this is a title: title-cased


def _wordlike(token: str) -> bool:
    """A token that looks like a word of some language (or an acronym) rather than OCR noise."""
    w = token.strip(_EDGE)
    if len(w) < 2 or not re.sub(r"['\u2019-]", "", w).isalpha() or re.search(r"(.)\1\1", w.lower()):
        return False
    return bool(_VOWEL.search(w)) or (w.isupper() and len(w) <= _ACRONYM_LEN)


def _is_garbage(text: str, config: VocabConfig) -> bool:
    chars = [c for c in text if not c.isspace()]
    if not chars or sum(c.isalpha() for c in chars) / len(chars) < config.min_letters:
        return True
    tokens = text.split()
    return sum(_wordlike(t) for t in tokens) / len(tokens) < config.min_wordlike


def _name_word(token: str, config: VocabConfig) -> str | None:
    """The token as a name word (capitals of a long word title-cased), or None when it is not one."""
    w = token.strip(_EDGE)
    if not _wordlike(w) or w.lower() in _STOP:
        return None
    if _CAPS.fullmatch(w):
        return w
    return w if _TITLE.fullmatch(w) or _INNER_CAP.fullmatch(w) else None


def _readable(row: Mapping[str, object], config: VocabConfig) -> str | None:
    """An OCR row's text when it was read with good confidence and is no garbage, else None."""
    text, conf = str(row.get("text") or ""), row.get("conf")
    if conf is not None and float(conf) < config.min_conf or _is_garbage(text, config):  # type: ignore[arg-type]
        return None
    return text


def names_in_line(text: str, config: VocabConfig = VocabConfig()) -> list[str]:
    """Runs of capitalised words in one line of screen text ("Filmed in Port Merrin" -> ["Port Merrin"]).

    A line that reads as a phrase (it has lower-case words) starts with a capital anyway: its first
    word alone is no name ("Narrated by Jonas Whitfield" keeps "Jonas Whitfield" only).
    """
    tokens = text.split()
    letters = [c for c in text if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and any(len(t.strip(_EDGE)) > config.max_caps_len
                                                              for t in tokens):
        tokens = [t.capitalize() for t in tokens]  # a title set in capitals: its words as names are written
    sentence_like = any(t.strip(_EDGE)[:1].islower() for t in tokens)
    runs: list[tuple[int, list[str]]] = []  # (index of the run's first token, its words)
    open_run = False
    for i, tok in enumerate(tokens):
        word = _name_word(tok, config)
        if word is None:
            open_run = False
            continue
        if not open_run:
            runs.append((i, []))
        runs[-1][1].append(word)
        open_run = not tok.rstrip("\"'\u2019\u201d)]").endswith(_BREAK)
    return [" ".join(ws) for i, ws in runs if not (sentence_like and i == 0 and len(ws) == 1)]


def screen_vocabulary(rows: Iterable[Mapping[str, object]], config: VocabConfig = VocabConfig()) -> list[str]:
    """The names (phrases of capitalised words) of a video's OCR rows, first seen first, each once,
    at most `config.max_words` words in all. `rows` are the `ocr` table's rows: text and conf."""
    seen: set[str] = set()
    words: set[str] = set()
    out: list[str] = []
    budget = config.max_words
    for row in rows:
        text = _readable(row, config)
        if text is None:
            continue
        for name in names_in_line(text, config):
            key = name.lower()
            new = [w for w in key.split() if w not in words]
            if key in seen or not new:
                continue  # every word of it is already in the vocabulary
            n = len(name.split())
            if n > budget:
                return out
            seen.add(key)
            words.update(key.split())
            out.append(name)
            budget -= n
    return out


def vocabulary_text(names: list[str]) -> str:
    """The names as one line for Whisper's prompt ("" when there are none)."""
    return ", ".join(names) + "." if names else ""


def name_spans(rows: Iterable[Mapping[str, object]], names: Iterable[str], config: VocabConfig = VocabConfig()
               ) -> list[tuple[float, float]]:
    """When the screen shows one of `names` as a name card or a credit: the (start_s, end_s) of each OCR
    row, read as `screen_vocabulary` reads it, that has a name with a word of `names`, on the video's
    clock. A line with a number in it ("Bus Route 12", "Parking Level 1", "Exit 16 North") is a sign, a
    label or a date: shown where nobody need be saying it, so its time is not taken."""
    wanted = {w for name in names for w in name.lower().split()}
    out: list[tuple[float, float]] = []
    for row in rows:
        text = _readable(row, config)
        if text is None or any(c.isdigit() for c in text):
            continue
        if any(w in wanted for name in names_in_line(text, config) for w in name.lower().split()):
            out.append((float(row["start_s"]), float(row["end_s"])))  # type: ignore[arg-type]
    return out
