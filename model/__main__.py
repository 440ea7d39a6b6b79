"""`python -m model fetch|convert|heal|bench ...`: each verb lives in its own module's `main(argv)`."""
from __future__ import annotations

import importlib
import sys

VERBS = {
    "fetch": "model.assets",    # offline model weights into the data dir
    "convert": "model.convert",  # GQA -> M2LA conversion
    "heal": "model.heal",        # short distillation toward the source model
    "bench": "model.bench",      # KV bytes, perplexity and decode speed, JSON
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in VERBS:
        print(f"usage: python -m model {{{'|'.join(VERBS)}}} ...", file=sys.stderr)
        return 2
    module = importlib.import_module(VERBS[argv[0]])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
