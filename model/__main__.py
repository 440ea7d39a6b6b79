"""`python -m model fetch|convert|heal|bench ...`: each verb lives in its own module's `main(argv)`."""
from __future__ import annotations

import importlib
import sys

VERBS = {
    "fetch": "assets.fetch",         # offline model weights into the data dir
    "convert": "model.convert.cli",  # GQA -> M2LA conversion
    "heal": "model.convert.heal",    # short distillation toward the source model
    "bench": "bench.m2la",           # alias of `python -m bench m2la`: KV bytes, perplexity and decode speed, JSON
}


def dispatch(prog: str, verbs: dict[str, str], argv: list[str]) -> int:
    """Run `verbs[argv[0]].main(argv[1:])`, importing only that verb's module (start-up stays quick)."""
    if not argv or argv[0] not in verbs:
        print(f"usage: {prog} {{{'|'.join(verbs)}}} ...", file=sys.stderr)
        return 2
    module = importlib.import_module(verbs[argv[0]])
    return int(module.main(argv[1:]) or 0)


def main(argv: list[str]) -> int:
    return dispatch("python -m model", VERBS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
