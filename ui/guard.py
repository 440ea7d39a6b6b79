"""A gate in front of Gradio's routes: files only when the library vouches for them, private events
only from the page itself.

Gradio checks that a requested file lies in an allowed folder; `ServeGuard` adds the library's own
rules (`ui.paths.ServedPaths.may_serve`: a regular file with one link, known to the library), so a
hard link to the database planted in uploads/ is refused. An event marked
`api_visibility="private"` is hidden from Gradio's API page and clients, but `/gradio_api/queue/join`
would still run it for anyone who names its fn_index; the gate lets it through only from a browser
on this very page (a same-origin `Origin` header, which a browser always sends on a POST and another
site cannot forge), so scripts and other sites get 403.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import gradio as gr

    from ui.handlers import Handlers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FILE_MARK = "/file="                                   # Gradio's file route: <root>/gradio_api/file=<path>
EVENT_ROUTES = ("/queue/join", "/run/", "/api/")       # routes that run an event (after /gradio_api)


@dataclass(frozen=True)
class GuardRules:
    """What the gate asks of the app."""

    may_serve: Callable[[str], bool]            # the path after file= -> may it be sent
    private_fn: Callable[[int | None, str | None], bool]  # (fn_index, api_name) -> is it a private event


class ServeGuard:
    """ASGI middleware applying `GuardRules` before Gradio sees a request."""

    def __init__(self, app: ASGIApp, rules: GuardRules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if FILE_MARK in path and "/gradio_api" in path and not self.rules.may_serve(path.split(FILE_MARK, 1)[1]):
            await _refuse(send, "not served")
            return
        route = path.split("/gradio_api", 1)[1] if "/gradio_api" in path else ""
        if scope.get("method") == "POST" and route.startswith(EVENT_ROUTES):
            body = await _read_body(receive)
            if not _same_origin(scope) and self._private(route, body):
                await _refuse(send, "this event is only for the page")
                return
            await self.app(scope, _replay(body, receive), send)
            return
        await self.app(scope, receive, send)

    def _private(self, route: str, body: bytes) -> bool:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return False  # Gradio refuses it itself
        fn_index = payload.get("fn_index") if isinstance(payload, dict) else None
        api_name = route.split("/", 2)[2].strip("/") if route.startswith(("/run/", "/api/")) else None
        return self.rules.private_fn(fn_index if isinstance(fn_index, int) else None, api_name)


def _same_origin(scope: Scope) -> bool:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    origin, host = headers.get("origin"), headers.get("host")
    return bool(origin and host) and urlsplit(origin).netloc == host


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return again


async def _refuse(send: Send, why: str) -> None:
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": why.encode()})


def private_events(demo: gr.Blocks) -> Callable[[int | None, str | None], bool]:
    """(fn_index, api_name) -> whether that event of `demo` is marked private."""
    def check(fn_index: int | None, api_name: str | None) -> bool:
        fns = demo.fns
        fn = fns.get(fn_index) if fn_index is not None else None
        if fn is None and api_name and api_name != "predict":
            fn = next((f for f in fns.values() if f.api_name == api_name), None)
        return fn is not None and fn.api_visibility == "private"
    return check


def app_kwargs(demo: gr.Blocks, h: Handlers) -> dict[str, Any]:
    """The `app_kwargs` of `demo.launch(...)` that put the gate in front of the app."""
    from starlette.middleware import Middleware

    paths = h.ctx.paths
    rules = GuardRules(may_serve=lambda raw: paths.may_serve(raw, h.library.videos()),
                       private_fn=private_events(demo))
    return {"middleware": [Middleware(ServeGuard, rules=rules)]}
