"""Planners: how the next step of the loop is proposed, one class per way of acting, chosen once per session.

- `OpenPlanner` (capable models): any tool call with any arguments, or an answer, under one JSON schema.
- `NarrowPlanner` (weak models, e.g. the lite profile): enumerated options at each step. Choose a query
  among ones built from the question, choose which retrieved clip to verify and the claim, choose which
  verified clip answers. Its choices are used; the loop's structure keeps them safe.

A planner builds the schema the policy decodes under and the prompt's footer; it never runs anything.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent import answer_type, prompts, textmatch
from agent.tools import TOOLS, RetrieveClip, Tool, canonical

if TYPE_CHECKING:
    from agent.answer_reader import Proposal
    from agent.beliefs import Beliefs
    from agent.policy import Policy

Schema = dict[str, Any]
ANSWER = "answer"                      # the one action that is not a tool

_CITATION = {"anyOf": [{"type": "string", "pattern": "^c[0-9]{1,4}$"},
                       {"type": "object", "properties": {"start_s": {"type": "number"}, "end_s": {"type": "number"}},
                        "required": ["start_s", "end_s"], "additionalProperties": False}]}
ANSWER_PARAMETERS: Schema = {
    "type": "object",
    "properties": {"text": {"type": "string", "maxLength": 600},
                   "citations": {"type": "array", "items": _CITATION, "maxItems": 5}},
    "required": ["text", "citations"], "additionalProperties": False}


@dataclass(frozen=True)
class PlannerConfig:
    query_options: int = 2             # narrow: search queries offered for the first search (one decision)
    later_query_options: int = 1       # narrow: offered for each later search (one option: nothing decoded)
    answer_margin: float = 0.02        # narrow: answers scoring within this of the best are offered too
    max_answer_options: int = 3        # narrow: moments offered as the answer
    max_new_tokens_open: int = 320     # per decision, open planner
    max_new_tokens_narrow: int = 64    # per decision, narrow planner (an enum choice is short)


@dataclass(frozen=True)
class Step:
    """What the policy is asked for next."""

    schema: Schema                     # the JSON schema its output must match
    footer: str                        # the last prompt line: what to decide now
    max_new_tokens: int                # generation budget of this decision
    forced: dict[str, Any] | None = None  # the only action the schema admits: then nothing is decoded
    history: bool = True               # the prompt holds the session's events (else the task and the options)


@dataclass(frozen=True)
class Situation:
    """What a planner sees when it proposes the next step."""

    n: int                             # the step number the next event will get
    beliefs: Beliefs                   # the hypotheses so far
    tools_left: bool                   # the tool-call budget is not spent
    calls: Mapping[str, int] = field(default_factory=dict)  # canonical key of each executed call -> its step
    answers: Sequence[Proposal] = ()   # candidate answers at or above the floor, best first (narrow planner)
    leads: Sequence[tuple[float, float]] = ()  # spans holding the kind of answer asked, to search first (narrow)


class Planner(Protocol):
    system: str                        # the system prompt of this way of acting
    quotes_clips: bool                 # answers are completed with the cited clips' own lines

    def propose(self, now: Situation) -> Step | None:
        """The next step, or None when nothing is left to do."""
        ...


def _action(name: str, parameters: Schema) -> Schema:
    return {"type": "object", "properties": {"thought": {"type": "string", "maxLength": 300},
                                             "action": {"const": name}, "arguments": parameters},
            "required": ["action", "arguments"], "additionalProperties": False}


def open_schema(tools: Mapping[str, Tool[Any, Any]] = TOOLS, calls: bool = True) -> Schema:
    """Any tool call (unless `calls` is False) or an answer: the open planner's schema."""
    options = [_action(t.name, t.parameters) for t in tools.values()] if calls else []
    return {"anyOf": options + [_action(ANSWER, ANSWER_PARAMETERS)]}


def choice_schema(action: str, choices: dict[str, list[str]]) -> Schema:
    """One action whose every argument is one of the offered strings: the narrow planner's schema."""
    props = {k: {"type": "string", "enum": v} for k, v in choices.items()}
    return {"type": "object",
            "properties": {"action": {"const": action},
                           "arguments": {"type": "object", "properties": props, "required": list(choices),
                                         "additionalProperties": False}},
            "required": ["action", "arguments"], "additionalProperties": False}


def first_choice(messages: list[dict[str, str]], schema: Schema) -> dict[str, Any]:
    """The action a choice schema allows with every argument at its first option (a script for tests)."""
    props = schema["properties"]
    return {"action": props["action"]["const"],
            "arguments": {k: v["enum"][0] for k, v in props["arguments"]["properties"].items()}}


