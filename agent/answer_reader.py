"""The reader of one session: the candidate answers the moments found so far hold, and the check of one.

It reads memory's lines around the best hypotheses (`agent.evidence`), ranks their runs as answers
(`agent.answer.Ranker`) and proposes the best quote of each moment. The check verifies the proposed
answer, not the question: its quoted lines are memory text inside the cited spans, and it answers the
question by the same measure that ranked it, at or above the floor.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent import answer_type, credits, textmatch
from agent.answer import AnswerConfig, Candidate, Embed, Ranker
from agent.evidence import Line, in_memory, lines_near, screen_lines, speech_lines

if TYPE_CHECKING:
    from agent.beliefs import Hypothesis
    from memory.library import Library

Span = tuple[float, float]


@dataclass(frozen=True)
class Proposal:
    """A candidate answer and the moment (hypothesis ref) whose neighbourhood holds it."""

    ref: str
    candidate: Candidate


@dataclass(frozen=True)
class Check:
    """The verdict on a proposed answer at its cited spans."""

    verdict: str                 # supported | refuted
    in_memory: bool              # every quoted line is memory text inside a cited span
    score: float                 # how well it answers the question (the ranking's measure)
    floor: float

    def evidence(self, quote: str) -> str:
        where = "in memory inside the cited span" if self.in_memory else "NOT in memory inside the cited span"
        return (f"the quote is {where}; it answers the question with score {self.score:.2f} "
                f"(floor {self.floor:.2f}): {quote[:200]}")


def minilm(library: Library) -> Embed:
    """MiniLM sentence vectors from the library's models folder (the encoder the index uses)."""
    from memory.text_encoder import embed

    folder = library.data.models_dir
    return lambda texts: embed(texts, folder)


def _overlap(a: Span, b: Span) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


