"""Launching the real UI on a free port for the UI tests (in this process, on a thread)."""
from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from ui.handlers import Handlers

if TYPE_CHECKING:
    from agent.policy import Policy
    from memory.library import Library


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Running:
    demo: gr.Blocks
    handlers: Handlers
    url: str

    def close(self) -> None:
        self.handlers.jobs.stop()
        self.demo.close()


def start(library: Library, policy_factory: Callable[[], Policy], auth: list[tuple[str, str]] | None = None,
          **config: Any) -> Running:
    """Build and launch the app as app.py does (the real agent room, same serving rules), without blocking."""
    from ui.config import UIConfig
    from ui.layout import build_app, launch

    demo, h = build_app(library, policy_factory, UIConfig(**config))
    port = free_port()
    launch(demo, h, host="127.0.0.1", port=port, auth=auth, prevent_thread_lock=True, quiet=True)
    return Running(demo, h, f"http://127.0.0.1:{port}/")
