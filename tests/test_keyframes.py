"""Keyframes and thumbnails: upright, inside their shots, and on disk under the data dir."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from memory.stages.keyframes import KeyframeConfig, choose_times
from memory.library import Library
from tests.fixtures import synth


def test_choose_times_midpoints_and_snapping() -> None:
    shots = [(0.0, 4.0), (4.0, 10.0)]
    assert choose_times(shots, [], KeyframeConfig()) == [[2.0], [7.0]]
    # A key frame inside the shot is taken (the one nearest the middle); one outside it is not.
    assert choose_times(shots, [0.0, 1.5, 9.0], KeyframeConfig()) == [[1.5], [9.0]]
    assert choose_times(shots, [0.0, 1.5, 10.0], KeyframeConfig(snap_window=0.25)) == [[1.5], [7.0]]
    assert choose_times(shots, [4.0, 11.0], KeyframeConfig(snap_to_keyframe=False)) == [[2.0], [7.0]]
    assert choose_times([(0.0, 9.0)], [], KeyframeConfig(per_shot=3)) == [[1.5, 4.5, 7.5]]


def test_rotated_video_gives_upright_thumbnails(tmp_path: Path, data_dir) -> None:
    up = synth.rotated_video(tmp_path / "rot.mp4", rotation=90)
    with Library(data_dir, image_encoder=None) as lib:
        out = lib.index_video(tmp_path / "rot.mp4")
        shots = lib.shots(out["video_id"])
        assert shots and all(s["thumb"] for s in shots)
        for s in shots:
            img = np.asarray(Image.open(s["thumb"]).convert("RGB")).astype(int)
            assert img.shape[:2] == up.shape[:2]  # portrait, as displayed
            h = img.shape[0]
            assert img[h // 4, img.shape[1] // 2, 0] > 150 and img[h // 4, img.shape[1] // 2, 2] < 100   # red on top
            assert img[3 * h // 4, img.shape[1] // 2, 2] > 150 and img[3 * h // 4, img.shape[1] // 2, 0] < 100
            assert img[10:20, 10:20].mean() > 200  # the white marker is top-left: not mirrored
        # frame_at for the agent is upright too
        frame = np.asarray(lib.frame_at(out["video_id"], 1.0))
        assert frame.shape[:2] == up.shape[:2]
        assert np.abs(frame.astype(int) - up.astype(int)).mean() < 12


def test_keyframes_lie_inside_their_shots(tmp_path: Path, data_dir) -> None:
    synth.cuts_video(tmp_path / "c.mp4", [1.5, 3.0, 16.0], 18.0, fps=25)
    with Library(data_dir, image_encoder=None) as lib:
        vid = lib.index_video(tmp_path / "c.mp4")["video_id"]
        shots = lib.shots(vid)
        # 0-1.5, 1.5-3, 3-16 split in two spans, 16-18
        assert len(shots) == 5
        frames = list(lib.store.db.query(
            "SELECT f.t_s, f.thumb, s.start_s, s.end_s, s.keyframe_s FROM frames f JOIN shots s ON s.id = f.shot_id"))
        assert len(frames) == len(shots)
        for f in frames:
            assert f["start_s"] <= f["t_s"] <= f["end_s"]
            assert f["keyframe_s"] == f["t_s"]
            p = data_dir.root / f["thumb"]
            assert p.is_file() and str(f["thumb"]).startswith(f"thumbs/{vid}/")
            with Image.open(p) as im:
                assert im.format == "JPEG" and max(im.size) <= KeyframeConfig().thumb_max_side
