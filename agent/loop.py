"""The MCR loop: a generator of context events, from the task to the answer.

Each step the policy proposes a tool call or an answer under a JSON schema the loop builds. Results
update the belief state. An answer passes a verification gate: every citation must name a clip a tool
returned (anything else is removed), and each cited clip must have been verified as supporting, or the
loop verifies it first. Budgets bound the policy's decisions, the tool calls, the tokens and the wall
time; at a budget the loop answers with what is best supported (verified, else marked unverified) or
says it found no evidence.

Narrow policies (the weak lite model) get the same loop with enumerated options at each step: choose a
query among ones built from the question, choose which retrieved clip to verify and the claim, choose
which verified clip answers. Their choices are used; the loop's structure keeps them safe.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent import prompts, textmatch
from agent.beliefs import BeliefConfig, Beliefs, Hypothesis
from agent.context import (AnswerEvent, BeliefEvent, Context, ContextConfig, Event, ObservationEvent,
                           TaskEvent, ThoughtEvent, ToolCallEvent, ToolResultEvent, VerificationEvent)
from agent.persist import create_session, finish_session, save_step
from agent.policy import Decision, Policy
from agent.tools import (RETRIEVE_CLIP, VERIFY_FRAME, ToolArgumentError, ToolBox, ToolConfig, canonical)

_REF = re.compile(r"^c[0-9]{1,4}$")
_CLOCK = re.compile(r"\b(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:\.\d+)?\b")
_SECONDS = re.compile(r"\b(\d+(?:\.\d+)?)\s?(?:s|secs?|seconds?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Budget:
    max_steps: int = 12                # policy decisions per session
    max_tool_calls: int = 8            # executed tool calls (the gate's own verifications included)
    max_tokens: int = 60_000           # prompt + generated tokens over all decisions
    max_seconds: float = 180.0         # wall time of the session


@dataclass(frozen=True)
class LoopConfig:
    context: ContextConfig = field(default_factory=ContextConfig)  # prompt token budget
    tools: ToolConfig = field(default_factory=ToolConfig)          # verification thresholds
    beliefs: BeliefConfig = field(default_factory=BeliefConfig)    # how evidence moves confidence
    verify_top: int = 3                # narrow mode: unverified clips offered for verification
    max_citations: int = 3             # citations kept per answer
    time_tolerance_s: float = 1.0      # a time written in an answer within this of a returned clip is backed
    max_new_tokens_open: int = 320     # per decision, open policies
    max_new_tokens_narrow: int = 64    # per decision, narrow policies (an enum choice is short)


def open_schema() -> dict[str, Any]:
    """Any tool call or an answer (open policies)."""
    thought = {"type": "string", "maxLength": 300}
    citation = {"anyOf": [{"type": "string", "pattern": "^c[0-9]{1,4}$"},
                          {"type": "object", "properties": {"start_s": {"type": "number"}, "end_s": {"type": "number"}},
                           "required": ["start_s", "end_s"], "additionalProperties": False}]}
    answer_args = {"type": "object", "properties": {"text": {"type": "string", "maxLength": 600},
                                                    "citations": {"type": "array", "items": citation, "maxItems": 5}},
                   "required": ["text", "citations"], "additionalProperties": False}
    options = []
    for name, params in (("retrieve_clip", RETRIEVE_CLIP["function"]["parameters"]),
                         ("verify_frame", VERIFY_FRAME["function"]["parameters"]), ("answer", answer_args)):
        options.append({"type": "object", "properties": {"thought": thought, "action": {"const": name},
                                                         "arguments": params},
                        "required": ["action", "arguments"], "additionalProperties": False})
    return {"anyOf": options}


def _choice_schema(action: str, choices: dict[str, list[str]]) -> dict[str, Any]:
    props = {k: {"type": "string", "enum": v} for k, v in choices.items()}
    return {"type": "object",
            "properties": {"action": {"const": action},
                           "arguments": {"type": "object", "properties": props, "required": list(choices),
                                         "additionalProperties": False}},
            "required": ["action", "arguments"], "additionalProperties": False}


def _forced(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The only action a narrow step schema admits, or None when it leaves a choice."""
    props = schema.get("properties", {})
    if "action" not in props or "const" not in props["action"]:
        return None
    fields = props["arguments"]["properties"]
    if any(len(f.get("enum", [])) != 1 for f in fields.values()):
        return None
    return {"action": props["action"]["const"], "arguments": {k: f["enum"][0] for k, f in fields.items()}}


