"""The README documents every command-line verb and every option of the app (fails when one is added silently)."""
from __future__ import annotations

import argparse
import re

import pytest

from agent.__main__ import parser as agent_parser
from bench.__main__ import VERBS as BENCH_VERBS
from memory.__main__ import _parser as memory_parser
from model.__main__ import VERBS as MODEL_VERBS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _subcommands(p: argparse.ArgumentParser) -> list[str]:
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return [name for s in subs for name in s.choices]


COMMANDS = ([f"python -m memory {v}" for v in _subcommands(memory_parser())]
            + [f"python -m agent {v}" for v in _subcommands(agent_parser())]
            + [f"python -m model {v}" for v in MODEL_VERBS]
            + [f"python -m bench {v}" for v in BENCH_VERBS])


def test_there_are_commands_to_check() -> None:
    assert {"python -m memory index", "python -m agent ask", "python -m model convert"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_is_in_readme(command: str) -> None:
    assert command in README, f"README does not document `{command}`"


def test_every_app_option_is_in_readme() -> None:
    # app.py's own parser: every long option it accepts must appear in the README's usage line.
    parsed = re.findall(r'add_argument\("(--[a-z-]+)"', (ROOT / "app.py").read_text())
    assert "--host" in parsed
    missing = [o for o in parsed if o not in README]
    assert not missing, f"README does not document app.py {missing}"
