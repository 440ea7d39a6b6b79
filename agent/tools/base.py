"""What every tool is: a schema, argument preparation, a run, the event that records it, and what it teaches.

A mistake the model makes (bad arguments, an unknown clip ref, an unavailable channel) raises
`ToolArgumentError`, which the loop turns into an event; anything else is our bug and propagates.
"""
from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import jsonschema

from agent.context import Event, Span

if TYPE_CHECKING:
    from agent.beliefs import Beliefs
    from agent.tools.box import ToolBox

R = TypeVar("R")                        # what running the tool gives
E = TypeVar("E", bound=Event)           # the event that records it


class ToolArgumentError(ValueError):
    """The model called a tool wrongly; the loop records it as an event and goes on."""


@dataclass(frozen=True)
class ToolConfig:
    default_k: int = 5                 # clips per retrieval when the model gives no k
    transcript_pad_s: float = 2.0      # transcript window around a clip (or t_s +- 2 * pad)
    frames_per_clip: int = 1           # frames decoded per clip (keyframe, then midpoint); OCR'd at full size
    text_support: float = 0.6          # share of the claim's words that OCR/transcript must contain
    clip_support: float = 0.55         # CLIP probability of the claim over contrasts to support
    clip_refute: float = 0.1           # ... below which CLIP counts against it
    ocr_min_conf: float = 0.5          # OCR lines below this confidence (0..1) are ignored
    thumb_max_side: int = 640          # saved verification frames are this size at most
    contrasts: tuple[str, ...] = ("a photo", "a blank screen", "something else entirely")  # CLIP contrast prompts


def canonical(tool: str, arguments: dict[str, Any]) -> str:
    """A key that is equal for identical calls (used to refuse repeats)."""
    return tool + json.dumps(arguments, sort_keys=True, separators=(",", ":"))


class Tool(ABC, Generic[R, E]):
    """One tool the policy may call. Stateless: the session's state (library, video, clips) is the ToolBox."""

    name: ClassVar[str]                 # what the policy writes as the action
    schema: ClassVar[dict[str, Any]]    # OpenAI-style {"type": "function", "function": {..., "parameters"}}

    def __init__(self) -> None:
        params = self.parameters
        self._validator = jsonschema.validators.validator_for(params)(params)

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments."""
        return self.schema["function"]["parameters"]

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Check a call against the schema (a JSON string is decoded first); ToolArgumentError names the problem."""
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as e:
                raise ToolArgumentError(f"{self.name}: arguments are not JSON ({e.msg})") from None
        if not isinstance(arguments, dict):
            raise ToolArgumentError(f"{self.name}: arguments must be an object")
        err = jsonschema.exceptions.best_match(self._validator.iter_errors(arguments))
        if err is not None:
            where = "/".join(str(p) for p in err.absolute_path) or "arguments"
            raise ToolArgumentError(f"{self.name}: {where}: {err.message}")
        return copy.deepcopy(arguments)

    @abstractmethod
    def prepare(self, box: ToolBox, args: dict[str, Any]) -> dict[str, Any]:
        """Normalise and clamp validated arguments; the result is what runs and is recorded."""

    @abstractmethod
    def call_spans(self, box: ToolBox, args: dict[str, Any]) -> list[Span]:
        """The video spans a prepared call points at (for the timeline)."""

    @abstractmethod
    def run(self, box: ToolBox, args: dict[str, Any], step: int) -> R:
        """Execute a prepared call; `step` is the step number its result will get."""

    @abstractmethod
    def record(self, result: R, args: dict[str, Any], call: int, started: float) -> E:
        """The event that records a result (`call`: the step number of the tool_call)."""

    @abstractmethod
    def learn(self, beliefs: Beliefs, event: E, video_id: int) -> None:
        """Update the belief state from a recorded result."""
