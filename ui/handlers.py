"""The callbacks behind the page, one object per tab over one shared context.

`Handlers` holds the Library's `UIContext` (serving rules, agent functions, the lazily built
policy) and the three tabs' callbacks: `library_tab` (uploads, the indexing jobs, the videos table),
`ask_tab` (asking, replaying, seeking) and `export_tab` (downloads). Callbacks take and return plain
values and `gr.update`s; `ui.layout` wires them to components.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ui.ask_tab import AskTab
from ui.config import UIConfig
from ui.context import AgentAPI, UIContext
from ui.export_tab import ExportTab
from ui.jobs import JobManager
from ui.library_tab import LibraryTab

if TYPE_CHECKING:
    from agent.policy import Policy
    from memory.datadir import DataDir
    from memory.library import Library
    from memory.store import Store


class Handlers:
    """Every callback of the app, sharing one Library, one job queue and one policy."""

    def __init__(self, library: Library, policy_factory: Callable[[], Policy], config: UIConfig = UIConfig(),
                 agent_api: AgentAPI | None = None) -> None:
        self.ctx = UIContext(library, policy_factory, config, agent_api)
        self.library_tab = LibraryTab(self.ctx)
        self.ask_tab = AskTab(self.ctx)
        self.export_tab = ExportTab(self.ctx)

    @property
    def library(self) -> Library:
        return self.ctx.library

    @property
    def config(self) -> UIConfig:
        return self.ctx.config

    @property
    def agent(self) -> AgentAPI:
        return self.ctx.agent

    @property
    def data(self) -> DataDir:
        return self.ctx.library.data

    @property
    def store(self) -> Store:
        return self.ctx.library.store

    @property
    def jobs(self) -> JobManager:
        """The indexing job queue (the app resumes interrupted indexing through it)."""
        return self.library_tab.jobs

    def served_dirs(self) -> list[Path]:
        """The only folders the browser may fetch from (see `ui.paths`)."""
        return self.ctx.paths.served_dirs()

    def blocked_paths(self) -> list[Path]:
        """Never served, even through a link (see `ui.paths`)."""
        return self.ctx.paths.blocked_paths()
