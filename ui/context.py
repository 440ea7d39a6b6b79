"""What every tab of the page shares: the Library, the serving rules, the agent's functions and the policy.

The agent's functions come as an `AgentAPI` (injectable, so that tests can run the real UI against a
fake agent); the policy is built on the first question, because loading a model takes a while and
start-up must not.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui.config import UIConfig
from ui.fmt import shorten
from ui.paths import ServedPaths

if TYPE_CHECKING:  # types only: the page starts without loading the agent's or the memory's heavy modules
    from agent.policy import Policy
    from memory.library import Library
    from memory.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentAPI:
    """The agent room's functions the UI calls."""

    run: Callable[..., Iterator[Any]]                        # (library, video_id, question, policy) -> events
    load_session: Callable[[Store, int], dict[str, Any]]     # (store, session_id) -> {"steps": [...], ...}
    list_sessions: Callable[..., list[dict[str, Any]]]       # (store, video_id=None) -> [{...}]
    export: Callable[..., Path]                              # (library, session_id, fmt) -> path under exports/
    formats: tuple[str, ...]                                 # export formats, in button order


def default_agent_api() -> AgentAPI:
    """The real agent, imported only when the app is built (keeps `import ui` light)."""
    from agent import export as export_mod
    from agent import loop, session

    return AgentAPI(run=loop.run, load_session=session.load_session, list_sessions=session.list_sessions,
                    export=export_mod.export, formats=tuple(export_mod.FORMATS))


def choice_id(value: Any) -> int | None:
    """A dropdown value ('12', 12, '12 · title') as an id."""
    if value is None or value == "":
        return None
    try:
        return int(str(value).split(" ", 1)[0])
    except ValueError:
        return None


class UIContext:
    """The state the Library, Ask and Export tabs share."""

    def __init__(self, library: Library, policy_factory: Callable[[], Policy], config: UIConfig,
                 agent_api: AgentAPI | None = None) -> None:
        self.library = library
        self.config = config
        self.paths = ServedPaths(library.data)
        self.policy_factory = policy_factory
        self._policy: Policy | None = None
        self._policy_lock = threading.Lock()
        self._agent_api = agent_api

    @property
    def agent(self) -> AgentAPI:
        if self._agent_api is None:
            self._agent_api = default_agent_api()
        return self._agent_api

    def policy(self) -> Policy:
        """The policy, built on first use."""
        with self._policy_lock:
            if self._policy is None:
                self._policy = self.policy_factory()
            return self._policy

    def session_choices(self, video_id: int | None = None) -> list[tuple[str, str]]:
        """Past sessions as dropdown choices (label, id as str), newest first."""
        try:
            sessions = self.agent.list_sessions(self.library.store, video_id)
        except Exception as exc:  # noqa: BLE001 - a broken row must not break the page
            log.warning("listing sessions failed: %s", exc)
            return []
        out = []
        for s in sessions:
            sid = s.get("session_id", s.get("id"))
            out.append((f"#{sid} · {shorten(s.get('question', ''), 60)} · {s.get('status', '')}", str(sid)))
        return sorted(out, key=lambda c: -int(c[1]))