class OpenPlanner:
    """Any tool call or an answer; once the tool budget is spent, one last chance to answer."""

    system = prompts.SYSTEM
    quotes_clips = False

    def __init__(self, config: PlannerConfig) -> None:
        self.config = config
        self.answer_only_offered = False

    def propose(self, now: Situation) -> Step | None:
        if now.tools_left:
            return Step(open_schema(), prompts.STEP_OPEN.format(n=now.n), self.config.max_new_tokens_open)
        if self.answer_only_offered:
            return None
        self.answer_only_offered = True
        return Step(open_schema(calls=False), "The tool budget is spent: answer now from verified clips.",
                    self.config.max_new_tokens_open)


class NarrowPlanner:
    """Enumerated options: answer with a moment whose quote answers the question, else search again.

    The loop reads the evidence around the moments found (`agent.answer_reader`); the options are the
    moments whose best quote reaches the floor (the gate then verifies that quote), else unused search
    queries built from the question. The prompt holds the task and the options only.
    """

    system = prompts.NARROW_SYSTEM
    quotes_clips = True

    def __init__(self, config: PlannerConfig, question: str, default_k: int) -> None:
        self.config = config
        self.question = question
        self.default_k = default_k     # the k a retrieval gets when none is chosen (to recognise repeats)

    def _choose(self, action: str, choices: dict[str, list[str]], footer: str, notes: str = "") -> Step:
        forced = None
        if all(len(v) == 1 for v in choices.values()):
            forced = {"action": action, "arguments": {k: v[0] for k, v in choices.items()}}
        options = "\n".join(f"Options for {k}: " + " | ".join(v) for k, v in choices.items())
        if notes:
            options = notes + "\n" + options
        return Step(choice_schema(action, choices), footer + "\n" + options, self.config.max_new_tokens_narrow,
                    forced, history=False)

    def _leads(self, now: Situation) -> list[dict[str, Any]]:
        """Searches around the lines holding the kind of answer asked ("every month" for "how often") not yet run."""
        if not now.tools_left:
            return []
        around = [{"query": self.question, "start_s": max(0.0, a - 1.0), "end_s": b + 1.0, "k": self.default_k}
                  for a, b in now.leads]
        return [args for args in around if canonical(RetrieveClip.name, args) not in now.calls]

    def propose(self, now: Situation) -> Step | None:
        leads = self._leads(now)
        searched = any(key.startswith(RetrieveClip.name) for key in now.calls)
        if leads and searched:  # after the question's own search, before answering: both are read and compared
            return self._search(leads[0])
        if now.answers:
            top = now.answers[0].candidate.score
            refs = list(dict.fromkeys(p.ref for p in now.answers
                                      if p.candidate.score >= top - self.config.answer_margin))
            refs = refs[: self.config.max_answer_options]
            quotes = {p.ref: p.candidate.quote for p in reversed(now.answers)}  # each moment's best quote
            notes = "\n".join(f"{r}: " + prompts.as_data("quote", quotes[r], limit=240) for r in refs)
            return self._choose(ANSWER, {"clip": refs}, prompts.STEP_ANSWER.format(n=now.n, question=self.question),
                                notes)
        if not now.tools_left:
            return None
        opening = {"query": self.question, "start_s": 0.0, "end_s": answer_type.TITLE_S, "k": self.default_k}
        if answer_type.asks_title(self.question) and canonical(RetrieveClip.name, opening) not in now.calls:
            # "What is the show called?": its title card opens it, whatever the words of the question find.
            return self._search(opening)
        # The best unused queries: the specific ones first, the broader halves only once those were tried.
        queries = [q for q in textmatch.query_candidates(self.question)
                   if canonical(RetrieveClip.name, {"query": q, "k": self.default_k}) not in now.calls]
        if queries:
            # Each decision of the small model costs seconds on a CPU: it chooses the first query only.
            n = self.config.query_options if not searched else self.config.later_query_options
            return self._choose(RetrieveClip.name, {"query": queries[:n]},
                                prompts.STEP_PLAN.format(n=now.n, question=self.question))
        return self._search(leads[0]) if leads else None

    def _search(self, args: dict[str, Any]) -> Step:
        """A search the loop's structure calls for (nothing for the model to decide)."""
        return Step(choice_schema(RetrieveClip.name, {"query": [self.question]}), "", 0,
                    {"action": RetrieveClip.name, "arguments": args}, history=False)


def make_planner(policy: Policy, question: str, config: PlannerConfig, default_k: int) -> Planner:
    """The planner for a policy's way of acting: narrow policies get enumerated options."""
    if policy.narrow:
        return NarrowPlanner(config, question, default_k)
    return OpenPlanner(config)

