"""Probe and decode: real clips, rotated and VFR fixtures, and files that are not whole videos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memory.decode import DecodeError, frame_at, frames_at
from memory.stages.probe import probe_file
from tests.fixtures import synth

# Durations from the media README; fps and sizes from the same table.
REAL = {
    "vtest.avi": (79.5, 10.0, (768, 576), False),
    "cockatoo.mp4": (14.0, 20.0, (1280, 720), True),
    "cityCC0.mpg": (7.6, 25.0, (720, 405), False),
    "tree.avi": (29.6, 15.0, (320, 240), False),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_clips_probe_and_decode(media: Path, name: str) -> None:
    duration, fps, size, audio = REAL[name]
    facts = probe_file(media / name)
    assert facts["duration_s"] == pytest.approx(duration, abs=0.05)
    assert facts["fps"] == pytest.approx(fps, rel=0.01)
    assert (facts["width"], facts["height"]) == size
    assert facts["has_audio"] is audio
    assert facts["rotation"] == 0
    # Frames decode across the whole clip, including near the end.
    got = list(frames_at(media / name, [0.0, duration / 2, duration - 0.2], max_side=160))
    assert len(got) == 3
    for (t, img), want in zip(got, [0.0, duration / 2, duration - 0.2]):
        assert max(img.size) == 160
        assert t <= want + 1e-6 and want - t < 1.0
        assert np.asarray(img).std() > 1.0  # a real picture, not a blank


def test_accurate_seek_lands_on_the_right_shot(tmp_path: Path) -> None:
    cuts = synth.cuts_video(tmp_path / "c.mp4", [2.0, 4.0], 6.0, fps=25)
    before = np.asarray(frame_at(tmp_path / "c.mp4", cuts[0] - 0.04)).reshape(-1, 3).mean(0)
    after = np.asarray(frame_at(tmp_path / "c.mp4", cuts[0])).reshape(-1, 3).mean(0)
    # The frame just before the cut is still shot 0 (red), the cut frame is shot 1 (green pattern).
    assert before[0] > 150 and before[1] < 100
    assert abs(after - before).sum() > 60


def test_rotated_fixture_is_reported(tmp_path: Path) -> None:
    synth.rotated_video(tmp_path / "r.mp4", rotation=90)
    facts = probe_file(tmp_path / "r.mp4")
    assert facts["rotation"] == 90
    img = frame_at(tmp_path / "r.mp4", 0.5)
    assert img.size == (120, 200)  # stored 200x120, shown portrait
    small = np.asarray(frame_at(tmp_path / "r.mp4", 0.5, max_side=100)).astype(int)  # scaled, still upright
    assert small.shape[:2] == (100, 60)
    assert small[20, 30, 0] > 150 and small[80, 30, 2] > 150 and small[2:10, 2:10].mean() > 180


def test_vfr_duration_from_timestamps(tmp_path: Path) -> None:
    info = synth.vfr_video(tmp_path / "v.mkv")
    facts = probe_file(tmp_path / "v.mkv")
    assert facts["duration_s"] == pytest.approx(info["duration_s"], abs=0.05)
    # frame count / nominal rate would be far off on this file
    assert len(info["times"]) / facts["fps"] < 0.8 * info["duration_s"]
    t, _ = next(frames_at(tmp_path / "v.mkv", [5.1]))
    assert t == pytest.approx(5.0, abs=1e-3)  # the 5 fps part: the frame on screen started at 5.0


def _one_line_error(path: Path) -> str:
    with pytest.raises(DecodeError) as ei:
        probe_file(path)
    msg = str(ei.value)
    assert "\n" not in msg and path.name in msg
    return msg


def test_bad_files_give_one_line_errors(tmp_path: Path) -> None:
    assert "not a readable video" in _one_line_error(synth.text_file_as_mp4(tmp_path / "notes.mp4"))
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty" in _one_line_error(tmp_path / "empty.mp4")
    synth.cuts_video(tmp_path / "whole.mp4", [1.0], 3.0)
    _one_line_error(synth.truncated_copy(tmp_path / "whole.mp4", tmp_path / "cut.mp4", 0.6))


def test_file_without_video_stream(tmp_path: Path) -> None:
    import av
    p = tmp_path / "tone.m4a"
    with av.open(str(p), "w") as out:
        st = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for i in range(10):
            frame.pts = i * 1024
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    assert "no video stream" in _one_line_error(p)
