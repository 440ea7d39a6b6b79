"""Policies: what proposes the agent's next step.

Every policy answers `decide(messages, schema)` with one JSON action that matches `schema` (a planner
builds the schema; local models decode under it with a grammar, OpenAI-compatible servers get it as
`response_format: json_schema`). A policy's `narrow` flag picks its planner (`agent.planners`): narrow
policies (the weak lite model) are offered enumerated choices at each step, open policies may call any
tool with any arguments.

- `LocalPolicy`: the local M2LA chat model (`model.load.load_chat_model`): SmolLM2 (lite, text only) or the
  vision-language model (full: `model.vlm.chat.VisionChatModel`, whose `judge` looks at the frames).
- `OpenAIPolicy`: any OpenAI-compatible chat endpoint (vLLM, SGLang, Ollama, llama.cpp server).
- `ScriptedPolicy`: a fixed list of actions, for tests.
"""
from __future__ import annotations

import base64
import inspect
import io
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PIL import Image

from agent import prompts
from agent.context import approx_tokens
from assets.errors import UserError

if TYPE_CHECKING:
    from memory.library import Library

Messages = list[dict[str, str]]
Schema = dict[str, Any]
# A policy's eyes: (frames, claim) -> (yes | no | unsure, reason).
Judge = Callable[[Sequence[Image.Image], str], tuple[str, str]]
# A scripted step: an action, raw policy output, or a function of the prompt and the step's schema.
ScriptItem = dict[str, Any] | str | Callable[[Messages, Schema], dict[str, Any] | str]

VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["yes", "no", "unsure"]},
                   "reason": {"type": "string", "maxLength": 160}},
    "required": ["verdict", "reason"],
    "additionalProperties": False,
}


class PolicyError(UserError, RuntimeError):
    """The policy could not run at all (no endpoint, no weights): one line for the user."""


@dataclass
class Decision:
    """One proposal from a policy."""

    action: dict[str, Any] | None      # the parsed JSON object, None when the output was not JSON
    raw: str                           # exactly what the policy produced
    tokens: int = 0                    # prompt + generated tokens this decision cost
    error: str | None = None           # why `action` is None


@runtime_checkable
class Policy(Protocol):
    name: str                          # shown in traces and benchmarks
    narrow: bool                       # True: offer enumerated choices (weak models)
    sees_images: bool                  # True: `judge` looks at frames (a VLM)

    def decide(self, messages: Messages, schema: Schema, max_new_tokens: int = 256,
               on_token: Callable[[str], None] | None = None) -> Decision: ...

    def judge(self, images: Sequence[Image.Image], claim: str) -> tuple[str, str]: ...

    def count_tokens(self, text: str) -> int: ...


def parse_json(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """The first JSON object in `raw` (models sometimes wrap it in prose or code fences)."""
    text = raw.strip()
    start = text.find("{")
    if start < 0:
        return None, "no JSON object in the output"
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as e:
        return None, f"invalid JSON ({e.msg} at char {e.pos})"
    if not isinstance(obj, dict):
        return None, "the JSON is not an object"
    return obj, None


class ScriptedPolicy:
    """Replays a script: each item is an action dict, a raw string, or a callable(messages, schema) -> either.

    When the script runs out it answers with no citations. It records every prompt it was shown.
    """

    name = "scripted"
    sees_images = False

    def __init__(self, script: Sequence[ScriptItem], narrow: bool = False, judge: Judge | None = None) -> None:
        self.script = list(script)
        self.narrow = narrow
        self.seen: list[tuple[Messages, Schema]] = []
        self._judge = judge
        self.sees_images = judge is not None

    def decide(self, messages: Messages, schema: Schema, max_new_tokens: int = 256,
               on_token: Callable[[str], None] | None = None) -> Decision:
        self.seen.append((messages, schema))
        item: Any = self.script.pop(0) if self.script else {"action": "answer",
                                                           "arguments": {"text": "", "citations": []}}
        if callable(item):
            item = item(messages, schema)
        raw = item if isinstance(item, str) else json.dumps(item)
        action, err = parse_json(raw)
        tokens = sum(approx_tokens(m["content"]) for m in messages) + approx_tokens(raw)
        return Decision(action=action, raw=raw, tokens=tokens, error=err)

    def judge(self, images: Sequence[Image.Image], claim: str) -> tuple[str, str]:
        if self._judge is None:
            raise PolicyError("this scripted policy does not see images")
        return self._judge(images, claim)

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)


