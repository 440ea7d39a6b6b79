"""Shot detection: known cuts on synthetic video, the real hard cut in cityCC0, span splitting, VFR."""
from __future__ import annotations

from pathlib import Path

import pytest

from memory.stages.shots import ShotConfig, detect_cuts, split_spans
from tests.fixtures import synth

FPS = 25
CUT_TIMES = [1.2, 2.6, 4.04, 6.0, 7.48, 9.96, 12.5]


@pytest.fixture(scope="module", params=[(320, 240), (640, 360)], ids=["small", "plane-subsampled"])
def cuts_clip(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[Path, list[float]]:
    # 640 px wide is shrunk by subsampling the YUV planes, 320 px by swscale: both paths are checked.
    p = tmp_path_factory.mktemp("shots") / "cuts.mp4"
    return p, synth.cuts_video(p, CUT_TIMES, 15.0, fps=FPS, size=request.param)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "every-frame"])
def test_synthetic_cuts_within_one_frame_and_no_false_cut(cuts_clip: tuple[Path, list[float]], fast: bool) -> None:
    path, truth = cuts_clip
    cuts, end = detect_cuts(path, ShotConfig(skip_nonref=fast, skip_loop_filter=fast))
    found = [c.t_s for c in cuts]
    assert len(found) == len(truth), (found, truth)  # no false cut, none missed
    for f, t in zip(found, truth):
        assert abs(f - t) <= 1.0 / FPS + 1e-6, (found, truth)
    assert end == pytest.approx(15.0, abs=1.0 / FPS)


def test_city_hard_cut(media: Path) -> None:
    cuts, end = detect_cuts(media / "cityCC0.mpg")
    assert [round(c.t_s, 2) for c in cuts] == pytest.approx([4.64], abs=0.041)
    assert end == pytest.approx(7.6, abs=0.05)


@pytest.mark.parametrize("max_span", [10.0, 7.0])
def test_static_vtest_is_split_into_short_spans(media: Path, max_span: float) -> None:
    cuts, end = detect_cuts(media / "vtest.avi")
    assert cuts == []  # one static shot
    shots = split_spans([0.0, end], max_span)
    assert all(b - a <= max_span + 1e-9 for a, b, _ in shots)
    assert shots[0][0] == 0.0 and shots[-1][1] == pytest.approx(79.5)
    assert len(shots) == -(-79.5 // max_span)
    assert all(abs(s2[0] - s1[1]) < 1e-9 for s1, s2 in zip(shots, shots[1:]))  # contiguous


def test_split_spans_keeps_cuts_and_marks_them() -> None:
    shots = split_spans([0.0, 3.0, 25.0, 26.0], 10.0)
    assert [(round(a, 3), round(b, 3), c) for a, b, c in shots] == [
        (0.0, 3.0, False), (3.0, 10.333, True), (10.333, 17.667, False), (17.667, 25.0, False), (25.0, 26.0, True)]


def test_min_shot_length_suppresses_flicker(tmp_path: Path) -> None:
    # Two cuts 0.2 s apart: with a 0.6 s minimum only one survives.
    truth = synth.cuts_video(tmp_path / "flicker.mp4", [2.0, 2.2, 4.0], 6.0, fps=FPS)
    found = [c.t_s for c in detect_cuts(tmp_path / "flicker.mp4", ShotConfig(min_shot_s=0.6))[0]]
    assert (len(found) == 2 and found[0] == pytest.approx(truth[0], abs=1 / FPS)
            and found[1] == pytest.approx(4.0, abs=1 / FPS))
    found = [c.t_s for c in detect_cuts(tmp_path / "flicker.mp4", ShotConfig(min_shot_s=0.1))[0]]
    assert len(found) == 3


def test_vfr_cuts_from_timestamps(tmp_path: Path) -> None:
    info = synth.vfr_video(tmp_path / "vfr.mkv")
    for skip in (True, False):
        cuts, end = detect_cuts(tmp_path / "vfr.mkv", ShotConfig(skip_nonref=skip))
        # Exact frame times: a frame-count / fps clock would put the 8.023 s cut near 5.9 s.
        assert [c.t_s for c in cuts] == pytest.approx(info["cuts"], abs=1e-3)
        assert end == pytest.approx(info["duration_s"], abs=0.05)
