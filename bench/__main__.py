"""`python -m bench index|m2la|agent|retrieval ...`: each benchmark lives in its own module's `main(argv)`
and prints JSON."""
from __future__ import annotations

import sys

from model.__main__ import dispatch

VERBS = {
    "index": "bench.index",          # shot stage and visual index vs ffmpeg decode and PySceneDetect's default
    "m2la": "bench.m2la",            # M2LA KV bytes, perplexity and decode speed
    "agent": "bench.agent",          # citation hit rate, answer accuracy, steps and seconds per question
    "retrieval": "bench.retrieval",  # recall@k per channel and fused, indexing cost per stage
    "ocr": "bench.ocr_recall",       # on-screen text recall (overlay fixture, cards) and OCR indexing speed
    "ocr-films": "bench.ocr_devfilms",  # on-screen text line recall on the development films
    "speech": "bench.speech_wer",    # speech WER and name recall, with and without the screen's names
}


def main(argv: list[str]) -> int:
    return dispatch("python -m bench", VERBS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
