"""`python -m bench index|m2la|agent|retrieval ...`: each benchmark lives in its own module's `main(argv)` and prints JSON."""
from __future__ import annotations

import importlib
import sys

VERBS = {
    "index": "bench.index",          # shot stage and visual index vs ffmpeg decode and PySceneDetect's default
    "m2la": "model.bench",           # M2LA KV bytes, perplexity and decode speed
    "agent": "bench.agent",          # citation hit rate, answer accuracy, steps and seconds per question
    "retrieval": "bench.retrieval",  # recall@k per channel and fused, indexing cost per stage
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in VERBS:
        print(f"usage: python -m bench {{{'|'.join(VERBS)}}} ...", file=sys.stderr)
        return 2
    module = importlib.import_module(VERBS[argv[0]])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