def _takes_images(fn: Callable[..., Any] | None) -> bool:
    """True when `fn` has an `images` parameter (or takes **kwargs)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: assume the narrowest
        return False
    return any(p.name == "images" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


class JsonChat(Protocol):
    """What LocalPolicy drives: `model.chat.ChatModel` (a model that sees images also takes `images=`)."""

    def complete_json(self, messages: Messages, schema: Schema, max_new_tokens: int = 256,
                      on_token: Callable[[str], None] | None = None) -> Any: ...


class LocalPolicy:
    """The local chat model (M2LA), decoding every action under the step's JSON schema."""

    def __init__(self, model: JsonChat, narrow: bool = True, name: str = "local") -> None:
        self.model = model
        self.narrow = narrow
        self.name = name
        # Seeing images takes both the flag and a `complete_json(..., images=...)` to send them through:
        # model.chat.ChatModel is text-only, and a model that claimed vision without that parameter would
        # fail every verify_frame with a TypeError instead of falling back to the other methods.
        self.sees_images = (bool(getattr(model, "sees_images", False))
                            and _takes_images(getattr(model, "complete_json", None)))

    def count_tokens(self, text: str) -> int:
        tok = getattr(self.model, "tokenizer", None)
        if tok is not None and hasattr(tok, "encode"):
            return len(tok.encode(text, add_special_tokens=False))
        return approx_tokens(text)

    def decide(self, messages: Messages, schema: Schema, max_new_tokens: int = 256,
               on_token: Callable[[str], None] | None = None) -> Decision:
        prompt_tokens = sum(self.count_tokens(m["content"]) for m in messages)
        action = self.model.complete_json(messages, schema, max_new_tokens=max_new_tokens, on_token=on_token)
        raw = json.dumps(action)
        if not isinstance(action, dict):
            return Decision(None, raw, prompt_tokens, "the model did not return an object")
        return Decision(action, raw, prompt_tokens + self.count_tokens(raw))

    def judge(self, images: Sequence[Image.Image], claim: str) -> tuple[str, str]:
        """The model's (yes | no | unsure, reason) on `claim` given the frames; PolicyError when text-only."""
        if not self.sees_images:
            raise PolicyError(f"{self.name} does not see images")
        messages = [{"role": "user", "content": prompts.VLM_JUDGE.format(claim=claim)}]
        out = self.model.complete_json(messages, VERDICT_SCHEMA, max_new_tokens=64,  # type: ignore[call-arg]
                                       images=list(images))
        return str(out.get("verdict", "unsure")), str(out.get("reason", ""))


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str                      # e.g. http://127.0.0.1:8000/v1 (vLLM, SGLang, Ollama, llama.cpp server)
    model: str                         # the served model's name
    api_key: str = ""                  # sent as a bearer token when set
    timeout_s: float = 120.0           # per request
    vision: bool = False               # the served model accepts images (then verify_frame asks it)
    temperature: float = 0.0           # deterministic by default


