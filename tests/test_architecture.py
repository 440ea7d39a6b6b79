"""The rooms keep their shape: imports point one way, and no module outgrows one job.

DESIGN's rule: `ui` may import `agent`, `memory`, `model`; `agent` may import `memory` and `model`;
`memory` and `model` import neither each other nor anything above them. `assets` is the leaf every
room may import (the weights registry and the user-error base class) and it imports no room.
Every import counts, also the lazy ones inside functions.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ROOMS = ("app", "ui", "agent", "memory", "model", "assets", "bench", "tests")
# room -> the rooms it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "assets": set(),
    "memory": {"assets"},
    "model": {"assets"},
    "agent": {"memory", "model", "assets"},
    "ui": {"agent", "memory", "model", "assets"},
    "app": {"ui", "agent", "memory", "model", "assets"},
}
MAX_LINES = 400


def _python_files(room: str) -> list[Path]:
    if room == "app":
        return [ROOT / "app.py"]
    return sorted(p for p in (ROOT / room).rglob("*.py") if ".venv" not in p.parts)


def _imported_rooms(path: Path) -> set[str]:
    """The project rooms `path` imports anywhere in its body (top level, functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names = [str(node.args[0].value)]
        else:
            continue
        found |= {n.split(".")[0] for n in names if n.split(".")[0] in ROOMS}
    return found


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_what_it_may(room: str) -> None:
    files = _python_files(room)
    assert files, f"room {room} has no Python files"
    bad = {f"{p.relative_to(ROOT)} imports {sorted(r)}"
           for p in files if (r := _imported_rooms(p) - ALLOWED[room] - {room})}
    assert not bad, "one-way import rule broken:\n" + "\n".join(sorted(bad))


def test_the_rule_checker_sees_lazy_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from model.lm import X\n    import memory.store\n"
                     "    importlib.import_module('agent.loop')\n")
    assert _imported_rooms(probe) == {"model", "memory", "agent"}


def test_no_module_outgrows_one_job() -> None:
    long = [f"{p.relative_to(ROOT)}: {n} lines" for room in ROOMS if room != "tests"
            for p in _python_files(room) if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines:\n" + "\n".join(long)
