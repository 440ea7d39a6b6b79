"""The MCR loop: a generator of context events, from the task to the answer.

Each step a planner (chosen once, from the policy's way of acting) proposes what the policy decides:
a schema and a prompt footer. The policy's action is a tool call, looked up by name in the tool
registry, or an answer, which passes the verification gate (`agent.gate`). Results update the belief
state. Budgets bound the policy's decisions, the tool calls, the tokens and the wall time; at a budget
the gate answers with what is best supported or says it found no evidence.

A model's mistakes (output that is not an action, an unknown tool, bad arguments) become events and
the loop goes on; our own bugs raise (and mark the session failed).
"""
from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from agent.beliefs import BeliefConfig, Beliefs
from agent.context import (AnswerEvent, BeliefEvent, Context, ContextConfig, Event, ObservationEvent, TaskEvent,
                           ThoughtEvent, ToolCallEvent, ToolResultEvent)
from agent.gate import Gate, GateConfig
from agent.planners import ANSWER, PlannerConfig, Situation, Step, make_planner
from agent.policy import Decision, Policy
from agent.tools import ToolArgumentError, ToolBox, ToolConfig, canonical
from memory import sessions

if TYPE_CHECKING:
    from memory.library import Library

__all__ = ["Budget", "LoopConfig", "run"]
E = TypeVar("E", bound=Event)


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
    planner: PlannerConfig = field(default_factory=PlannerConfig)  # options offered, tokens per decision
    gate: GateConfig = field(default_factory=GateConfig)           # citations kept, time tolerance


class _Run:
    """One session of the loop: its context, tools, beliefs, planner, gate and counters."""

    def __init__(self, library: Library, video_id: int, question: str, policy: Policy, budget: Budget,
                 session_id: int | None, config: LoopConfig) -> None:
        video = library.store.video(int(video_id))
        if video is None:
            raise ValueError(f"no video with id {video_id}")
        self.video, self.question, self.policy = video, question.strip(), policy
        if not self.question:
            raise ValueError("the question is empty")
        self.budget = budget
        self.store = library.store
        self.session_id = (session_id if session_id is not None
                           else sessions.create_session(self.store, video.id, question))
        duration_s = float(video.duration_s or 0.0)
        judge = policy.judge if policy.sees_images else None
        self.tools = ToolBox(library, video.id, duration_s, self.session_id, config.tools, judge)
        self.ctx = Context(config.context, policy.count_tokens)
        self.beliefs = Beliefs(config.beliefs)
        self.planner = make_planner(policy, self.question, config.planner, config.tools.default_k)
        self.gate = Gate(library, video.id, self.question, self.tools.clips, self.beliefs, config.gate,
                         quotes_clips=self.planner.quotes_clips)
        self.calls: dict[str, int] = {}      # canonical call -> step of its first call
        self.tool_calls = 0
        self.decisions = 0
        self.tokens = 0
        self.t0 = time.time()

    # -- recording ------------------------------------------------------------------------------
    def emit(self, event: E) -> E:
        self.ctx.add(event)
        event.finished = time.time()
        sessions.save_step(self.store, self.session_id, event.n, event.kind, event.to_dict(), event.started,
                           event.finished)
        return event

    def observe(self, text: str) -> Event:
        return self.emit(ObservationEvent(text=text, source="loop"))

    def finish(self, answer: AnswerEvent) -> None:
        sessions.finish_session(self.store, self.session_id, answer.status,
                                {"text": answer.text, "status": answer.status, "citations": answer.citations,
                                 "reason": answer.reason, "step": answer.n})

    # -- main -----------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        yield self.emit(TaskEvent(question=self.question, video_id=self.video.id,
                                  duration_s=self.tools.duration_s, session_id=self.session_id))
        try:
            while True:
                reason = self.budget_reason()
                step = None if reason else self.planner.propose(self.situation())
                if step is None:
                    yield from self.gate.final(reason or self.exhausted_reason(), self)
                    return
                done = yield from self.decide(step)
                if done:
                    return
        except BaseException as e:
            sessions.finish_session(self.store, self.session_id, "failed", {"error": f"{type(e).__name__}: {e}"})
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

    def situation(self) -> Situation:
        proposals = self.gate.proposals() if self.planner.quotes_clips else []
        return Situation(n=len(self.ctx.events), beliefs=self.beliefs, tools_left=self.tools_left(), calls=self.calls,
                         answers=self.gate.reader.answers(proposals),
                         leads=self.gate.reader.leads() if self.planner.quotes_clips else ())

    def decide(self, step: Step) -> Generator[Event, None, bool]:
        """One decision of the policy and what it leads to; True when the session has its answer."""
        started = time.time()
        if step.forced is not None:
            # Every field has one option: the grammar would admit exactly this output, so nothing is decoded.
            decision = Decision(action=step.forced, raw=json.dumps(step.forced), tokens=0)
        else:
            messages = self.ctx.to_messages(self.planner.system, step.footer, history=step.history)
            decision = self.policy.decide(messages, step.schema, max_new_tokens=step.max_new_tokens)
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
        if name == ANSWER:
            return (yield from self.gate.answer(args if isinstance(args, dict) else {}, self))
        yield from self.call(name, args, started)
        return False

    # -- tools ----------------------------------------------------------------------------------
    def call(self, name: str, args: Any, started: float | None = None) -> Generator[Event, None, Event | None]:
        """Run one tool call the policy (or the gate) asked for; returns its result event, None when refused."""
        started = started or time.time()
        try:
            tool = self.tools.get(name)
            prepared = tool.prepare(self.tools, tool.validate(args))
        except ToolArgumentError as e:
            shown = args if isinstance(args, dict) else {"raw": str(args)[:200]}
            call = self.emit(ToolCallEvent(tool=name, arguments=shown, started=started))
            yield call
            yield self.emit(ToolResultEvent(tool=name, error=str(e), call=call.n))
            return None
        call = self.emit(ToolCallEvent(tool=name, arguments=prepared, started=started,
                                       spans=tool.call_spans(self.tools, prepared)))
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
        result = tool.run(self.tools, prepared, step=len(self.ctx.events))
        res = self.emit(tool.record(result, prepared, call=call.n, started=t))
        yield res
        tool.learn(self.beliefs, res, self.video.id)
        yield self.emit(BeliefEvent(hypotheses=self.beliefs.to_dicts(),
                                    spans=[(h.start_s, h.end_s) for h in self.beliefs.ranked()[:8]]))
        return res


def run(library: Library, video_id: int, question: str, policy: Policy, budget: Budget | None = None,
        session_id: int | None = None, config: LoopConfig | None = None) -> Iterator[Event]:
    """Answer `question` about one video: yields every context event (task first, answer last).

    Each event is saved as a `steps` row of the session (a new session unless `session_id` is given)
    before it is yielded.
    """
    yield from _Run(library, int(video_id), question, policy, budget or Budget(), session_id,
                    config or LoopConfig()).events()
