"""Plain text matching used by the agent: key terms of a question (and the search queries and claims built
from them), and how much of a claim a text covers.

Deliberately simple and testable: lower-cased word tokens, a stop list, a light suffix stemmer and a
fuzzy comparison for OCR misreads (difflib) and for words speech recognition mishears (Metaphone, by
jellyfish). No model is involved, so a verdict built on it can be
checked by hand.
"""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence

import jellyfish

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOP = frozenset("""
a an the and or but if then than that this these those there here of to in on at by for with from
into onto about as is are was were be been being am do does did doing done have has had having it its
i me my we our you your he him his she her they them their what which who whom whose when where why
how not no yes so too very can could should would will shall may might must just also only some any
all each every both few more most other such own same s t ok please tell find go goes going went get
gets got
""".split())
# Words that say what kind of answer or which channel is wanted; they rarely occur in the evidence.
META = frozenset("""
video clip clips moment moments time times timestamp scene frame frames narrator speaker voice person
someone somebody mention mentions mentioned mentioning say says said saying talk talks talked talking
speak speaks spoke spoken tell tells told screen shown show shows showed displayed display appear
appears appeared written write writes wrote read reads text caption captions sign label word words
colour color number name named kind type phrase called call calls happen happens happened
""".split())
SCREEN_WORDS = frozenset("screen shown show shows displayed display written caption captions sign label".split())
SPEECH_WORDS = frozenset("narrator speaker voice mention mentions mentioned say says said talk talks talked "
                         "speak speaks spoke spoken".split())


# Irregular verb forms a question and its answer put differently ("when are the clocks wound" / "I wind them").
_IRREGULAR = {form: base for base, forms in (
    ("wind", "wound winds winding"), ("find", "found"), ("keep", "kept"), ("make", "made"), ("eat", "ate eaten"),
    ("feed", "fed"), ("buy", "bought"), ("bring", "brought"), ("build", "built"), ("teach", "taught"),
    ("think", "thought"), ("leave", "left"), ("run", "ran"), ("begin", "began begun"), ("give", "gave given"),
    ("take", "took taken"), ("write", "wrote written"), ("drive", "drove driven"), ("ride", "rode ridden"),
    ("grow", "grew grown"), ("know", "knew known"), ("throw", "threw thrown"), ("fly", "flew flown"),
    ("break", "broke broken"), ("choose", "chose chosen"), ("speak", "spoke spoken"), ("steal", "stole stolen"),
    ("win", "won"), ("sell", "sold"), ("send", "sent"), ("spend", "spent"), ("lose", "lost"), ("pay", "paid"),
    ("hold", "held"), ("meet", "met"), ("sit", "sat"), ("stand", "stood"), ("catch", "caught"), ("fight", "fought"),
    ("hear", "heard"), ("feel", "felt"), ("lead", "led"), ("hang", "hung"), ("dig", "dug"), ("shut", "shut"),
    ("swim", "swam swum"), ("sing", "sang sung"), ("drink", "drank drunk"), ("draw", "drew drawn"),
    ("wear", "wore worn"), ("tear", "tore torn"), ("freeze", "froze frozen"), ("rise", "rose risen"))
    for form in forms.split()}


# Words for one thing that people and videos use interchangeably ("bike" on the question, "Bicycle" on the
# fare board); only true synonyms, never neighbours ("tea" is not "coffee").
_SYNONYMS = {form: base for base, forms in (
    ("bicycle", "bike bikes bicycles cycle cycles"), ("taxi", "cab cabs taxis"), ("film", "movie movies films"),
    ("photo", "photograph photographs photos picture pictures"), ("child", "kid kids children childs"),
    ("mother", "mum mom mothers"), ("father", "dad fathers"), ("television", "tv telly"),
    ("telephone", "phone phones"), ("refrigerator", "fridge"), ("vegetable", "veg veggies vegetables"),
    ("advert", "ad ads advertisement adverts"), ("car", "cars automobile"), ("shop", "store shops stores"))
    for form in forms.split()}


def stem(word: str) -> str:
    """A light suffix stemmer: enough to match plurals and simple verb forms (and common irregular ones)."""
    w = word.split("'")[0]
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if w in _SYNONYMS:
        return _SYNONYMS[w]
    for suffix, repl, min_len in (("ies", "y", 5), ("ing", "", 6), ("ed", "", 5), ("es", "", 5), ("s", "", 4)):
        if w.endswith(suffix) and len(w) >= min_len and not w.endswith("ss"):
            return w[: len(w) - len(suffix)] + repl
    return w


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_tokens(text: str, drop_meta: bool = False) -> list[str]:
    """Stemmed tokens without stop words (and without meta words when asked), in order, unique."""
    seen: list[str] = []
    for w in words(text):
        if w in STOP or (drop_meta and w in META):
            continue
        s = stem(w)
        if s and s not in seen:
            seen.append(s)
    return seen


