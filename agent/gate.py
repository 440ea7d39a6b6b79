"""The verification gate and citation resolution: what an answer may cite, and what a budget stop answers.

Every citation must name a clip a tool returned (a ref, or a span that matches one); anything else is
removed, and so is every time written in the text that no returned clip covers. Each cited clip must
have been verified as supporting, or the gate verifies it first. At a budget the loop answers with
what is best supported (verified, else marked unverified) or says it found no evidence.

The pieces are small functions (resolve, scrub, quote, compose) so that how answers are worded and
checked can change one piece at a time; `Gate` runs them in order and records what it did.
"""
from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from agent import prompts, textmatch
from agent.answer import AnswerConfig, Candidate
from agent.answer_reader import Proposal, Reader
from agent.beliefs import Beliefs, Hypothesis
from agent.context import AnswerEvent, Event, VerificationEvent
from agent.tools import RetrieveClip, VerifyFrame

if TYPE_CHECKING:
    from memory.library import Library

Clips = Mapping[str, dict[str, Any]]   # ref -> a clip a tool returned
E = TypeVar("E", bound=Event)

_REF = re.compile(r"^c[0-9]{1,4}$")
_CLOCK = re.compile(r"\b(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:\.\d+)?\b")
_SECONDS = re.compile(r"\b(\d+(?:\.\d+)?)\s?(?:s|secs?|seconds?)\b", re.IGNORECASE)
TIME_REMOVED = "[time removed]"


@dataclass(frozen=True)
class GateConfig:
    max_citations: int = 4             # citations kept per answer (a quote of max_run lines is cited whole)
    time_tolerance_s: float = 1.0      # a time written in an answer within this of a returned clip is backed
    read_top: int = 5                  # moments (best hypotheses) whose neighbourhoods are read for answers
    not_found_margin: float = 0.12     # below floor minus this, the best quote is no answer at all: not_found


# -- citations ------------------------------------------------------------------------------------
def raw_citations(args: dict[str, Any]) -> list[Any]:
    """The citations an answer action gives: its list, or the one clip a narrow choice names."""
    cites = args.get("citations")
    if cites is None and "clip" in args:
        cites = [args["clip"]]
    return cites if isinstance(cites, list) else []


def resolve(cite: Any, clips: Clips, tolerance_s: float) -> str | None:
    """The ref of the returned clip a citation names (a ref, or a span matching one), or None."""
    if isinstance(cite, dict) and isinstance(cite.get("ref"), str):
        cite = cite["ref"]
    if isinstance(cite, str):
        return cite if _REF.match(cite) and cite in clips else None
    if not isinstance(cite, dict):
        return None
    try:
        a, b = float(cite["start_s"]), float(cite["end_s"])
    except (KeyError, TypeError, ValueError):
        return None
    best, best_iou = None, 0.0
    for ref, c in clips.items():
        inter = min(b, c["end_s"]) - max(a, c["start_s"])
        union = max(b, c["end_s"]) - min(a, c["start_s"])
        iou = inter / union if union > 0 else 0.0
        inside = c["start_s"] - tolerance_s <= a and b <= c["end_s"] + tolerance_s and b > a
        if (iou >= 0.5 or inside) and max(iou, 0.5 if inside else 0.0) > best_iou:
            best, best_iou = ref, max(iou, 0.5 if inside else 0.0)
    return best


def cited_refs(raw: list[Any], clips: Clips, beliefs: Beliefs, tolerance_s: float) -> tuple[list[str], list[str]]:
    """The distinct refs the citations name (a moment's first ref for its aliases), and the citations removed."""
    refs: list[str] = []
    removed: list[str] = []
    for c in raw:
        ref = resolve(c, clips, tolerance_s)
        if ref is None:
            removed.append(str(c)[:80])
            continue
        h = beliefs.by_ref(ref)
        ref = h.ref if h else ref
        if ref not in refs:
            refs.append(ref)
    return refs, removed


