"""Issue 25 on real media: a damaged video is indexed except its bad stretch, work follows the frames
that exist, a killed indexer leaves nothing behind, and every user error is one plain line."""
from __future__ import annotations

import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memory.decode import DecodeError
from memory.library import Library, LibraryError
from memory.stages.probe import probe_file
from memory.stages.shots import scan_shots, split_spans

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def damage_payload(src: Path, dst: Path, n: int = 200, seed: int = 25) -> Path:
    """`src` with `n` random bytes written into its mdat payload (the moov box left whole)."""
    data = bytearray(src.read_bytes())
    at = data.find(b"mdat") - 4
    size = struct.unpack(">I", data[at:at + 4])[0]
    rng = random.Random(seed)
    for _ in range(n):
        data[rng.randrange(at + 16, at + size)] = rng.randrange(256)
    dst.write_bytes(bytes(data))
    return dst


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memory", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV, cwd=ROOT)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "Errno" not in proc.stderr and "/tmp" not in lines[0]
    return lines[0]


def test_damaged_cockatoo_is_ready_with_a_warning(media, tmp_path):
    bad = damage_payload(media / "cockatoo.mp4", tmp_path / "cockatoo-damaged.mp4")
    data = tmp_path / "data"
    proc = cli("index", str(bad), "--data-dir", str(data), "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # quiet on success: no progress bars, no resource_tracker warning
    out = json.loads(proc.stdout)
    assert 0 < out["unreadable_fraction"] < 0.05 and out["warning"].startswith("warning:")
    assert out["shots"] >= 1 and out["keyframes"] == out["shots"]
    with Library(data, image_encoder=None) as lib:
        v = lib.video(out["video_id"])
        assert v.status == "ready" and "could not be decoded" in v.error
        assert set(lib.finished_stages()[v.id]) >= {"probe", "shots", "keyframes", "speech", "ocr", "text_vectors"}
        assert all(Path(s["thumb"]).is_file() for s in lib.shots(v.id))
    found = cli("search", str(out["video_id"]), "a white bird", "--data-dir", str(data), "--json")
    assert found.returncode == 0 and "hits" in json.loads(found.stdout), found.stderr


def test_work_follows_the_decoded_frames(tmp_path):
    two = tmp_path / "two.mkv"  # two frames ten hours apart: claims 36,001 s
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=1", "-frames:v", "2",
                    "-vf", "setpts=N*36000/TB", "-c:v", "libx264", "-y", str(two)], check=True)
    facts = probe_file(two)
    assert facts["duration_s"] > 36000
    scan = scan_shots(two)
    shots = split_spans([0.0, *[c.t_s for c in scan.cuts], facts["duration_s"]], 10.0, scan.frame_times)
    assert len(scan.frame_times) == 2 and len(shots) == 2  # not 3,601
    assert split_spans([0.0, 25.0], 10.0) == split_spans([0.0, 25.0], 10.0, [1.0, 11.0, 21.0])  # normal video: same


@pytest.mark.parametrize("fmt", ["png", "mjpeg"])
def test_still_image_renamed_mp4_is_refused(tmp_path, fmt):
    img = tmp_path / f"still.{'png' if fmt == 'png' else 'jpg'}"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", "-y",
                    str(img)], check=True)
    renamed = tmp_path / "holiday.mp4"
    img.rename(renamed)
    with pytest.raises(DecodeError, match=r"^holiday.mp4: a still image, not a video$"):
        probe_file(renamed)


def test_user_errors_are_one_plain_line(media, tmp_path):
    data = str(tmp_path / "data")
    huge = tmp_path / "huge.y4m"
    huge.write_bytes(b"YUV4MPEG2 W60000 H60000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\x80" * 1000)
    moov = bytearray((media / "cockatoo.mp4").read_bytes())
    at = moov.find(b"stsd")
    moov[at + 4:at + 120] = b"\xff" * 116  # the sample description in the moov box
    (tmp_path / "moov.mp4").write_bytes(bytes(moov))
    at = moov.find(b"avcC")
    moov[at + 4:at + 40] = bytes(36)  # the decoder's configuration
    (tmp_path / "avcc.mp4").write_bytes(bytes(moov))
    targets = (huge, Path("/dev/zero"), tmp_path / "moov.mp4", tmp_path / "avcc.mp4", tmp_path / "missing.mp4")
    for target in map(str, targets):
        line = one_line_error(cli("index", target, "--data-dir", data, "--json"))
        assert Path(target).name in line
    assert "no video with id" in one_line_error(cli("search", str(10**30), "q", "--data-dir", data))
    with Library(data, image_encoder=None) as lib:
        for ref in (10**30, -1, "abc", "12abc"):
            assert lib.video(ref) is None
        with pytest.raises(LibraryError, match="^no video with id 1000"):
            lib.find_video(10**30)
        assert lib.shots(10**30) == [] and lib.transcript("abc") == []


def test_leading_dash_file_is_a_file(media, tmp_path):
    dashed = tmp_path / "-leading-dash.avi"
    dashed.write_bytes((media / "cityCC0.mpg").read_bytes())
    proc = subprocess.run([sys.executable, "-m", "memory", "index", "--json", "--data-dir", str(tmp_path / "d"),
                           "-leading-dash.avi"], capture_output=True, text=True, timeout=600, env=ENV, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["shots"] >= 2


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.split("\n")
    parent = {int(p): int(pp) for p, pp in (line.split() for line in out if line.strip())}
    found: set[int] = set()
    while True:
        more = {p for p, pp in parent.items() if (pp == pid or pp in found) and p not in found}
        if not more:
            return found
        found |= more


def _alive(pids: set[int]) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,stat="], capture_output=True, text=True).stdout.split("\n")
    return {int(p) for p, st in (line.split()[:2] for line in out if line.strip()) if int(p) in pids and "Z" not in st}


def test_killed_indexer_leaves_no_workers(media, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "memory", "index", str(media / "vtest.avi"), "--data-dir",
                             str(tmp_path / "d"), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ENV, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 120
    kids: set[int] = set()
    while len(kids) < 3 and time.monotonic() < deadline:  # tracker, fork server and a worker forked from it
        time.sleep(0.2)
        kids = _descendants(proc.pid)
    assert len(kids) >= 3, "no worker started"
    try:
        os.kill(proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        proc.communicate(timeout=10)  # the pipes reach EOF: no child holds them
        assert time.monotonic() - t0 < 5
        while _alive(kids) and time.monotonic() - t0 < 5:
            time.sleep(0.1)
        assert not _alive(kids), "children outlived the indexer by 5 s"
    finally:
        for pid in _alive(kids | {proc.pid}):
            os.kill(pid, signal.SIGKILL)
