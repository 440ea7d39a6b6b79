"""English text that nobody on the project wrote, split into calibration and held-out parts.

Sources present on every Debian machine with Python: the licence texts in /usr/share/common-licenses
and the docstrings of Python's own standard library (read with `ast`, nothing imported). The split is
by document, never inside one, and licence families that share whole paragraphs (GPL-2/GPL-3/LGPL,
GFDL-1.2/1.3) are kept out, so held-out text is not a near-copy of calibration text.
"""
from __future__ import annotations

import ast
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch

LICENCES = Path("/usr/share/common-licenses")


@dataclass(frozen=True)
class CorpusConfig:
    """Which documents go where."""

    calib_licences: tuple[str, ...] = ("GPL-3", "Apache-2.0", "GFDL-1.3", "CC0-1.0")  # calibration licence files
    heldout_licences: tuple[str, ...] = ("MPL-2.0", "Artistic", "BSD")  # held-out licence files (other families)
    calib_modules: tuple[str, ...] = (  # stdlib modules whose docstrings calibrate
        "argparse", "subprocess", "collections/__init__", "functools", "threading", "logging/__init__",
        "shutil", "tarfile", "zipfile/__init__", "socket", "inspect", "typing", "decimal", "heapq",
    )
    heldout_modules: tuple[str, ...] = (  # stdlib modules whose docstrings are held out
        "pathlib", "json/__init__", "textwrap", "difflib", "datetime", "fractions", "statistics", "contextlib",
    )


def _docstrings(module: str) -> str:
    """Module, class and function docstrings of one stdlib source file, in file order."""
    path = Path(sysconfig.get_paths()["stdlib"]) / f"{module}.py"
    if not path.is_file():
        return ""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = []
    for node in [tree, *ast.walk(tree)]:
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc and len(doc) > 80:
                parts.append(doc)
    return "\n\n".join(dict.fromkeys(parts))  # order-preserving de-duplication


def _licence(name: str) -> str:
    p = LICENCES / name
    return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else ""


def texts(part: str, config: CorpusConfig = CorpusConfig()) -> list[str]:
    """The documents of one part, "calib" or "heldout" (missing files are skipped)."""
    if part == "calib":
        docs = [_licence(n) for n in config.calib_licences] + [_docstrings(m) for m in config.calib_modules]
    elif part == "heldout":
        docs = [_licence(n) for n in config.heldout_licences] + [_docstrings(m) for m in config.heldout_modules]
    else:
        raise ValueError(f"unknown corpus part {part!r} (calib|heldout)")
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise FileNotFoundError("no corpus text found (Debian licences and the Python stdlib are both missing)")
    return docs


def evenly(rows: torch.Tensor, n: int) -> torch.Tensor:
    """n rows of rows [N, ...] evenly spaced from the first to the last (all N when n >= N), in order.

    The parts list their licences first, so the first rows would be licence text only: a sample taken
    this way reaches every document instead.
    """
    if n >= rows.shape[0]:
        return rows
    return rows[torch.linspace(0, rows.shape[0] - 1, n).round().long()]


def token_windows(tokenizer, part: str, seq_len: int, max_windows: int | None = None,
                  config: CorpusConfig = CorpusConfig()) -> torch.Tensor:
    """Non-overlapping windows [N, seq_len] of token ids from one part, documents joined by EOS.

    With max_windows, that many windows evenly spaced over the whole part (licences and docstrings alike).
    """
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for doc in texts(part, config):
        ids.extend(tokenizer(doc, add_special_tokens=False)["input_ids"])
        ids.append(eos)
    total = len(ids) // seq_len
    if total == 0:
        raise ValueError(f"corpus part {part!r} has fewer than {seq_len} tokens")
    windows = torch.tensor(ids[: total * seq_len], dtype=torch.long).view(total, seq_len)
    return windows if max_windows is None else evenly(windows, max(1, max_windows))