def scrub_times(text: str, clips: Clips, tolerance_s: float) -> tuple[str, list[str]]:
    """Remove times written in the answer that no returned clip covers; returns (text, the removed times)."""
    spans = [(c["start_s"] - tolerance_s, c["end_s"] + tolerance_s) for c in clips.values()]
    removed: list[str] = []

    def keep_if_backed(m: re.Match[str], t: float) -> str:
        if any(a <= t <= b for a, b in spans):
            return m.group(0)
        removed.append(m.group(0))
        return TIME_REMOVED

    text = _CLOCK.sub(lambda m: keep_if_backed(m, int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60
                                                + int(m.group(3))), text)
    text = _SECONDS.sub(lambda m: keep_if_backed(m, float(m.group(1))), text)
    return text, removed


def citation(h: Hypothesis) -> dict[str, Any]:
    """The citation of a hypothesis, as answers and exports carry it."""
    return {"video_id": h.video_id, "start_s": round(h.start_s, 3), "end_s": round(h.end_s, 3),
            "confidence": round(h.confidence, 4), "evidence": sorted(set(h.supporting))}


def claim_for(text: str, question: str) -> str:
    """The claim the gate verifies: the answer's words when it has any, else the question's key terms."""
    if textmatch.content_tokens(text, drop_meta=True):
        return text[:300]
    return textmatch.claim_candidates(question)[0]


# -- wording --------------------------------------------------------------------------------------
def compose(hs: list[Hypothesis], reader: Reader) -> str:
    """Each clip's best answering quote from its neighbourhood (or the clip marked a visual match)."""
    parts = []
    for h in hs:
        found = reader.read([h])
        parts.append(found[0].candidate.text() if found else f"{prompts.fmt_span(h.start_s, h.end_s)} (visual match)")
    return " ".join(parts)


# -- the gate -------------------------------------------------------------------------------------
class Recorder(Protocol):
    """What the gate needs from the loop: record events, run a tool call, close the session."""

    def emit(self, event: E) -> E: ...

    def observe(self, text: str) -> Event: ...

    def call(self, name: str, args: dict[str, Any]) -> Generator[Event, None, Event | None]: ...

    def tools_left(self) -> bool: ...

    def finish(self, answer: AnswerEvent) -> None: ...


