"""Answers that read the evidence: rank the runs of lines around the cited moments by how well they answer the
question, and word the best one as a short quote led by the span that answers (a name, a number).

How well a run answers is one measure, used both to choose the quote and to verify it (`agent.gate`):
the MiniLM cosine of the question and the run's text, plus a share of the question's key terms the run
holds, plus a bonus when it holds the kind of answer asked for (`agent.answer_type`), less a little
per extra line (a quote is as short as it can be). A run that announces more ("three kinds of trees")
or whose next sentences continue it ("And ...", "... also ...") is extended with them: a list spoken
over several sentences is quoted whole.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from agent import answer_type as at
from agent import cards, credits, prompts, quantity, textmatch
from agent.evidence import SCREEN, SPEECH, EvidenceConfig, Line, quote, runs

Embed = Callable[[list[str]], np.ndarray]   # texts -> L2-normalised vectors [n, d]

_CONTINUES = re.compile(r"^(and|also|plus|then|but also|as well)\b|^\w+(\s+\w+)?\s+also\b"
                        r"|^(the\s+)?(first|second|third|fourth|fifth|last|final|other|another)\s+(one|is|was|are|"
                        r"were|of)\b", re.IGNORECASE)  # "The first one is for ...", "The second is ..."
# A sentence that goes on from the one before: the last or a later item of a list spoken over several.
_GOES_ON = re.compile(r"^(and|also|plus|then|next|finally|lastly|after that|last of all)\b|^\w+(\s+\w+)?\s+also\b",
                      re.IGNORECASE)
# Words of a spoken aside that say nothing of their own ("Now, here's where it all went wrong").
_FILLER = frozenset("now here there so well okay ok right just then really actually thing things bit lot all".split())
_ANAPHOR = re.compile(r"^(it|its|they|their|this|these|he|she|his|her)\b|^the\s+(\w+)", re.IGNORECASE)
# A sentence that announces what follows: "three kinds of trees", "people ask me how ...", a colon.
_ANNOUNCES = re.compile(r"\b(two|three|four|five|several|2|3|4|5)\s+(\w+\s+)?(kinds|types|things|ways|reasons|"
                        r"changes|ideas|steps|parts|sorts|groups|places|wishes|improvements|requests)\b"
                        r"|\b(ask|asks|asked|wonder|wonders|wondered)\b|[:?]\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class AnswerConfig:
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)  # neighbourhood and run limits
    term_weight: float = 0.25    # added per share of the question's key terms the run holds
    cue_weight: float = 0.15     # added when the run holds the kind of answer asked for
    cue_missing: float = 0.15    # taken when it does not (a "who" question quoted without a name)
    rare_weight: float = 0.5     # the cue grows by this share of itself when no other line holds its kind
    run_penalty: float = 0.03    # taken per line beyond the first
    channel_weight: float = 0.1  # added to a quote from the channel the question names ("on screen", "say")
    label_penalty: float = 0.15  # taken from a card that only labels (a name, a title) when a fact is asked
    subject_penalty: float = 0.3  # taken from a card or row about another thing than the question names
    floor: float = 0.55          # an answer scoring below this does not answer the question
    title_weight: float = 1.0    # added to the opening title card when the question asks what the video is
                                 # called, and to a licence notice when it asks how the video may be used
    intro_weight: float = 0.3    # added to a name card or a self-introduction when the question asks who a
                                 # person the video describes is ("who is the scientist interviewed")
    max_chars: int = 380         # the longest answer text: a lead and a span before the longest quote
    max_leads: int = 2           # lines of the kind asked ("every month", a licence) searched at first
    lead_margin: float = 0.15    # ... when they score at least the floor less this (a lead is a place to look)
    max_scan: int = 300          # lines of that kind scored at most (a long video's numbers)


@dataclass(frozen=True)
class Candidate:
    """A quote that may answer the question: a run of memory lines, its score and its lead span."""

    lines: tuple[Line, ...]
    score: float                 # the relevance measure above
    similarity: float            # its MiniLM part
    lead: str = ""               # the short span that answers, "" when the quote itself is the answer
    typed: bool = True           # it holds the kind of answer asked for (a number for "how many")

    @property
    def start_s(self) -> float:
        return min(ln.start_s for ln in self.lines)

    @property
    def end_s(self) -> float:
        return max(ln.end_s for ln in self.lines)

    @property
    def quote(self) -> str:
        return quote(self.lines)

    def text(self, max_chars: int = 380) -> str:
        """The answer's words: the lead span (when it is not the whole quote), the span, the quote."""
        q = self.quote
        lead = self.lead if self.lead and self.lead.strip(" .").lower() != q.strip(" .").lower() else ""
        body = f'{prompts.fmt_span(self.start_s, self.end_s)}: "{q}"'
        out = f"{lead}. {body}" if lead else body
        return out if len(out) <= max_chars else out[: max_chars - 1].rstrip() + "…\""


