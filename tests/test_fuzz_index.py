"""Issue 25's fuzz run (slow): mutated and truncated short cuts of the shared clips go through
`python -m memory index` into one data dir; no traceback, every failure one line, the library
intact and the good video's search unchanged after each batch. Counts: bench/results/fuzz-index.json."""
from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_reliability import ENV, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

CLIPS = ("cockatoo.mp4", "cityCC0.mpg", "tree.avi", "vtest.avi")
N_FILES = 52
BATCH = 13  # files per index process (the CLI indexes several files in one run)


def _cuts(media: Path, out: Path) -> list[Path]:
    """2-second stream copies of the shared clips: real codecs and containers, little to decode."""
    cuts = []
    for name in CLIPS:
        dst = out / f"cut-{Path(name).stem}{Path(name).suffix}"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(media / name), "-t", "2", "-c", "copy", "-y", str(dst)],
                       check=True)
        cuts.append(dst)
    return cuts


def _mutants(cuts: list[Path], out: Path, n: int, seed: int = 25) -> list[tuple[Path, str]]:
    rng = random.Random(seed)
    files = []
    for i in range(n):
        src = cuts[i % len(cuts)]
        data = bytearray(src.read_bytes())
        kind = ("truncate", "flip", "burst", "header")[i % 4]
        if kind == "truncate":
            data = data[: rng.randrange(16, len(data))]
        elif kind == "flip":
            for _ in range(rng.randrange(1, 60)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == "burst":
            at = rng.randrange(len(data) // 4, len(data))
            data[at:at + 200] = bytes(rng.randrange(256) for _ in range(len(data[at:at + 200])))
        else:
            for _ in range(20):
                data[rng.randrange(min(len(data), 4096))] = rng.randrange(256)
        dst = out / f"m{i:03d}-{kind}{src.suffix}"
        dst.write_bytes(bytes(data))
        files.append((dst, kind))
    return files


def _memory(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memory", *args], capture_output=True, text=True, timeout=1800,
                          env=ENV, cwd=ROOT)


def test_fuzz_index(media, tmp_path):
    data = str(tmp_path / "data")
    good = _memory("index", str(media / "vtest.avi"), "--data-dir", data, "--json")
    assert good.returncode == 0 and good.stderr == "", good.stderr
    gid = json.loads(good.stdout)["video_id"]
    query = ("search", str(gid), "a person walking", "--data-dir", data, "--json")
    baseline = json.loads(_memory(*query).stdout)["hits"]
    files = _mutants(_cuts(media, tmp_path), tmp_path, N_FILES)
    counts = {"files": len(files), "indexed": 0, "warned": 0, "refused": 0, "tracebacks": 0,
              "multi_line_failures": 0, "integrity_failures": 0, "search_changed": 0, "batches": 0}
    for b in range(0, len(files), BATCH):
        batch = files[b:b + BATCH]
        proc = _memory("index", *[str(p) for p, _ in batch], "--data-dir", data, "--json")
        counts["batches"] += 1
        counts["tracebacks"] += proc.stderr.count("Traceback")
        results = json.loads(proc.stdout)["results"]
        assert len(results) == len(batch)
        errors = [r for r in results if "error" in r]
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        counts["multi_line_failures"] += int(len(lines) != len(errors) or any(not ln.startswith("error: ")
                                                                               for ln in lines))
        counts["refused"] += len(errors)
        counts["indexed"] += len(results) - len(errors)
        counts["warned"] += sum(1 for r in results if r.get("warning"))
        with sqlite3.connect(Path(data) / "library.db") as db:
            counts["integrity_failures"] += int(db.execute("PRAGMA integrity_check").fetchone()[0] != "ok")
        counts["search_changed"] += int(json.loads(_memory(*query).stdout)["hits"] != baseline)
    out = ROOT / "bench" / "results" / "fuzz-index.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"test": "tests/test_fuzz_index.py", "clips": list(CLIPS), **counts}, indent=1) + "\n")
    assert counts["tracebacks"] == 0 and counts["multi_line_failures"] == 0, counts
    assert counts["integrity_failures"] == 0 and counts["search_changed"] == 0, counts
    assert counts["indexed"] + counts["refused"] == len(files)