def _options(choices: dict[str, list[str]]) -> str:
    """The offered options spelled out in the prompt (the grammar enforces them; this lets the model read them)."""
    return "\n".join(f"Options for {k}: " + " | ".join(v) for k, v in choices.items())


def query_candidates(question: str) -> list[str]:
    """Search queries built from the question, best first (narrow policies choose among them)."""
    terms = textmatch.key_terms(question)
    out = [" ".join(terms), question.strip(), " ".join(terms[:2]), " ".join(terms[-2:])]
    seen: list[str] = []
    for q in out:
        q = " ".join(q.split())[:200]
        if q and q not in seen:
            seen.append(q)
    return seen


def claim_candidates(question: str) -> list[str]:
    """Claims to verify, built from the question's key terms, worded per channel."""
    terms = " ".join(textmatch.key_terms(question)) or question.strip()
    out = [terms]
    if textmatch.wants_screen(question):
        out.append(f"the screen shows {terms}")
    if textmatch.wants_speech(question) or not textmatch.wants_screen(question):
        out.append(f"the narrator talks about {terms}")
    return [c[:300] for c in out]


class _Run:
    def __init__(self, library: Any, video_id: int, question: str, policy: Policy, budget: Budget,
                 session_id: int | None, config: LoopConfig) -> None:
        video = library.store.video(int(video_id))
        if video is None:
            raise ValueError(f"no video with id {video_id}")
        self.library, self.video, self.question, self.policy = library, video, question.strip(), policy
        if not self.question:
            raise ValueError("the question is empty")
        self.budget, self.config = budget, config
        self.store = library.store
        self.session_id = session_id if session_id is not None else create_session(self.store, video.id, question)
        judge = policy.judge if policy.sees_images else None
        self.tools = ToolBox(library, video.id, float(video.duration_s or 0.0), self.session_id, config.tools, judge)
        self.ctx = Context(config.context, policy.count_tokens)
        self.beliefs = Beliefs(config.beliefs)
        self.calls: dict[str, int] = {}      # canonical call -> step of its first call
        self.tool_calls = 0
        self.decisions = 0
        self.tokens = 0
        self.t0 = time.time()
        self.answer_only_offered = False

    # -- recording ------------------------------------------------------------------------------
    def emit(self, event: Event) -> Event:
        self.ctx.add(event)
        event.finished = time.time()
        save_step(self.store, self.session_id, event)
        return event

    def observe(self, text: str) -> Event:
        return self.emit(ObservationEvent(text=text, source="loop"))

    # -- main -----------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        yield self.emit(TaskEvent(question=self.question, video_id=self.video.id,
                                  duration_s=float(self.video.duration_s or 0.0), session_id=self.session_id))
        try:
            while True:
                reason = self.budget_reason()
                step = None if reason else self.next_step()
                if step is None:
                    yield from self.final(reason or self.exhausted_reason())
                    return
                done = yield from self.decide(*step)
                if done:
                    return
        except BaseException as e:
            finish_session(self.store, self.session_id, "failed", {"error": f"{type(e).__name__}: {e}"})
            raise

    def budget_reason(self) -> str | None:
        b = self.budget
        if self.decisions >= b.max_steps:
            return f"step budget ({b.max_steps}) reached"
        if self.tokens >= b.max_tokens:
            return f"token budget ({b.max_tokens}) reached"
        if time.time() - self.t0 >= b.max_seconds:
            return f"time budget ({b.max_seconds:.0f} s) reached"
        return None

    def exhausted_reason(self) -> str:
        if self.tool_calls >= self.budget.max_tool_calls:
            return f"tool-call budget ({self.budget.max_tool_calls}) spent"
        return "no more queries or clips to try"

    def tools_left(self) -> bool:
        return self.tool_calls < self.budget.max_tool_calls

    def next_step(self) -> tuple[dict[str, Any], str, int] | None:
        """(schema, footer, max_new_tokens) for the next decision, or None when nothing is left to do."""
        n = len(self.ctx.events)
        if not self.policy.narrow:
            if self.tools_left():
                return open_schema(), prompts.STEP_OPEN.format(n=n), self.config.max_new_tokens_open
            if self.answer_only_offered:
                return None
            self.answer_only_offered = True
            schema = open_schema()
            schema = {"anyOf": [o for o in schema["anyOf"] if o["properties"]["action"]["const"] == "answer"]}
            return schema, "The tool budget is spent: answer now from verified clips.", self.config.max_new_tokens_open
        supported = self.beliefs.supported()
        if supported:
            choices = {"clip": [h.ref for h in supported]}
            return (_choice_schema("answer", choices),
                    prompts.STEP_ANSWER.format(n=n, question=self.question) + "\n" + _options(choices),
                    self.config.max_new_tokens_narrow)
        if not self.tools_left():
            return None
        unchecked = [h for h in self.beliefs.ranked() if not h.checked][: self.config.verify_top]
        if unchecked:
            choices = {"clip": [h.ref for h in unchecked], "claim": claim_candidates(self.question)}
            return (_choice_schema("verify_frame", choices), prompts.STEP_VERIFY.format(n=n) + "\n" + _options(choices),
                    self.config.max_new_tokens_narrow)
        # The two best unused queries: the specific ones first, the broader halves only once those were tried.
        queries = [q for q in query_candidates(self.question)
                   if canonical("retrieve_clip", {"query": q, "k": self.config.tools.default_k}) not in self.calls][:2]
        if queries:
            choices = {"query": queries}
            return (_choice_schema("retrieve_clip", choices),
                    prompts.STEP_PLAN.format(n=n, question=self.question) + "\n" + _options(choices),
                    self.config.max_new_tokens_narrow)
        return None

    def system(self) -> str:
        return prompts.NARROW_SYSTEM if self.policy.narrow else prompts.SYSTEM

    def decide(self, schema: dict[str, Any], footer: str, max_new: int) -> Generator[Event, None, bool]:
        started = time.time()
        forced = _forced(schema)
        if forced is not None:
            # Every field has one option: the grammar would admit exactly this output, so nothing is decoded.
            decision = Decision(action=forced, raw=json.dumps(forced), tokens=0)
        else:
            messages = self.ctx.to_messages(self.system(), footer)
            decision = self.policy.decide(messages, schema, max_new_tokens=max_new)
        self.decisions += 1
        self.tokens += decision.tokens
        action = decision.action
        if action is None:
            yield self.observe(f"the policy's output is not a valid action ({decision.error}): {decision.raw[:200]!r}")
            return False
        thought = action.get("thought")
        if isinstance(thought, str) and thought.strip():
            yield self.emit(ThoughtEvent(text=thought.strip()[:500], started=started))
        name, args = action.get("action"), action.get("arguments", {})
        if not isinstance(name, str) or not name:
            yield self.observe(f"the policy's output names no action: {decision.raw[:200]!r}")
            return False
        if name == "answer":
            return (yield from self.answer(args if isinstance(args, dict) else {}))
        yield from self.tool(name, args, started)
        return False

    # -- tools ----------------------------------------------------------------------------------
    def tool(self, name: str, args: Any, started: float | None = None) -> Generator[Event, None, Event | None]:
        started = started or time.time()
        try:
            prepared = self.tools.prepare(name, args)
        except ToolArgumentError as e:
            shown = args if isinstance(args, dict) else {"raw": str(args)[:200]}
            call = self.emit(ToolCallEvent(tool=name, arguments=shown, started=started))
            yield call
            yield self.emit(ToolResultEvent(tool=name, error=str(e), call=call.n))
            return None
        call = self.emit(ToolCallEvent(tool=name, arguments=prepared, started=started,
                                       spans=self._call_spans(prepared)))
        yield call
        key = canonical(name, prepared)
        if key in self.calls:
            yield self.emit(ToolResultEvent(tool=name, call=call.n, error=(
                f"refused: the same call was made at step {self.calls[key]}; try something different")))
            return None
        if not self.tools_left():
            yield self.emit(ToolResultEvent(tool=name, call=call.n, error="refused: the tool-call budget is spent"))
            return None
        self.calls[key] = call.n
        self.tool_calls += 1
        t = time.time()
        n = len(self.ctx.events)
        if name == "retrieve_clip":
            clips = self.tools.retrieve_clip(prepared, step=n)
            res = self.emit(ToolResultEvent(tool=name, clips=clips, call=call.n, started=t,
                                            spans=[(c["start_s"], c["end_s"]) for c in clips]))
            yield res
            self.beliefs.add_retrieval(res.n, clips)
        else:
            v = self.tools.verify_frame(prepared, step=n)
            res = self.emit(VerificationEvent(t_s=v.t_s, claim=prepared["claim"], verdict=v.verdict, methods=v.methods,
                                              evidence=v.evidence, thumb=v.thumb, ref=v.ref, scores=v.scores,
                                              call=call.n, started=t, spans=[v.span]))
            yield res
            self.beliefs.add_verification(res.n, v.ref, v.t_s, self.video.id, v.verdict)
        yield self.emit(BeliefEvent(hypotheses=self.beliefs.to_dicts(),
                                    spans=[(h.start_s, h.end_s) for h in self.beliefs.ranked()[:8]]))
        return res

    def _call_spans(self, args: dict[str, Any]) -> list[tuple[float, float]]:
        if "clip" in args:
            c = self.tools.clips[args["clip"]]
            return [(c["start_s"], c["end_s"])]
        if "t_s" in args:
            return [(args["t_s"], args["t_s"])]
        if "start_s" in args or "end_s" in args:
            return [(args.get("start_s", 0.0), args.get("end_s", self.tools.duration_s))]
        return []

    # -- answers --------------------------------------------------------------------------------
    def resolve(self, cite: Any) -> str | None:
        """The ref of the returned clip a citation names, or None (then it is removed)."""
        if isinstance(cite, dict) and isinstance(cite.get("ref"), str):
            cite = cite["ref"]
        if isinstance(cite, str):
            return cite if _REF.match(cite) and cite in self.tools.clips else None
        if isinstance(cite, dict):
            try:
                a, b = float(cite["start_s"]), float(cite["end_s"])
            except (KeyError, TypeError, ValueError):
                return None
            best, best_iou = None, 0.0
            for ref, c in self.tools.clips.items():
                inter = min(b, c["end_s"]) - max(a, c["start_s"])
                union = max(b, c["end_s"]) - min(a, c["start_s"])
                iou = inter / union if union > 0 else 0.0
                tol = self.config.time_tolerance_s
                inside = c["start_s"] - tol <= a and b <= c["end_s"] + tol and b > a
                if (iou >= 0.5 or inside) and max(iou, 0.5 if inside else 0.0) > best_iou:
                    best, best_iou = ref, max(iou, 0.5 if inside else 0.0)
            return best
        return None

    def scrub_times(self, text: str) -> tuple[str, list[str]]:
        """Remove times written in the answer that no returned clip covers."""
        tol = self.config.time_tolerance_s
        spans = [(c["start_s"] - tol, c["end_s"] + tol) for c in self.tools.clips.values()]
        removed: list[str] = []

        def backed(t: float) -> bool:
            return any(a <= t <= b for a, b in spans)

        def clock(m: re.Match[str]) -> str:
            h, mnt, s = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
            if backed(h * 3600 + mnt * 60 + s):
                return m.group(0)
            removed.append(m.group(0))
            return "[time removed]"

        def secs(m: re.Match[str]) -> str:
            if backed(float(m.group(1))):
                return m.group(0)
            removed.append(m.group(0))
            return "[time removed]"

        text = _CLOCK.sub(clock, text)
        text = _SECONDS.sub(secs, text)
        return text, removed

    def claim_for(self, text: str) -> str:
        """The claim the gate verifies: the answer's words when it has any, else the question's key terms."""
        if textmatch.content_tokens(text, drop_meta=True):
            return text[:300]
        return claim_candidates(self.question)[0]

    def citation(self, h: Hypothesis) -> dict[str, Any]:
        return {"video_id": h.video_id, "start_s": round(h.start_s, 3), "end_s": round(h.end_s, 3),
                "confidence": round(h.confidence, 4), "evidence": sorted(set(h.supporting))}

    def best_line(self, h: Hypothesis) -> str:
        """The line of the clip's own text (snippet, transcript, on-screen text) that best matches the question.

        A merged clip can hold several sentences and signs; quoting only the one that matches keeps the
        answer to the point. All of it is memory text from inside the clip's span, never the model's.
        """
        lines = [p.strip() for p in re.split(r"\s*[…|]\s*", h.snippet) if p.strip()]
        vid = self.video.id
        lines += [r["text"].strip() for r in self.library.transcript(vid, h.start_s, h.end_s)]
        lines += [r["text"].strip() for r in self.library.screen_text(vid, h.start_s, h.end_s)]
        lines = [ln for ln in dict.fromkeys(lines) if ln]
        if not lines:
            return ""
        claim = claim_candidates(self.question)[0]
        scores = [textmatch.coverage(claim, ln, fuzzy=True) for ln in lines]
        return " ".join(lines[scores.index(max(scores))].split())[:300]

    def compose(self, hs: list[Hypothesis]) -> str:
        parts = []
        for h in hs:
            quote = self.best_line(h)
            parts.append(f'{prompts.fmt_span(h.start_s, h.end_s)}: "{quote}"' if quote
                         else f"{prompts.fmt_span(h.start_s, h.end_s)} (visual match)")
        return " ".join(parts)

    def answer(self, args: dict[str, Any]) -> Generator[Event, None, bool]:
        started = time.time()
        raw_cites = args.get("citations")
        if raw_cites is None and "clip" in args:  # a narrow policy picks one verified clip
            raw_cites = [args["clip"]]
        if not isinstance(raw_cites, list):
            raw_cites = []
        text = str(args.get("text", "")).strip()[:1000]
        refs: list[str] = []
        removed: list[str] = []
        for c in raw_cites:
            ref = self.resolve(c)
            if ref is None:
                removed.append(str(c)[:80])
            else:
                h = self.beliefs.by_ref(ref)
                ref = h.ref if h else ref
                if ref not in refs:
                    refs.append(ref)
        text, times = self.scrub_times(text)
        if removed or times:
            yield self.observe("removed from the answer because no tool returned them: "
                               + "; ".join([f"citation {r}" for r in removed] + [f"time {t}" for t in times]))
        if not raw_cites:
            a = self.emit(AnswerEvent(text=text or prompts.NOT_FOUND, status="not_found", citations=[],
                                      started=started))
            finish_session(self.store, self.session_id, "not_found", _answer_json(a))
            yield a
            return True
        if not refs:
            yield self.observe("answer rejected: none of its citations is a clip a tool returned")
            return False
        kept: list[Hypothesis] = []
        for ref in refs[: self.config.max_citations]:
            h = self.beliefs.by_ref(ref)
            if h is not None and not (h.verified and not h.refuting) and not h.checked and self.tools_left():
                yield self.observe(f"{ref} is cited but not verified: verifying it first")
                yield from self.tool("verify_frame", {"clip": ref, "claim": self.claim_for(text)})
                h = self.beliefs.by_ref(ref)
            if h is not None and h.verified and not h.refuting:
                kept.append(h)
            else:
                yield self.observe(f"{ref} dropped from the answer: no verification supports it")
        if not kept:
            yield self.observe("answer rejected: no cited clip survived verification")
            return False
        if not text or self.policy.narrow:
            text = (text + " " if text else "") + self.compose(kept)
        a = self.emit(AnswerEvent(text=text.strip(), status="answered", citations=[self.citation(h) for h in kept],
                                  started=started, spans=[(h.start_s, h.end_s) for h in kept]))
        finish_session(self.store, self.session_id, "answered", _answer_json(a))
        yield a
        return True

    def final(self, reason: str) -> Iterator[Event]:
        """The answer at a budget (or when nothing is left to try): best supported, else unverified, else none."""
        yield self.observe(f"stopping: {reason}")
        supported = self.beliefs.supported()
        if supported:
            best = supported[:1]
            a = AnswerEvent(text=self.compose(best), status="answered", citations=[self.citation(h) for h in best])
        else:
            open_ = [h for h in self.beliefs.ranked() if not h.refuting]
            if open_:
                best = open_[:1]
                a = AnswerEvent(text=f"{prompts.UNVERIFIED_PREFIX} {self.compose(best)}", status="unverified",
                                citations=[self.citation(h) for h in best])
            else:
                best = []
                a = AnswerEvent(text=prompts.NOT_FOUND, status="not_found", citations=[])
        a.spans = [(h.start_s, h.end_s) for h in best]
        self.emit(a)
        finish_session(self.store, self.session_id, a.status, _answer_json(a))
        yield a


def _answer_json(a: AnswerEvent) -> dict[str, Any]:
    return {"text": a.text, "status": a.status, "citations": a.citations, "step": a.n}


def run(library: Any, video_id: int, question: str, policy: Policy, budget: Budget | None = None,
        session_id: int | None = None, config: LoopConfig | None = None) -> Iterator[Event]:
    """Answer `question` about one video: yields every context event (task first, answer last).

    Each event is saved as a `steps` row of the session (a new session unless `session_id` is given)
    before it is yielded.
    """
    yield from _Run(library, int(video_id), question, policy, budget or Budget(), session_id,
                    config or LoopConfig()).events()