class Ranker:
    """Ranks candidate quotes for one question (its vector and kind computed once)."""

    def __init__(self, question: str, embed: Embed, config: AnswerConfig = AnswerConfig(),
                 video_lines: Sequence[str] = (), host: Line | None = None, credited: bool = False,
                 intros: frozenset[Line] = frozenset()) -> None:
        self.question, self.embed, self.config = question, embed, config
        self.kind = at.answer_type(question)
        self.title = at.asks_title(question)
        self.channel = at.asks_channel(question)  # "what's the channel called": the show it greets with
        # "who is giving the talk": the person the video introduces first (`host`, its line) answers
        self.host = host if credits.asks_host(question) else None
        # "who filmed it", "who is the reporter": a credit of that role answers, when the video has one
        self.credit = credits.asks_credit(question) and self.host is None
        self.funder = credits.asks_funder(question)  # "which bank helped pay for the film": its funders' card
        self._funders: set[Line] = set()

        # what a "how many" question counts, or an "is there" question asks about ("is there parking")
        self._things = at.counted(question) or at.asked_thing(question)
        # a quote without the kind of answer asked does not answer: a number for "how many", a name for "what brand"
        self.named = at.needs_name(question)  # "what brand", "which shop": only a thing's own name answers
        self.required = self.kind in at.REQUIRED or self.named
        self._token = at.token_asked(question)  # "what colour", "the discount code": the words that answer
        cue = quantity.cue_words(question) if self.kind == at.NUMBER else set()
        self.terms = " ".join(t for t in textmatch.key_terms(question) if t not in cue)
        # The question's words weighted by how rare they are in this video (`video_lines`: all its lines):
        # a word the whole video says ("clock" in a film about clocks) tells its lines apart least.
        self.weights = textmatch.rarity(self.terms, video_lines) if video_lines else None
        # A kind of answer few lines of this video hold (a frequency, a licence) tells its lines apart: its
        # cue counts more by the share of lines without it (`rare_weight`), as a rare key term counts more.
        self.rare = 0.0
        if video_lines and at.scans(question):
            self.rare = 1.0 - sum(at.has_answer(self.kind, t, question) for t in video_lines) / len(video_lines)
        # "who is the scientist": someone the video introduces, when the question describes them only by words
        # the video never says (else its words find them) and no credit names the role (`credited`)
        self.identity = credits.asks_identity(question) and not credited and self.weights is not None and all(
            self.weights.get(t, 1.0) >= 1.0 for t in textmatch.content_tokens(self.terms, drop_meta=True)
            if t not in credits.WORK_WORDS)
        self.intros = intros  # the video's lines introducing a person (`credits.introductions`)
        # "who founded the collection": the deed asked, which a card naming someone must be about
        plain = self.host is None and not self.credit and not self.funder and not self.identity
        self._deed = credits.deed(question) if plain else ""
        self._asked = set(textmatch.content_tokens(question))
        # the things the video's cards are about ("aurion", "kestrel") and those the question names
        self._card_things = cards.things(video_lines)
        self.subjects = self._asked & self._card_things
        self._q = embed([question])[0]

    def score_texts(self, texts: Sequence[str], sims: Sequence[float] | None = None,
                    about: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(score, similarity) of each text as an answer to the question (`sims`: similarities known already;
        `about`: what each text is about, where more than itself, for the key terms a name's cue needs)."""
        if not texts:
            return np.zeros(0), np.zeros(0)
        sim = np.asarray(self.embed(list(texts)) @ self._q if sims is None else sims, dtype=float)
        c = self.config
        scores = []
        for t, s, topic in zip(texts, sim, about or texts):
            cov = textmatch.coverage(self.terms, topic, fuzzy=True, weights=self.weights) if self.terms else 0.0
            cue = c.cue_weight * (1.0 + c.rare_weight * self.rare) if at.has_answer(self.kind, t, self.question) else (
                0.0 if self.kind in at.BONUS_ONLY else -c.cue_missing)
            if self.kind == at.PERSON and self.terms:
                # a name counts as much as the line is about what the person did ("directed by")
                cue *= 1.0 if credits.role_named(self.question, topic) else cov
            if self._token is not None:  # a colour, a code: the line holds one, or it does not answer
                cue = c.cue_weight if self._token.search(t) else -c.cue_missing
            scores.append(float(s) + c.term_weight * cov + (cue if self.kind != at.THING or self._token else 0.0))
        return np.asarray(scores), sim

    def rank(self, lines: list[Line]) -> list[Candidate]:
        """Candidates best first: each sentence (extended where the speech goes on) and each run of lines of
        one card. A run's similarity is its best line's (a card's name line and role line answer together,
        but the vector of their joined text is a blur); its key terms and answer cue are read over the run."""
        if not lines:
            return []
        sims = dict(zip(lines, (self.embed([ln.text for ln in lines]) @ self._q).tolist()))
        found = [r for r in runs(lines, self.config.evidence) if len(r) == 1 or r[0].source == SCREEN]
        labels = [ln for ln in lines if ln.source == SCREEN and ln.start_s <= at.TITLE_S and at.label(ln.text)]
        title = min(labels, key=lambda ln: ln.start_s, default=None)  # the opening's first label
        if self.funder:
            self._funders = credits.funder_cards([ln for ln in lines if ln.source == SCREEN])
        said = [self._captioned(r, lines) for r in found]
        scores, run_sims = self.score_texts([quote(r) for r in found],
                                            [max(sims[ln] for ln in r + s) for r, s in zip(found, said)],
                                            [" ".join([quote(r)] + [ln.text for ln in s]) for r, s in zip(found, said)])
        scores = scores - self.config.run_penalty * np.asarray([len(r) - 1 for r in found])
        scores = scores + np.asarray([self._channel(r, title) for r in found])
        scores = scores - self.config.subject_penalty * np.asarray(
            [cards.off_subject(r, lines, self.subjects, self._card_things) for r in found], dtype=float)
        out = []
        for i in np.argsort(-scores, kind="stable"):
            run = self.extend(found[int(i)], lines)
            out.append(Candidate(run, float(scores[i]), float(run_sims[i]), self.lead(run, lines),
                                 at.has_answer(self.kind, quote(run), self.question)))
        return out

    def _channel(self, run: tuple[Line, ...], title: Line | None) -> float:
        """A nudge by where the quote comes from: towards on-screen text when the question asks what is
        shown, towards speech when it asks what is said; away from a card that only labels ("Curator,
        Ashby Clock Museum") when the question wants a fact or a number that a sentence states. A title
        question's answer is the opening's first label (`title`), whatever its words: it outranks any line
        that only shares the question's words ("Reported by ..." for "what is this report called")."""
        c, screen = self.config, run[0].source == SCREEN
        if self.title:
            return c.title_weight if screen and title in run and at.label(quote(run)) else 0.0
        if self.channel:  # "Welcome back to Muddy Boots", whatever its words
            return c.title_weight if any(at.channel_named(ln.text) for ln in run) else 0.0
        if self.host is not None:  # the video's own person: the line introducing them, whatever its words
            return c.title_weight if self.host in run and (self.kind != at.ROLE or self._card(run)) else 0.0
        if self.credit and credits.credited(self.question, quote(run)):  # "Camera ..." for "who filmed it"
            return c.title_weight
        if self.funder and screen and set(run) <= self._funders:
            return c.title_weight
        if self.identity and any(ln in self.intros for ln in run):
            return c.intro_weight
        if self.kind in at.NOTICES:  # "can I reuse it?", "website?": a notice of the kind answers, whatever its words
            return c.title_weight if at.has_answer(self.kind, quote(run)) else 0.0
        if textmatch.wants_screen(self.question):
            return c.channel_weight if screen else 0.0
        if textmatch.wants_speech(self.question):
            return 0.0 if screen else c.channel_weight
        if screen and self.kind in (at.THING, at.REASON, at.NUMBER) and all(at.label(ln.text) for ln in run):
            return -c.label_penalty
        return 0.0

    def _card(self, run: tuple[Line, ...]) -> list[Line]:
        """The run's other lines of the host's name card (shown over the same span), not names themselves."""
        h = self.host
        return [ln for ln in run if h is not None and ln != h and ln.source == SCREEN and credits.same_card(ln, h)
                and not credits.introduced(ln.text, spoken=False)]

    def _captioned(self, run: tuple[Line, ...], lines: list[Line]) -> tuple[Line, ...]:
        """The speech a card naming a person captions, when the question asks who someone is or what they do:
        a lower third names whoever starts speaking while it is on screen, for as long as that speech goes
        on without a pause ("the woman who wants more buses" is the nurse her card names)."""
        if run[0].source != SCREEN or self.kind not in (at.PERSON, at.ROLE) or \
                not any(at.people(ln.text) == [ln.text.strip()] for ln in run):  # a line that is a name, no sign
            return ()
        a, b = min(ln.start_s for ln in run), max(ln.end_s for ln in run)
        seq = [ln for ln in lines if ln.source == SPEECH]
        first = next((i for i, ln in enumerate(seq) if min(b, ln.end_s) > max(a, ln.start_s)), None)
        if first is None:
            return ()
        out = [seq[first]]  # the sentence said while the card is up, and those that follow without a pause
        for ln in seq[first + 1:]:
            if ln.start_s - out[-1].end_s > self.config.evidence.speech_gap_s:
                break
            out.append(ln)
        return tuple(out[: self.config.evidence.max_run])

    def answers(self, c: Candidate, score: float) -> bool:
        """Whether a candidate scoring `score` answers: at the floor, holding the kind of answer the question
        requires (a number for "how many", a place for "where", a colour for "what colour", a code for "the
        discount code"), about a thing the video names, and saying something the question does not."""
        return score >= self.config.floor and (c.typed or not self.required) and not self._unnamed(c) \
            and not self.echoes(c.lines) and not (self._token and not self._token.search(c.quote)) \
            and not self._other_thing(c) and not self._not_the_deed(c) and not self._a_person(c)

    def _a_person(self, c: Candidate) -> bool:
        """Whether a name answering "which brand of pan does she use" is a person's, on their name card ("Cook
        and Food Writer | Nadia Karim"): a name alone on a card whose other line is a job is nobody's brand."""
        if not self.named or c.lines[0].source != SCREEN:
            return False
        texts = [ln.text.strip() for ln in c.lines]
        return c.lead in texts and any(t != c.lead and any(at.is_role_word(w) for w in t.split()) for t in texts)

    def _not_the_deed(self, c: Candidate) -> bool:
        """Whether a card answering "who founded the clock collection" only names someone ("Curator, Ashby Clock
        Museum | Margaret Doyle"): it neither says the deed nor is about all that the deed was done to
        ("Volunteer Coordinator" for "who organises the volunteers"). Who holds a job is not who did what the
        question asks; speech that says so still answers."""
        if not self._deed or any(ln.source != SCREEN for ln in c.lines) or \
                textmatch.coverage(self._deed, c.quote, fuzzy=True):
            return False
        deed = textmatch.stem(self._deed)
        rest = " ".join(t for t in textmatch.content_tokens(self.terms, drop_meta=True) if t != deed)
        return not rest or textmatch.coverage(rest, c.quote, fuzzy=True) < 1.0

    def _other_thing(self, c: Candidate) -> bool:
        """Whether a name answering "which company makes the Mirel" is another thing the video's cards are
        about ("Halden", the other product reviewed): a product is not its own maker, shop or brand."""
        named = set(textmatch.content_tokens(c.lead))
        return bool(self.subjects) and self.named and bool(named) \
            and named <= self._card_things - self.subjects

    def echoes(self, run: tuple[Line, ...]) -> bool:
        """Whether the run says nothing the question does not ("Here's where it all went wrong" for "what went
        wrong", a card "THIS WEEK" for "what's on this week"): its answer, if any, is in what follows."""
        said = [t for t in textmatch.content_tokens(quote(run), drop_meta=True) if t not in _FILLER]
        return all(t in self._asked for t in said)

    def _unnamed(self, c: Candidate) -> bool:
        """A "how many X" or "is there X" question whose X this video never mentions, answered by a count of
        something else ("how many calories" by "makes 8 flatbreads") or a line about something else ("is there
        parking" by the opening times): the video does not say."""
        things = self._things
        return bool(things) and self.weights is not None \
            and all(self.weights.get(textmatch.stem(w), 0.0) >= 1.0 for w in things) \
            and not any(textmatch.coverage(w, c.quote, fuzzy=True) for w in things)

    def extend(self, run: tuple[Line, ...], lines: list[Line]) -> tuple[Line, ...]:
        """The run with the sentences it goes on from ("Finally ..." after the items before it), that continue
        it or that it announces (up to the run limits)."""
        ev = self.config.evidence
        seq = [ln for ln in lines if ln.source == run[0].source]
        k = seq.index(run[0])
        while run[0].source == SPEECH and len(run) < ev.max_run and k > 0 and _GOES_ON.search(run[0].text) \
                and run[0].start_s - seq[k - 1].end_s <= ev.speech_gap_s \
                and len(quote((seq[k - 1],) + run)) <= ev.max_chars:
            k -= 1
            run = (seq[k],) + run
        i = seq.index(run[-1]) + 1
        wanted = len(run) + (ev.max_run - 1 if _ANNOUNCES.search(run[-1].text) else 0)
        out = list(run)
        if len(run) == 1 and i < len(seq) and (self._same_subject(run[0], seq[i]) or self.echoes(run)):
            wanted += 1  # the next sentence goes on about what this one named ("... the Greenway Trust. The trust ...")
        while i < len(seq) and len(out) < ev.max_run and len(quote(tuple(out + [seq[i]]))) <= ev.max_chars:
            nxt = seq[i]
            if not (len(out) < wanted or _CONTINUES.search(nxt.text)) or nxt.start_s - out[-1].end_s > ev.speech_gap_s:
                break
            out.append(nxt)
            i += 1
        return tuple(out)

    @staticmethod
    def _same_subject(line: Line, nxt: Line) -> bool:
        """Whether the next sentence refers back to this one's subject (a pronoun, or "the X" for an X it names)."""
        m = _ANAPHOR.match(nxt.text)
        if not m or line.source != SPEECH:
            return False
        return m.group(2) is None or m.group(2).lower() in {w.lower() for w in textmatch.words(line.text)}

    def lead(self, run: tuple[Line, ...], lines: list[Line]) -> str:
        """The short span that answers, from the run's best line holding one ("" when none). A name heard
        in speech is led with its spelling on screen nearby when there is one: speech recognition
        misspells names that lower thirds and credits print."""
        if self.host is not None and self.host in run:  # the host's name, or the job their card prints
            card = self._card(run)
            return credits.introduced(self.host.text, self.host.source == SPEECH) if self.kind == at.PERSON else \
                card[0].text if card else ""
        if self.kind == at.ROLE and run[0].source == SCREEN and len(run) > 1:
            rest = [ln.text for ln in run if not at.people(ln.text)]
            return rest[0] if rest and len(rest) < len(run) else ""
        named = [n for n in (credits.credited(self.question, ln.text) for ln in run) if n] if self.credit else []
        if named:
            return named[0]
        token = [m.group(0) for m in (self._token.search(ln.text) for ln in run) if m] if self._token else []
        if token and self.kind in (at.THING, at.ENTITY):  # "POCKET15" for "the discount code", "blue"
            return token[0]
        for ln in sorted(run, key=lambda x: -textmatch.coverage(self.terms, x.text, fuzzy=True)):
            if self.kind == at.ROLE and ln.source == SPEECH:
                continue  # a job is led by the card that prints it, not by a sentence
            span = at.short_span(self.question, self.kind, ln.text)
            if span and ln.source == SPEECH and self.kind == at.PERSON:
                return self._as_written(span, lines) or span
            if span:  # a card of a role and its name: the name comes from the line after the role's
                return span
        return ""

    @staticmethod
    def _as_written(name: str, lines: list[Line]) -> str:
        """The on-screen spelling of a name heard in speech ("" when no screen line nearby is like it)."""
        best, best_r = "", 0.0
        for ln in lines:
            if ln.source != SCREEN:
                continue
            for shown in at.people(ln.text):
                r = difflib.SequenceMatcher(None, name.lower(), shown.lower()).ratio()
                if r > best_r:
                    best, best_r = shown, r
        return best if best_r >= 0.55 else ""