class OpenAIPolicy:
    """Any OpenAI-compatible /chat/completions endpoint; the action schema goes as response_format."""

    narrow = False
    name = "openai"

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        self.sees_images = config.vision

    @classmethod
    def from_env(cls) -> "OpenAIPolicy":
        base = os.environ.get("CITECLIP_OPENAI_BASE_URL", "").strip()
        model = os.environ.get("CITECLIP_OPENAI_MODEL", "").strip()
        if not base or not model:
            raise PolicyError("the openai profile needs CITECLIP_OPENAI_BASE_URL and CITECLIP_OPENAI_MODEL")
        if not base.startswith(("http://", "https://")):
            raise PolicyError(f"CITECLIP_OPENAI_BASE_URL must be an http(s) URL, got {base!r}")
        return cls(OpenAIConfig(base_url=base.rstrip("/"), model=model,
                                api_key=os.environ.get("CITECLIP_OPENAI_API_KEY", ""),
                                vision=os.environ.get("CITECLIP_OPENAI_VISION", "") in ("1", "true", "yes")))

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(self.config.base_url + "/chat/completions", method="POST",
                                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        if self.config.api_key:
            req.add_header("Authorization", f"Bearer {self.config.api_key}")
        try:
            with urllib.request.urlopen(req, timeout=self.config.timeout_s) as resp:
                return json.loads(resp.read().decode())
        except urllib.error.HTTPError as e:
            raise PolicyError(f"{self.config.base_url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
            raise PolicyError(f"{self.config.base_url}: {e}") from None

    def _chat(self, messages: list[dict[str, Any]], schema: dict[str, Any], max_new_tokens: int) -> tuple[str, int]:
        body = {"model": self.config.model, "messages": messages, "max_tokens": max_new_tokens,
                "temperature": self.config.temperature,
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": "action", "schema": schema, "strict": False}}}
        out = self._post(body)
        try:
            msg = out["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise PolicyError(f"{self.config.base_url}: the reply has no choices") from None
        raw = msg.get("content") or ""
        calls = msg.get("tool_calls") or []
        if not raw and calls:  # servers that answer with a tool call instead of content
            fn = calls[0].get("function", {})
            raw = json.dumps({"action": fn.get("name"), "arguments": json.loads(fn.get("arguments") or "{}")})
        used = int((out.get("usage") or {}).get("total_tokens") or 0)
        return raw, used

    def decide(self, messages: Messages, schema: Schema, max_new_tokens: int = 256,
               on_token: Callable[[str], None] | None = None) -> Decision:
        raw, used = self._chat(list(messages), schema, max_new_tokens)
        if on_token is not None:
            on_token(raw)
        action, err = parse_json(raw)
        tokens = used or sum(approx_tokens(m["content"]) for m in messages) + approx_tokens(raw)
        return Decision(action, raw, tokens, err)

    def judge(self, images: Sequence[Image.Image], claim: str) -> tuple[str, str]:
        if not self.sees_images:
            raise PolicyError("the endpoint is not marked as seeing images (CITECLIP_OPENAI_VISION)")
        content: list[dict[str, Any]] = [{"type": "text", "text": prompts.VLM_JUDGE.format(claim=claim)}]
        for im in images:
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=90)
            url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
            content.append({"type": "image_url", "image_url": {"url": url}})
        raw, _ = self._chat([{"role": "user", "content": content}], VERDICT_SCHEMA, 96)
        obj, _ = parse_json(raw)
        verdict = str((obj or {}).get("verdict", "unsure"))
        return (verdict if verdict in ("yes", "no", "unsure") else "unsure"), str((obj or {}).get("reason", ""))


def auto_profile(models_dir: str | os.PathLike[str] | None) -> tuple[str, str | None]:
    """("full", None) where a CUDA GPU and the full profile's weights are here, else ("lite", why not)."""
    import torch

    from assets import find_hub_model
    from assets.lookup import WeightsMissing
    from assets.registry import FULL_VLM

    if not torch.cuda.is_available():
        return "lite", "no CUDA GPU here"
    try:
        find_hub_model(FULL_VLM, models_dir)
    except WeightsMissing:
        return "lite", (f"the full profile's model ({FULL_VLM}) is not here; `python -m model fetch --profile full` "
                        "on a machine online gets it")
    return "full", None


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def make_policy(profile: str = "lite", library: Library | None = None, *,
                models_dir: str | os.PathLike[str] | None = None, quantize: str | None = None,
                narrow: bool | None = None, notice: Callable[[str], None] = _say) -> Policy:
    """The policy of a profile: lite (SmolLM2, text), full (the local VLM, which sees frames), auto (full where
    CUDA and its weights are here, else lite, with one line through `notice` saying why), openai (endpoint).

    `models_dir` defaults to the library's; `narrow` (enumerated options) defaults to the lite model.
    Tests build a `ScriptedPolicy` directly.
    """
    if profile == "openai":
        return OpenAIPolicy.from_env()
    if profile not in ("lite", "full", "auto"):
        raise PolicyError(f"unknown profile {profile!r}; use lite, full, auto, openai")
    try:
        from model.load import load_chat_model
    except ImportError as e:
        raise PolicyError(f"the local model is not available ({e})") from None
    models_dir = models_dir or (library.data.models_dir if library is not None else None)
    resolved = profile
    if profile == "auto":
        resolved, why = auto_profile(models_dir)
        if why:
            notice(f"profile auto: using lite, because {why}")
    try:
        model = load_chat_model(profile=resolved, models_dir=models_dir, quantize=quantize)
    except (ValueError, UserError) as e:
        if profile != "auto" or resolved == "lite":
            raise PolicyError(str(e)) from None
        notice(f"profile auto: using lite, because the full profile's model did not load: {e}")
        resolved = "lite"
        model = load_chat_model(profile=resolved, models_dir=models_dir, quantize=quantize)
    # The lite model (135M parameters) cannot plan free-form: it chooses among the loop's options.
    return LocalPolicy(model, narrow=resolved == "lite" if narrow is None else narrow, name=f"local-{resolved}")
