"""Policies: the OpenAI-compatible client against a local stub server, the local-model adapter, make_policy."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from PIL import Image

from agent.planners import open_schema
from agent.policy import (VERDICT_SCHEMA, LocalPolicy, OpenAIPolicy, PolicyError, ScriptedPolicy, make_policy,
                          parse_json)


class _Stub(BaseHTTPRequestHandler):
    replies: list[dict] = []
    requests: list[tuple[dict, dict]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Stub.requests.append((dict(self.headers), body))
        data = json.dumps(_Stub.replies.pop(0)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    srv = HTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("CITECLIP_OPENAI_BASE_URL", f"http://127.0.0.1:{srv.server_port}/v1")
    monkeypatch.setenv("CITECLIP_OPENAI_MODEL", "served-model")
    monkeypatch.setenv("CITECLIP_OPENAI_API_KEY", "sk-test")
    _Stub.requests.clear()
    yield srv
    srv.shutdown()


def _reply(content: str | None = None, tool_call: dict | None = None, tokens: int = 77) -> dict:
    msg = {"role": "assistant", "content": content}
    if tool_call:
        msg["tool_calls"] = [{"type": "function", "function": tool_call}]
    return {"choices": [{"message": msg}], "usage": {"total_tokens": tokens}}


def test_openai_policy_sends_the_schema_and_parses_the_action(server) -> None:
    action = {"action": "retrieve_clip", "arguments": {"query": "umbrella"}}
    _Stub.replies = [_reply("```json\n" + json.dumps(action) + "\n```"),
                     _reply(None, {"name": "verify_frame", "arguments": json.dumps({"clip": "c1", "claim": "x"})})]
    pol = make_policy("openai")
    assert isinstance(pol, OpenAIPolicy) and not pol.narrow
    d = pol.decide([{"role": "user", "content": "q"}], open_schema(), max_new_tokens=50)
    assert d.action == action and d.tokens == 77
    headers, body = _Stub.requests[0]
    assert headers["Authorization"] == "Bearer sk-test" and body["model"] == "served-model"
    assert body["response_format"]["json_schema"]["schema"] == open_schema() and body["max_tokens"] == 50
    d2 = pol.decide([{"role": "user", "content": "q"}], open_schema())
    assert d2.action == {"action": "verify_frame", "arguments": {"clip": "c1", "claim": "x"}}


def test_openai_vision_judge_sends_the_frame(server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITECLIP_OPENAI_VISION", "1")
    _Stub.replies = [_reply(json.dumps({"verdict": "yes", "reason": "a red square"}))]
    pol = OpenAIPolicy.from_env()
    assert pol.judge([Image.new("RGB", (64, 48), (200, 0, 0))], "a red square") == ("yes", "a red square")
    content = _Stub.requests[0][1]["messages"][0]["content"]
    assert content[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_openai_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITECLIP_OPENAI_BASE_URL", raising=False)
    with pytest.raises(PolicyError, match="CITECLIP_OPENAI_BASE_URL"):
        make_policy("openai")
    monkeypatch.setenv("CITECLIP_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("CITECLIP_OPENAI_MODEL", "m")
    with pytest.raises(PolicyError, match="127.0.0.1:9"):
        make_policy("openai").decide([{"role": "user", "content": "q"}], open_schema())
    with pytest.raises(PolicyError, match="unknown profile"):
        make_policy("huge")


class FakeChat:
    """model.chat.ChatModel's interface: records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[list, dict, int]] = []

    def complete_json(self, messages, schema, max_new_tokens, on_token=None):
        self.calls.append((messages, schema, max_new_tokens))
        return {"action": "retrieve_clip", "arguments": {"query": schema["properties"]["arguments"]["properties"]
                                                         ["query"]["enum"][1]}}


def test_local_policy_decodes_under_the_steps_schema() -> None:
    chat = FakeChat()
    pol = LocalPolicy(chat, narrow=True)
    schema = {"type": "object", "properties": {"action": {"const": "retrieve_clip"}, "arguments": {
        "type": "object", "properties": {"query": {"type": "string", "enum": ["a", "b"]}}}}}
    d = pol.decide([{"role": "user", "content": "hello there"}], schema, max_new_tokens=32)
    assert d.action["arguments"]["query"] == "b" and chat.calls[0][1] is schema and chat.calls[0][2] == 32
    assert d.tokens > 0 and not pol.sees_images
    with pytest.raises(PolicyError):
        pol.judge([], "x")


class VisionChat:
    """A chat model that takes frames: `complete_json(..., images=...)`."""

    sees_images = True

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def complete_json(self, messages, schema, max_new_tokens=256, on_token=None, images=None):
        self.calls.append({"messages": messages, "schema": schema, "images": images})
        return {"verdict": "no", "reason": "the square is blue"}


def test_local_policy_judge_sends_the_frames() -> None:
    chat = VisionChat()
    pol = LocalPolicy(chat)
    frame = Image.new("RGB", (8, 8), (0, 0, 255))
    assert pol.sees_images
    assert pol.judge((frame,), "a red square") == ("no", "the square is blue")
    call = chat.calls[0]
    assert call["images"] == [frame] and call["schema"] is VERDICT_SCHEMA
    assert "a red square" in call["messages"][0]["content"]


def test_local_policy_judge_never_raises_type_error_on_the_real_chat_model() -> None:
    from model.chat import ChatModel  # text-only: complete_json has no images parameter

    chat = object.__new__(ChatModel)  # no weights needed: only its signature is looked at
    chat.sees_images = True           # even a model that claims vision is not sent frames it cannot take
    pol = LocalPolicy(chat)
    assert not pol.sees_images
    with pytest.raises(PolicyError, match="does not see images"):
        pol.judge([Image.new("RGB", (8, 8))], "a red square")


def test_parse_json_and_scripted_policy() -> None:
    assert parse_json('noise {"a": 1} more') == ({"a": 1}, None)
    assert parse_json("[1]")[0] is None and parse_json("nothing")[1] == "no JSON object in the output"
    pol = ScriptedPolicy(['{"action": "x"}'])
    assert pol.decide([{"role": "user", "content": "q"}], {}).action == {"action": "x"}
    assert pol.decide([{"role": "user", "content": "q"}], {}).action["action"] == "answer"  # script ran out
