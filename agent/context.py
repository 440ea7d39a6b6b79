"""The evolving context of one MCR session: a list of typed events.

The same list renders the policy's prompt (`Context.to_messages`), the saved trace (`to_dict`, one
`steps` row per event), the UI timeline (each event's `spans`) and the exports. Text that comes from
the video (snippets, transcript, on-screen text) is wrapped as data by `prompts.as_data`, never
spliced into the prompt as if it were ours.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from agent import prompts

KINDS = ("task", "observation", "thought", "tool_call", "tool_result", "belief", "verification", "answer")
Span = tuple[float, float]


def _now() -> float:
    return time.time()


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 characters per token for English BPE vocabularies)."""
    return max(1, (len(text) + 3) // 4)


@dataclass
class Event:
    """One step of the context. Subclasses add kind-specific fields."""

    kind: ClassVar[str] = "event"
    n: int = 0                                    # step number inside the session, from 0 (the task)
    started: float = field(default_factory=_now)  # epoch seconds when the step began
    finished: float = field(default_factory=_now)  # epoch seconds when it ended
    spans: list[Span] = field(default_factory=list)  # video spans the step touches (seconds)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: "n", "kind", "spans", timing, and the kind-specific fields."""
        d = asdict(self)
        d["kind"] = self.kind
        d["spans"] = [[round(float(a), 3), round(float(b), 3)] for a, b in self.spans]
        return d

    def to_messages(self) -> list[dict[str, str]]:
        """The chat messages this event contributes to the policy's prompt."""
        return []

    def summary(self) -> str:
        """A one-line version used when the prompt is over its token budget."""
        text = " ".join(m["content"] for m in self.to_messages())
        return text[:160]

    def brief(self) -> str:
        """The shortest form, used when even the summaries are over budget."""
        return f"[step {self.n}] {self.kind}"


E = TypeVar("E", bound=Event)

@dataclass
class TaskEvent(Event):
    kind: ClassVar[str] = "task"
    question: str = ""                 # the user's question (user text, not video text)
    video_id: int = 0
    duration_s: float = 0.0            # the video's length, so the policy knows the valid range
    session_id: int | None = None      # the sessions row this run writes to

    def to_messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": prompts.task_message(self.question, self.duration_s)}]

    def summary(self) -> str:
        return self.to_messages()[0]["content"]


@dataclass
class ObservationEvent(Event):
    kind: ClassVar[str] = "observation"
    text: str = ""                     # what the loop noticed (a refused call, a removed citation, a budget)
    source: str = "loop"               # loop | video (video text is wrapped as data)

    def to_messages(self) -> list[dict[str, str]]:
        body = prompts.as_data("observation", self.text) if self.source == "video" else self.text
        return [{"role": "user", "content": f"[step {self.n}] observation: {body}"}]


@dataclass
class ThoughtEvent(Event):
    kind: ClassVar[str] = "thought"
    text: str = ""                     # the policy's own reasoning text

    def to_messages(self) -> list[dict[str, str]]:
        return [{"role": "assistant", "content": f"[step {self.n}] thought: {self.text}"}]


@dataclass
class ToolCallEvent(Event):
    kind: ClassVar[str] = "tool_call"
    tool: str = ""                     # the name the policy asked for (may be unknown)
    arguments: dict[str, Any] = field(default_factory=dict)  # after validation and clamping when valid

    def to_messages(self) -> list[dict[str, str]]:
        args = json.dumps(self.arguments, sort_keys=True)
        return [{"role": "assistant", "content": f"[step {self.n}] call {self.tool} {args}"}]


@dataclass
class ToolResultEvent(Event):
    kind: ClassVar[str] = "tool_result"
    tool: str = ""
    clips: list[dict[str, Any]] = field(default_factory=list)  # Clip.to_dict() plus "ref" (c1, c2, ...)
    error: str | None = None           # set when the call was refused or invalid (the model's error)
    call: int | None = None            # the step number of the tool_call this answers

    def to_messages(self) -> list[dict[str, str]]:
        if self.error:
            return [{"role": "user", "content": f"[step {self.n}] {self.tool} error: {self.error}"}]
        lines = [f"[step {self.n}] {self.tool} returned {len(self.clips)} clips:"]
        for c in self.clips:
            lines.append(prompts.clip_line(c))
        return [{"role": "user", "content": "\n".join(lines)}]

    def summary(self) -> str:
        if self.error:
            return f"[step {self.n}] {self.tool} error: {self.error[:100]}"
        refs = ", ".join(f"{c.get('ref')} {prompts.fmt_span(c['start_s'], c['end_s'])}" for c in self.clips)
        return f"[step {self.n}] {self.tool} returned {len(self.clips)} clips (summarised): {refs}"

    def brief(self) -> str:
        refs = ",".join(str(c.get("ref")) for c in self.clips)
        return f"[step {self.n}] {self.tool}: " + ("error" if self.error else f"{refs or 'no clips'} (summarised)")


@dataclass
class BeliefEvent(Event):
    kind: ClassVar[str] = "belief"
    hypotheses: list[dict[str, Any]] = field(default_factory=list)  # text, confidence, supporting, refuting, ref

    def to_messages(self) -> list[dict[str, str]]:
        if not self.hypotheses:
            return [{"role": "user", "content": f"[step {self.n}] beliefs: none yet"}]
        parts = [f"{h.get('ref')} conf {h['confidence']:.2f} (+{len(h['supporting'])}/-{len(h['refuting'])})"
                 for h in self.hypotheses[:5]]
        return [{"role": "user", "content": f"[step {self.n}] beliefs: " + "; ".join(parts)}]


@dataclass
class VerificationEvent(Event):
    kind: ClassVar[str] = "verification"
    t_s: float = 0.0                   # the (first) frame time looked at
    claim: str = ""
    verdict: str = "uncertain"         # supported | refuted | uncertain
    methods: list[str] = field(default_factory=list)  # which of vlm / clip / ocr / transcript were used
    evidence: str = ""                 # what each method saw (video text inside, so it is data in prompts)
    thumb: str | None = None           # absolute path of the frame saved under the data dir
    ref: str | None = None             # the clip ref verified (c1, ...), None for a bare timestamp
    scores: dict[str, float] = field(default_factory=dict)  # per-method score in [0, 1]
    frames: list[dict[str, Any]] = field(default_factory=list)  # what the VLM looked at: {"t_s", "thumb"} each
    call: int | None = None            # the step number of the tool_call this answers
    error: str | None = None           # set when the call itself was invalid

    def to_messages(self) -> list[dict[str, str]]:
        if self.error:
            return [{"role": "user", "content": f"[step {self.n}] verify_frame error: {self.error}"}]
        target = self.ref or prompts.fmt_time(self.t_s)
        return [{"role": "user", "content":
                 f"[step {self.n}] verify_frame {target} at {prompts.fmt_time(self.t_s)}: {self.verdict} "
                 f"(methods: {', '.join(self.methods) or 'none'}) "
                 + prompts.as_data("evidence", self.evidence)}]

    def summary(self) -> str:
        return (f"[step {self.n}] verify_frame {self.ref or prompts.fmt_time(self.t_s)}: {self.verdict} "
                f"({', '.join(self.methods)})")


@dataclass
class AnswerEvent(Event):
    kind: ClassVar[str] = "answer"
    text: str = ""
    status: str = "answered"           # answered | unverified | not_found
    citations: list[dict[str, Any]] = field(default_factory=list)  # video_id, start_s, end_s, confidence, evidence
    reason: str = ""                   # why an answer is unverified or not found, in plain words ("" when answered)
    relevance: float | None = None     # how well the quoted answer answers the question (the ranking's measure);
                                       # None when no quote was weighed

    def to_messages(self) -> list[dict[str, str]]:
        return [{"role": "assistant", "content": f"[step {self.n}] answer ({self.status}): {self.text}"}]


EVENT_TYPES: dict[str, type[Event]] = {cls.kind: cls for cls in (
    TaskEvent, ObservationEvent, ThoughtEvent, ToolCallEvent, ToolResultEvent, BeliefEvent,
    VerificationEvent, AnswerEvent)}


def event_from_dict(d: dict[str, Any]) -> Event:
    """Rebuild an event from its `to_dict()` (a saved step); unknown keys are ignored."""
    cls = EVENT_TYPES.get(d.get("kind", ""))
    if cls is None:
        raise ValueError(f"unknown event kind {d.get('kind')!r}")
    names = {f.name for f in fields(cls)}
    kw = {k: v for k, v in d.items() if k in names}
    kw["spans"] = [(float(a), float(b)) for a, b in d.get("spans", [])]
    return cls(**kw)


@dataclass(frozen=True)
class ContextConfig:
    token_budget: int = 1800          # prompt tokens allowed for the event history (system prompt excluded)
    keep_recent: int = 6              # the newest events always rendered in full


class Context:
    """The list of events of one session and the prompt rendered from it."""

    def __init__(self, config: ContextConfig | None = None, count_tokens: Callable[[str], int] | None = None) -> None:
        self.config = config or ContextConfig()
        self.events: list[Event] = []
        self.count_tokens = count_tokens or approx_tokens  # str -> int; a real tokenizer where there is one

    def add(self, event: E) -> E:
        """Append an event, numbering it; returns it."""
        event.n = len(self.events)
        self.events.append(event)
        return event

    def to_messages(self, system: str, footer: str | None = None, history: bool = True) -> list[dict[str, str]]:
        """The prompt: system, then every event, older ones summarised until it fits the budget.

        Older events are summarised oldest first, never dropped, so the policy always sees that a
        step happened; the task and the newest `keep_recent` events stay in full. Without `history`
        only the task is rendered: a choice whose options say everything needs no more, and a short
        prompt is what keeps a small model's decision fast.
        """
        events = self.events if history else self.events[:1]
        rendered: list[list[dict[str, str]]] = [e.to_messages() for e in events]
        cost = [sum(self.count_tokens(m["content"]) for m in ms) for ms in rendered]
        budget = self.config.token_budget
        protected = {0} | set(range(max(0, len(events) - self.config.keep_recent), len(events)))
        for shorten in ("summary", "brief"):  # summaries first; one-liners if still too long
            for i, e in enumerate(events):
                if sum(cost) <= budget:
                    break
                if i in protected or not rendered[i]:
                    continue
                short = [{"role": rendered[i][0]["role"], "content": getattr(e, shorten)()}]
                new = self.count_tokens(short[0]["content"])
                if new < cost[i]:
                    rendered[i], cost[i] = short, new
        messages = [{"role": "system", "content": system}]
        for ms in rendered:
            messages.extend(ms)
        if footer:
            messages.append({"role": "user", "content": footer})
        return _merge_roles(messages)


def _merge_roles(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Join consecutive messages of one role: chat templates of small models expect alternation."""
    out: list[dict[str, str]] = []
    for m in messages:
        if out and out[-1]["role"] == m["role"] and m["role"] != "system":
            out[-1] = {"role": m["role"], "content": out[-1]["content"] + "\n" + m["content"]}
        else:
            out.append(dict(m))
    return out
