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
from agent.beliefs import Beliefs, Hypothesis
from agent.context import AnswerEvent, Event
from agent.tools import VerifyFrame

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
    max_citations: int = 3             # citations kept per answer
    time_tolerance_s: float = 1.0      # a time written in an answer within this of a returned clip is backed


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
def best_line(h: Hypothesis, library: Library, video_id: int, question: str) -> str:
    """The line of the clip's own text (snippet, transcript, on-screen text) that best matches the question.

    A merged clip can hold several sentences and signs; quoting only the one that matches keeps the
    answer to the point. All of it is memory text from inside the clip's span, never the model's.
    """
    lines = [p.strip() for p in re.split(r"\s*[…|]\s*", h.snippet) if p.strip()]
    lines += [r["text"].strip() for r in library.transcript(video_id, h.start_s, h.end_s)]
    lines += [r["text"].strip() for r in library.screen_text(video_id, h.start_s, h.end_s)]
    lines = [ln for ln in dict.fromkeys(lines) if ln]
    if not lines:
        return ""
    claim = textmatch.claim_candidates(question)[0]
    scores = [textmatch.coverage(claim, ln, fuzzy=True) for ln in lines]
    return " ".join(lines[scores.index(max(scores))].split())[:300]


def compose(hs: list[Hypothesis], library: Library, video_id: int, question: str) -> str:
    """Each clip's span with its best-matching line quoted (or marked a visual match)."""
    parts = []
    for h in hs:
        quote = best_line(h, library, video_id, question)
        span = prompts.fmt_span(h.start_s, h.end_s)
        parts.append(f'{span}: "{quote}"' if quote else f"{span} (visual match)")
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
    """Checks the answers of one session against the clips its tools returned and the beliefs built on them."""

    def __init__(self, library: Library, video_id: int, question: str, clips: Clips, beliefs: Beliefs,
                 config: GateConfig, quotes_clips: bool) -> None:
        self.library, self.video_id, self.question = library, video_id, question
        self.clips, self.beliefs, self.config = clips, beliefs, config
        self.quotes_clips = quotes_clips   # the answer text is completed with the cited clips' own lines

    def compose(self, hs: list[Hypothesis]) -> str:
        return compose(hs, self.library, self.video_id, self.question)

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
        kept = yield from self._verified(refs, text, run)
        if not kept:
            yield run.observe("answer rejected: no cited clip survived verification")
            return False
        if not text or self.quotes_clips:
            text = (text + " " if text else "") + self.compose(kept)
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

    def final(self, reason: str, run: Recorder) -> Iterator[Event]:
        """The answer at a budget (or when nothing is left to try): best supported, else unverified, else none."""
        yield run.observe(f"stopping: {reason}")
        supported = self.beliefs.supported()
        open_ = [h for h in self.beliefs.ranked() if not h.refuting]
        if supported:
            best = supported[:1]
            a = AnswerEvent(text=self.compose(best), status="answered", citations=[citation(h) for h in best])
        elif open_:
            best = open_[:1]
            a = AnswerEvent(text=f"{prompts.UNVERIFIED_PREFIX} {self.compose(best)}", status="unverified",
                            citations=[citation(h) for h in best])
        else:
            best = []
            a = AnswerEvent(text=prompts.NOT_FOUND, status="not_found", citations=[])
        a.spans = [(h.start_s, h.end_s) for h in best]
        run.emit(a)
        run.finish(a)
        yield a