class Gate:
    """Checks the answers of one session against the clips its tools returned and the beliefs built on them.

    An open policy writes its answer; the gate verifies the cited clips with verify_frame, the answer's
    words as the claim. A narrow policy chooses a moment; the gate quotes the best answer its
    neighbourhood holds (`agent.answer_reader`) and verifies that answer at the spans it cites.
    """

    def __init__(self, library: Library, video_id: int, question: str, clips: Clips, beliefs: Beliefs,
                 config: GateConfig, quotes_clips: bool, answer: AnswerConfig | None = None,
                 reader: Reader | None = None) -> None:
        self.library, self.video_id, self.question = library, video_id, question
        self.clips, self.beliefs, self.config = clips, beliefs, config
        self.quotes_clips = quotes_clips   # the answer is the cited moments' own best quote
        self.reader = reader or Reader(library, video_id, question, answer or AnswerConfig())
        self.checks = 0                    # answers the gate verified (supported or not)

    def compose(self, hs: list[Hypothesis]) -> str:
        return compose(hs, self.reader)

    def proposals(self) -> list[Proposal]:
        """Candidate answers around the best unrefuted moments, best first (rejected ones left out)."""
        hs = [h for h in self.beliefs.ranked() if not h.refuting][: self.config.read_top]
        return self.reader.read(hs) if hs else []

    def answer(self, args: dict[str, Any], run: Recorder) -> Generator[Event, None, bool]:
        """Check an answer action; True when the session ended with it, False when the loop goes on."""
        started = time.time()
        raw = raw_citations(args)
        text = str(args.get("text", "")).strip()[:1000]
        refs, removed = cited_refs(raw, self.clips, self.beliefs, self.config.time_tolerance_s)
        text, times = scrub_times(text, self.clips, self.config.time_tolerance_s)
        if removed or times:
            yield run.observe("removed from the answer because no tool returned them: "
                              + "; ".join([f"citation {r}" for r in removed] + [f"time {t}" for t in times]))
        if not raw:
            a = run.emit(AnswerEvent(text=text or prompts.NOT_FOUND, status="not_found", citations=[],
                                     started=started))
            run.finish(a)
            yield a
            return True
        if not refs:
            yield run.observe("answer rejected: none of its citations is a clip a tool returned")
            return False
        if self.quotes_clips:
            return (yield from self._quoted(refs[0], run, started))
        kept = yield from self._verified(refs, text, run)
        if not kept:
            yield run.observe("answer rejected: no cited clip survived verification")
            return False
        text = text or self.compose(kept)
        a = run.emit(AnswerEvent(text=text.strip(), status="answered", citations=[citation(h) for h in kept],
                                 started=started, spans=[(h.start_s, h.end_s) for h in kept]))
        run.finish(a)
        yield a
        return True

    def _verified(self, refs: list[str], text: str, run: Recorder) -> Generator[Event, None, list[Hypothesis]]:
        """The cited hypotheses a verification supports, verifying the unchecked ones first."""
        kept: list[Hypothesis] = []
        for ref in refs[: self.config.max_citations]:
            h = self.beliefs.by_ref(ref)
            if h is not None and not (h.verified and not h.refuting) and not h.checked and run.tools_left():
                yield run.observe(f"{ref} is cited but not verified: verifying it first")
                yield from run.call(VerifyFrame.name, {"clip": ref, "claim": claim_for(text, self.question)})
                h = self.beliefs.by_ref(ref)
            if h is not None and h.verified and not h.refuting:
                kept.append(h)
            else:
                yield run.observe(f"{ref} dropped from the answer: no verification supports it")
        return kept

    # -- a narrow policy's answer: the best quote of the chosen moment, verified where it is cited ------
    def _quoted(self, ref: str, run: Recorder, started: float) -> Generator[Event, None, bool]:
        h = self.beliefs.by_ref(ref)
        mine = [p for p in self.proposals() if h is not None and p.ref == h.ref]
        if h is None or not mine:
            yield run.observe(f"answer rejected: nothing around {ref} answers the question")
            return False
        # the moment's best quote that answers (the planner chose the moment for it), not one scoring higher
        # without the kind of answer asked (a sentence about "a discount code" beside the card printing it)
        c = (self.reader.answers(mine) or mine)[0].candidate
        return (yield from self._checked(c, ref, run, started))

    def _checked(self, c: Candidate, ref: str, run: Recorder, started: float) -> Generator[Event, None, bool]:
        """Verify a quote at the clips that cover it and answer with it when supported (False when refuted)."""
        cited = yield from self._backing(c, run)
        check = self.reader.check(c, [(x.start_s, x.end_s) for x in cited], self.config.time_tolerance_s)
        self.checks += 1
        v = run.emit(VerificationEvent(t_s=c.start_s, claim=c.quote[:300], verdict=check.verdict,
                                       methods=["memory", "relevance"], evidence=check.evidence(c.quote),
                                       ref=cited[0].ref if cited else ref, started=started,
                                       scores={"memory": float(check.in_memory), "relevance": round(check.score, 4)},
                                       spans=[(x.start_s, x.end_s) for x in cited]))
        yield v
        for x in cited:
            self.beliefs.add_verification(v.n, x.ref, x.start_s, self.video_id, check.verdict)
        if check.verdict != "supported":
            self.reader.rejected.add(self.reader.spans_of(c))
            yield run.observe("answer rejected: the quote does not answer the question at its moment")
            return False
        a = run.emit(AnswerEvent(text=c.text(self.reader.config.max_chars), status="answered",
                                 citations=[citation(x) for x in cited], started=started,
                                 spans=[(x.start_s, x.end_s) for x in cited], relevance=round(check.score, 4)))
        run.finish(a)
        yield a
        return True

    def _covering(self, c: Candidate) -> list[Hypothesis]:
        """Returned moments that cover the candidate's lines: for each line, the one overlapping it most."""
        out: list[Hypothesis] = []
        tol = self.config.time_tolerance_s
        for ln in c.lines:
            best = max(self.beliefs.hypotheses, default=None,
                       key=lambda h: min(h.end_s + tol, ln.end_s) - max(h.start_s - tol, ln.start_s))
            # ">= 0": a card read on one frame is a line of zero length, covered when it lies inside the clip
            if best is not None and min(best.end_s + tol, ln.end_s) - max(best.start_s - tol, ln.start_s) >= 0 \
                    and best not in out:
                out.append(best)
        return out[: self.config.max_citations]

    def _backing(self, c: Candidate, run: Recorder) -> Generator[Event, None, list[Hypothesis]]:
        """The returned clips to cite for a quote; when lines of it lie outside them (a neighbour of the
        moment), a retrieval over the quote's own span first returns the clips that hold them."""
        cited = self._covering(c)
        spans = [(h.start_s, h.end_s) for h in cited]
        if self.reader.uncovered(c, spans, self.config.time_tolerance_s) and run.tools_left():
            yield run.observe("the quote reaches beyond the retrieved clip: retrieving its own span")
            yield from run.call(RetrieveClip.name, {"query": c.quote[:200], "start_s": round(c.start_s, 3),
                                                    "end_s": round(max(c.end_s, c.start_s + 1.0), 3)})
            cited = self._covering(c)
        return cited

    # -- the end --------------------------------------------------------------------------------------
    def final(self, reason: str, run: Recorder) -> Iterator[Event]:
        """The answer at a budget (or when nothing is left to try): best supported, else unverified with the
        true reason, else none."""
        yield run.observe(f"stopping: {reason}")
        supported = self.beliefs.supported()
        open_ = [h for h in self.beliefs.ranked() if not h.refuting]
        found = self.proposals() if self.quotes_clips else []
        near = [p for p in found if p.candidate.score >= self.reader.config.floor - self.config.not_found_margin]
        if self.reader.ranker.required:  # a number for "how often", else the closest line
            near.sort(key=lambda p: not p.candidate.typed)
        best: list[Hypothesis] = []
        why = ""
        if supported and not self.quotes_clips:
            best = supported[:1]
            a = AnswerEvent(text=self.compose(best), status="answered", citations=[citation(h) for h in best])
        elif self.quotes_clips and near:
            c = near[0].candidate
            unchecked = self.reader.ranker.answers(c, c.score) and self.reader.spans_of(c) not in self.reader.rejected
            # the best quote answers but the loop stopped before it was checked: the check needs no tool call
            if unchecked and (yield from self._checked(c, near[0].ref, run, time.time())):
                return
            best = self._covering(c) or [h for h in open_ if h.ref == near[0].ref]
            why = "nothing supported it: the closest evidence found does not answer the question"
            a = AnswerEvent(text=f"{prompts.UNVERIFIED_PREFIX} {c.text(self.reader.config.max_chars)}",
                            status="unverified", citations=[citation(h) for h in best], reason=why,
                            relevance=round(c.score, 4))
        elif open_ and not self.quotes_clips:
            best = open_[:1]
            checked = any(h.checked for h in self.beliefs.hypotheses)
            why = ("nothing supported it: no verification of the moments found supported the answer" if checked
                   else f"{reason} before verification")
            a = AnswerEvent(text=f"{prompts.UNVERIFIED_PREFIX} {self.compose(best)}", status="unverified",
                            citations=[citation(h) for h in best], reason=why)
        else:
            a = AnswerEvent(text=prompts.NOT_FOUND, status="not_found", citations=[],
                            relevance=round(found[0].candidate.score, 4) if found else None,
                            reason="nothing in the video's speech or on-screen text answers the question"
                            if open_ else "no moment of the video matched the question")
        a.spans = [(h.start_s, h.end_s) for h in best]
        run.emit(a)
        run.finish(a)
        yield a
