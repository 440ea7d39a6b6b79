"""`python -m bench.speech_wer [--modes off hotwords prompt]`: the speech stage's word error rate and its
recall of proper names on the development films (tests/fixtures/devset.py) and the 10-minute narrated
fixture, with each way of handing Whisper the names the video shows on screen (`SpeechConfig.vocabulary`).

Each video's on-screen text is read once by the OCR stage (probe, shots, keyframes, ocr: the indexing
code path) and kept in the work folder; its names (`memory.speech_vocab.screen_vocabulary`) are the
vocabulary. The truth is the video's spoken sentences. WER is jiwer's on normalised words
(`bench.retrieval.wer`), so vocabulary words that Whisper writes without their being said count as
insertions. Name recall: the capitalised words of the truth other than a sentence's first word (proper
names, months) found among the transcript's words, spelt the same. The JSON goes to
bench/results/speech-wer.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.ocr_recall import _index, _models_dir
from bench.retrieval import wer
from memory.speech_vocab import VocabConfig, name_spans, screen_vocabulary
from memory.stages.speech import VOCABULARY_MODES, SpeechConfig, transcribe

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results" / "speech-wer.json"
OCR_STAGES = ("probe", "shots", "keyframes", "ocr")


def proper_names(sentences: list[str]) -> list[str]:
    """Capitalised words of the sentences, except each sentence's first word and "I" ("I'm", "I've")."""
    out = []
    for s in sentences:
        words = re.findall(r"[A-Za-z][A-Za-z'\u2019-]*", s)
        out += [w for w in words[1:] if w[0].isupper() and w != "I" and not w.startswith(("I'", "I\u2019"))]
    return out


def name_recall(names: list[str], transcript: str) -> tuple[float, list[str]]:
    """The share of `names` found (case-sensitive, as a word) in the transcript, and the names missed."""
    heard = set(re.findall(r"[A-Za-z][A-Za-z'\u2019-]*", transcript))
    missed = [n for n in names if n not in heard]
    return (round(1 - len(missed) / len(names), 3) if names else 1.0), missed


def screen_rows(name: str, video: Path, work: Path) -> list[dict[str, Any]]:
    """The OCR stage's rows for a video, read once and kept in `work` under the video's name and size."""
    cache = work / f"ocr-{name}-{video.stat().st_size}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    rows = _index(video, "lines", OCR_STAGES)["rows"]
    cache.write_text(json.dumps(rows))
    return rows


def videos(work: Path, long: bool) -> dict[str, tuple[Path, list[str]]]:
    """name -> (video, its spoken sentences): the development films, and the narrated fixture if `long`."""
    from tests.fixtures.devset import build_devset

    out = {n: (d.path, [s.text for s in d.speech])
           for n, d in build_devset(ROOT / "test-artifacts" / "devset").items()}
    if long:
        from tests.fixtures.narrated import make_narrated

        fx = make_narrated(work, long=True)
        out["narrated_long"] = (fx.path, [s.text for s in fx.speech])
    return out


def run_video(video: Path, truth: list[str], names: list[str], shown: list[tuple[float, float]],
              modes: tuple[str, ...]) -> dict[str, Any]:
    """WER, name recall and seconds of each vocabulary mode on one video (`shown`: when the names are
    on screen, which name_fix decodes again)."""
    models = os.environ.get("CITECLIP_MODELS")
    targets = proper_names(truth)
    out: dict[str, Any] = {"names_in_truth": targets, "vocabulary": names}
    for mode in modes:
        t0 = time.perf_counter()
        segs, info = transcribe(str(video), replace(SpeechConfig(), vocabulary=mode), models, vocabulary=names,
                                shown=shown)
        seconds = time.perf_counter() - t0
        text = " ".join(s.text for s in segs)
        recall, missed = name_recall(targets, text)
        out[mode] = {"wer": round(wer(truth, [s.text for s in segs]), 4), "name_recall": recall,
                     "names_missed": missed, "seconds": round(seconds, 1), "prompt": info.get("vocabulary", ""),
                     "speech_s": info.get("speech_s"), "redecoded_s": info.get("name_fix_s"),
                     "transcript": text}
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.speech_wer", description=__doc__.splitlines()[0])
    ap.add_argument("--modes", nargs="+", default=list(VOCABULARY_MODES), choices=VOCABULARY_MODES)
    ap.add_argument("--only", nargs="*", default=[], help="only these videos (by name)")
    ap.add_argument("--no-long", action="store_true", help="skip the 10-minute narrated fixture")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "citeclip-bench-fixtures"),
                    help="where the narrated fixture and the OCR rows are kept")
    ap.add_argument("--max-words", type=int, default=VocabConfig().max_words, help="the vocabulary's bound")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CITECLIP_MODELS", str(_models_dir()))
    vocab = VocabConfig(max_words=args.max_words)
    res: dict[str, Any] = {"config": SpeechConfig().__dict__, "vocab_config": vocab.__dict__,
                           "cpu_count": os.cpu_count(), "videos": {}}
    for name, (video, truth) in videos(work, not args.no_long).items():
        if args.only and name not in args.only:
            continue
        rows = screen_rows(name, video, work)
        names = screen_vocabulary(rows, vocab)
        res["videos"][name] = run_video(video, truth, names, name_spans(rows, names, vocab), tuple(args.modes))
        print(json.dumps({name: {m: {k: res["videos"][name][m][k] for k in ("wer", "name_recall", "seconds")}
                                 for m in args.modes}}), flush=True)
        Path(args.out).write_text(json.dumps(res, indent=1))  # after each video: a long run shows progress
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