def key_terms(question: str) -> list[str]:
    """The words of a question that should appear in the evidence (unstemmed, in order)."""
    out: list[str] = []
    for w in words(question):
        w = w.split("'")[0]
        if w in STOP or w in META or w in out:
            continue
        out.append(w)
    return out


def wants_screen(question: str) -> bool:
    return any(w in SCREEN_WORDS for w in words(question))


def wants_speech(question: str) -> bool:
    return any(w in SPEECH_WORDS for w in words(question))


def _present(token: str, pool: set[str], fuzzy: bool) -> bool:
    if token in pool:
        return True
    if not fuzzy or len(token) < 4:
        return False
    return any(abs(len(p) - len(token)) <= 2 and (difflib.SequenceMatcher(None, token, p).ratio() >= 0.8
                                                   or _same_root(token, p)) for p in pool)


def _sounds_alike(word: str, heard: set[str]) -> bool:
    """Whether the word sounds like one of the text's (`heard`: their Metaphone codes): speech recognition
    writes "fence" as "fans". Codes of three sounds or more only: short ones match too much."""
    code = jellyfish.metaphone(word) if len(word) >= 4 else ""
    return len(code) >= 3 and code in heard


def _same_root(a: str, b: str) -> bool:
    """Spellings of one word that the stemmer keeps apart (licence / licensed, colour / colors)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n >= 5 and n >= 0.7 * min(len(a), len(b))


def coverage(claim: str, text: str, fuzzy: bool = False, weights: Mapping[str, float] | None = None) -> float:
    """Share of the claim's content tokens (meta words dropped) found in the text; 0 if the claim has none.
    With `weights` (stemmed token -> weight, e.g. `rarity`), a token counts by its weight."""
    want = content_tokens(claim, drop_meta=True)
    if not want:
        return 0.0
    pool = set(content_tokens(text))
    heard = {jellyfish.metaphone(w) for w in words(text) if len(w) >= 4} if fuzzy else set()
    said = {stem(w): w for w in reversed(words(claim))}  # a token's word as the claim spells it
    w = [1.0 if weights is None else weights.get(t, 1.0) for t in want]
    found = sum(wt for t, wt in zip(want, w) if _present(t, pool, fuzzy) or _sounds_alike(said.get(t, t), heard))
    return found / sum(w) if sum(w) > 0 else 0.0


def rarity(claim: str, texts: Sequence[str]) -> dict[str, float]:
    """A weight per content token of the claim: how rare it is among the texts (inverse document frequency,
    0..1). A video about clocks says "clock" in every other line: that word tells its lines apart least."""
    docs = [set(content_tokens(t)) for t in texts]
    n = len(docs)
    out = {}
    for t in content_tokens(claim, drop_meta=True):
        df = sum(_present(t, d, True) for d in docs)
        out[t] = math.log((n + 1) / (df + 1)) / math.log(n + 1) if n else 1.0
    return out


def quoted(claim: str) -> list[str]:
    """Phrases the claim puts in quotes: on-screen text it expects to read verbatim."""
    return [q.strip() for q in re.findall(r"[\"“']([^\"”']{2,80})[\"”']", claim) if q.strip()]


def query_candidates(question: str) -> list[str]:
    """Search queries built from the question, best first (narrow policies choose among them)."""
    terms = key_terms(question)
    out = [" ".join(terms), question.strip(), " ".join(terms[:2]), " ".join(terms[-2:])]
    # A paraphrased question rarely shares all its terms with the line that answers it: searches are
    # cheap, so every adjacent pair and then each term alone are tried before giving up.
    out += [" ".join(terms[i:i + 2]) for i in range(1, len(terms) - 2)]
    out += terms if len(terms) > 1 else []
    seen: list[str] = []
    for q in out:
        q = " ".join(q.split())[:200]
        if q and q not in seen:
            seen.append(q)
    return seen


def claim_candidates(question: str) -> list[str]:
    """Claims to verify, built from the question's key terms, worded per channel."""
    terms = " ".join(key_terms(question)) or question.strip()
    out = [terms]
    if wants_screen(question):
        out.append(f"the screen shows {terms}")
    if wants_speech(question) or not wants_screen(question):
        out.append(f"the narrator talks about {terms}")
    return [c[:300] for c in out]