class Reader:
    """Candidate answers of one session's moments, cached per set of moments read."""

    def __init__(self, library: Library, video_id: int, question: str, config: AnswerConfig = AnswerConfig(),
                 embed: Embed | None = None) -> None:
        self.library, self.video_id, self.question, self.config = library, video_id, question, config
        self._embed = embed
        self._ranker: Ranker | None = None
        self._cache: dict[tuple[str, ...], list[Proposal]] = {}
        self._leads: list[Span] | None = None
        self._intros: list[Line] | None = None
        self._credited: list[Line] | None = None
        self._video: tuple[list[Line], list[dict]] | None = None
        self.rejected: set[tuple[Span, ...]] = set()   # spans of lines of answers the check refused

    def _whole_video(self) -> tuple[list[Line], list[dict]]:
        """The video's sentences and its screen-text rows, read from memory once per session."""
        if self._video is None:
            self._video = (speech_lines(self.library.transcript(self.video_id)),
                           self.library.screen_text(self.video_id))
        return self._video

    @property
    def ranker(self) -> Ranker:
        if self._ranker is None:  # MiniLM loads on the first answer read, not when the session opens
            said, shown = self._whole_video()
            texts = [ln.text for ln in said] + [str(r["text"]) for r in shown]
            credited = bool(self.credited())
            host = self.host() if credits.asks_host(self.question) and not credited else None
            intros = frozenset(self.introductions()) if credits.asks_identity(self.question) else frozenset()
            self._ranker = Ranker(self.question, self._embed or minilm(self.library), self.config, texts, host,
                                  credited, intros)
        return self._ranker

    def credited(self) -> list[Line]:
        """The lines crediting the role the question asks about ("Camera ..." for "who filmed it"), read from
        the whole video once."""
        if self._credited is None:
            self._credited = []
            if credits.asks_credit(self.question):
                said, shown = self._whole_video()
                self._credited = [ln for ln in screen_lines(shown) + said if credits.credited(self.question, ln.text)]
        return self._credited

    def introductions(self) -> list[Line]:
        """The lines introducing a person ("Hi, I'm ...", a name card), read from the whole video once."""
        if self._intros is None:
            said, shown = self._whole_video()
            self._intros = credits.introductions(said, screen_lines(shown))
        return self._intros

    def host(self) -> Line | None:
        """The first line introducing a person: the video's host or speaker."""
        return min(self.introductions(), key=lambda ln: ln.start_s, default=None)

    def leads(self) -> list[Span]:
        """Where in the whole video the lines holding this question's kind of answer score best (a licence
        notice, a frequency, an age), for a search there: spans of up to `max_leads` lines scoring within
        `lead_margin` of the floor; none for questions whose kind is not rare enough to scan for. (Leads
        from all lines, for every question, found nothing more on the development set and answered an
        unanswerable question of the held-out set: measured, not kept.)"""
        if self._leads is None:
            self._leads = []
            if self.ranker.host is not None:  # who the video is by: where it introduces them
                self._leads = [(self.ranker.host.start_s, self.ranker.host.end_s)]
            elif self.ranker.credit and self.credited():  # "who filmed it": the credits of that role
                self._leads = [(ln.start_s, ln.end_s) for ln in self.credited()[: self.config.max_leads]]
            elif self.ranker.identity:  # "who is the scientist": the people the video introduces, best first
                self._leads = [(ln.start_s, ln.end_s) for _, ln in self._best(self.introductions())]
            elif self.ranker.channel:  # "what's the channel called": where the video greets its viewers
                said, shown = self._whole_video()
                greets = [ln for ln in said + screen_lines(shown) if answer_type.channel_named(ln.text)]
                self._leads = [(ln.start_s, ln.end_s) for ln in greets[: self.config.max_leads]]
            elif answer_type.scans(self.question):
                said, shown = self._whole_video()
                typed = [ln for ln in said + screen_lines(shown)
                         if answer_type.has_answer(self.ranker.kind, ln.text, self.question)]
                if len(typed) > self.config.max_scan:  # a long video: those sharing most of the question's words
                    typed.sort(key=lambda ln: -textmatch.coverage(self.ranker.terms, ln.text, fuzzy=True))
                best = self._best(typed[: self.config.max_scan])
                notice = self.ranker.kind in answer_type.NOTICES  # a licence, a web address: the answer, however worded
                self._leads = [(ln.start_s, ln.end_s) for score, ln in best
                               if notice or score >= self.config.floor - self.config.lead_margin]
        return self._leads

    def _best(self, lines: list[Line]) -> list[tuple[float, Line]]:
        """The `max_leads` lines answering best by the ranking's measure, with their scores."""
        scores, _ = self.ranker.score_texts([ln.text for ln in lines])
        return sorted(zip(scores.tolist(), lines), key=lambda x: -x[0])[: self.config.max_leads]

    def read(self, hs: Sequence[Hypothesis]) -> list[Proposal]:
        """The candidate answers around these moments, best first, one per run of lines."""
        key = tuple(f"{h.ref}:{h.start_s:.3f}-{h.end_s:.3f}" for h in hs)
        if key not in self._cache:
            lines: list[Line] = []
            for h in hs:
                lines += [ln for ln in lines_near(self.library, self.video_id, h.start_s, h.end_s,
                                                  self.config.evidence) if ln not in lines]
            host = self.ranker.host
            if host is not None:  # the line introducing the video's person, and its card's other lines
                lines += [ln for ln in lines_near(self.library, self.video_id, host.start_s, host.end_s,
                                                  self.config.evidence) + [host] if ln not in lines]
            if self.ranker.title:  # the video's name is on its opening cards, wherever the search went
                opening = screen_lines(self.library.screen_text(self.video_id, 0.0, answer_type.TITLE_S))
                lines += [ln for ln in opening if ln not in lines]
            lines.sort(key=lambda ln: (ln.source, ln.start_s, ln.end_s))
            out, seen = [], set()
            for c in self.ranker.rank(lines):
                if c.lines in seen:
                    continue
                seen.add(c.lines)
                out.append(Proposal(self._home(c, hs), c))
            self._cache[key] = out
        return [p for p in self._cache[key] if self.spans_of(p.candidate) not in self.rejected]

    @staticmethod
    def spans_of(c: Candidate) -> tuple[Span, ...]:
        return tuple((ln.start_s, ln.end_s) for ln in c.lines)

    @staticmethod
    def _home(c: Candidate, hs: Sequence[Hypothesis]) -> str:
        """The moment a candidate belongs to: the one overlapping its lines most (else the nearest)."""
        span = (c.start_s, c.end_s)
        return max(hs, key=lambda h: (_overlap(span, (h.start_s, h.end_s)),
                                      -abs((h.start_s + h.end_s) / 2 - (span[0] + span[1]) / 2))).ref

    def answers(self, proposals: list[Proposal]) -> list[Proposal]:
        """The proposals that reach the floor."""
        return [p for p in proposals if self.ranker.answers(p.candidate, p.candidate.score)]

    def uncovered(self, c: Candidate, spans: Sequence[Span], tolerance_s: float) -> list[Line]:
        """The candidate's lines that no span covers (within the tolerance)."""
        return [ln for ln in c.lines if not any(a - tolerance_s <= ln.start_s and ln.end_s <= b + tolerance_s
                                                or _overlap((ln.start_s, ln.end_s), (a, b)) > 0.5 * (ln.end_s - ln.start_s)
                                                for a, b in spans)]

    def check(self, c: Candidate, spans: Sequence[Span], tolerance_s: float) -> Check:
        """Verify a proposed answer at the cited spans: in memory there, and answering at the floor."""
        held = bool(spans) and in_memory(c.lines, self.library, self.video_id, list(spans), tolerance_s)
        # The whole quote is scored again; a list it extends to may score lower than its core run did.
        whole = float(self.ranker.score_texts([c.quote])[0][0]) - self.config.run_penalty * (len(c.lines) - 1)
        score = max(whole, c.score)
        ok = held and self.ranker.answers(c, score)
        return Check("supported" if ok else "refuted", held, score, self.config.floor)
