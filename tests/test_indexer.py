"""The pipeline: identity by sha256, resumption after a crash or a kill, limits, bad files, timings."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import faiss
import pytest

from memory.datadir import DataDir
from memory.index import file_name
from memory.indexer import IndexerConfig
from memory.library import Library, LibraryConfig, LibraryError
from memory.worker import WorkerConfig, WorkerError, run_stage
from tests.fixtures import synth
from tests.fixtures.tiny_clip import save_tiny_clip

VISUAL = tuple(f"memory.stages.{name}" for name in ("probe", "shots", "keyframes", "image_vectors"))
WITH_CRASH = (*VISUAL[:2], "tests.fixtures.crash_stage", *VISUAL[2:])
TABLES = ("videos", "stages", "shots", "frames", "vectors", "speech", "ocr")


def _lib(data_dir: DataDir, stages=VISUAL, encoder=None, **opts) -> Library:
    cfg = IndexerConfig(stages=stages, stage_options=opts.pop("stage_options", {}), **opts)
    return Library(data_dir, image_encoder=encoder, config=LibraryConfig(indexer=cfg))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("idx") / "clip.mp4"
    synth.cuts_video(p, [1.0, 2.5, 4.0], 6.0, fps=25, size=(160, 120))
    return p


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip"))


def _counts(lib: Library) -> dict[str, int]:
    return {t: lib.store.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def test_same_file_twice_is_one_video(clip: Path, data_dir: DataDir, tmp_path: Path) -> None:
    with _lib(data_dir) as lib:
        first = lib.index_video(clip)
        finished = {r["name"]: r["finished"] for r in lib.store.db.query("SELECT * FROM stages")}
        copy = tmp_path / "renamed copy.mp4"
        shutil.copy(clip, copy)
        second = lib.index_video(copy)
        assert second["video_id"] == first["video_id"]
        assert {k: v for k, v in second.items() if k != "seconds"} == {k: v for k, v in first.items() if k != "seconds"}
        assert len(lib.videos()) == 1
        # nothing was recomputed
        assert finished == {r["name"]: r["finished"] for r in lib.store.db.query("SELECT * FROM stages")}
        assert lib.find_video(str(copy)).id == first["video_id"]
        assert lib.find_video(lib.videos()[0].sha256[:10]).id == first["video_id"]


def test_stage_timings_progress_and_summary(clip: Path, data_dir: DataDir) -> None:
    seen: list[tuple[str, float, str]] = []
    with _lib(data_dir) as lib:
        out = lib.index_video(clip, progress=lambda s, f, m: seen.append((s, f, m)))
        stages = lib.store.stages(out["video_id"])
        assert list(stages) == ["probe", "shots", "keyframes", "image_vectors"]
        assert all(s["seconds"] > 0 for s in stages.values())
        assert stages["shots"]["info"]["shots"] == out["shots"] == 4
        assert out["keyframes"] == 4 and out["visual"] is False and out["duration_s"] == pytest.approx(6.0)
        assert lib.store.video(out["video_id"]).status == "ready"
    done = [s for s, f, m in seen if f == 1.0 and m == "done"]
    assert done == ["probe", "shots", "keyframes", "image_vectors"]
    assert all(0.0 <= f <= 1.0 for _, f, _ in seen)


@pytest.mark.parametrize("mode,expect", [("raise", "deliberate failure with a second line"),
                                         ("bug", "could not be processed (internal RuntimeError)"),
                                         ("exit", "worker crashed (exit code 3)"),
                                         ("hang", "timed out after")])
def test_failed_stage_is_one_line_and_resumes(clip: Path, data_dir: DataDir, tiny: str, mode: str, expect: str) -> None:
    opts = {"stage_options": {"crash": {"mode": mode}}, "time_limit_base_s": 4.0, "time_limit_per_video_s": 0.0}
    with _lib(data_dir, WITH_CRASH, tiny, **opts) as lib:
        with pytest.raises(LibraryError) as ei:
            lib.index_video(clip)
        assert expect in str(ei.value) and "\n" not in str(ei.value)
        v = lib.videos()[0]
        assert v.status == "failed" and expect in v.error
        assert set(lib.store.stages(v.id)) == {"probe", "shots"}
        before = {r["name"]: r["finished"] for r in lib.store.db.query("SELECT * FROM stages")}
    _resume_and_check(data_dir, tiny, clip, before)


def _resume_and_check(data_dir: DataDir, tiny: str, clip: Path, before: dict[str, float]) -> None:
    with _lib(data_dir, VISUAL, tiny) as lib:
        out = lib.index_video(clip)
        assert out["visual"] is True and out["shots"] == 4
        after = {r["name"]: r["finished"] for r in lib.store.db.query("SELECT * FROM stages")}
        assert {k: after[k] for k in before} == before  # probe and shots were not run again
        assert set(after) == set(VISUAL_NAMES)
        enc = lib.image_encoder()
        sql_ids = [r[0] for r in lib.store.db.execute("SELECT id FROM vectors WHERE kind = 'image' ORDER BY id")]
        assert len(sql_ids) == 4
        index = faiss.read_index(str(data_dir.index_dir / file_name("image", enc.model_id)))
        assert sorted(faiss.vector_to_array(index.id_map).tolist()) == sql_ids


VISUAL_NAMES = ("probe", "shots", "keyframes", "image_vectors")


def test_killed_indexing_process_leaves_indexing_and_resumes(clip: Path, data_dir: DataDir, tiny: str) -> None:
    script = textwrap.dedent(f"""
        import os
        from memory.indexer import IndexerConfig
        from memory.library import Library, LibraryConfig
        crash = {{"mode": "kill_parent", "pid": os.getpid()}}
        cfg = IndexerConfig(stages={WITH_CRASH!r}, stage_options={{"crash": crash}})
        Library({str(data_dir.root)!r}, image_encoder={tiny!r},
                config=LibraryConfig(indexer=cfg)).index_video({str(clip)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    with _lib(data_dir) as lib:
        v = lib.videos()[0]
        assert v.status == "indexing"  # never `ready`, and not marked failed by a dead process
        assert set(lib.store.stages(v.id)) == {"probe", "shots"}
        before = {r["name"]: r["finished"] for r in lib.store.db.query("SELECT * FROM stages")}
        with pytest.raises(LibraryError, match="not indexed"):
            lib.search(v.id, "anything")
    _resume_and_check(data_dir, tiny, clip, before)


def test_bad_files_leave_no_rows(tmp_path: Path, data_dir: DataDir, clip: Path) -> None:
    bad = [synth.text_file_as_mp4(tmp_path / "notes.mp4"), tmp_path / "zero.mp4",
           synth.truncated_copy(clip, tmp_path / "half.mp4", 0.5)]
    bad[1].write_bytes(b"")
    with _lib(data_dir) as lib:
        for p in bad:
            with pytest.raises(LibraryError) as ei:
                lib.index_video(p)
            msg = str(ei.value)
            assert "\n" not in msg and p.name in msg, msg
        assert all(n == 0 for n in _counts(lib).values()), _counts(lib)
        with pytest.raises(LibraryError, match="no such file"):
            lib.index_video(tmp_path / "missing.mp4")


def test_worker_memory_limit_gives_a_clear_error() -> None:
    from memory.stages import StageContext
    ctx = StageContext(0, "", "", "", {}, {"mode": "oom"})
    with pytest.raises(WorkerError, match="out of memory"):
        run_stage("tests.fixtures.crash_stage", ctx, WorkerConfig(time_limit_s=60, memory_limit_bytes=2 * 2**30))
    with pytest.raises(WorkerError, match="killed by SIGSEGV"):
        run_stage("tests.fixtures.crash_stage", StageContext(0, "", "", "", {}, {"mode": "segv"}),
                  WorkerConfig(time_limit_s=60))


def test_delete_video_removes_rows_thumbs_and_vectors(clip: Path, data_dir: DataDir, tiny: str) -> None:
    with _lib(data_dir, VISUAL, tiny) as lib:
        vid = lib.index_video(clip)["video_id"]
        assert (data_dir.thumbs_dir / str(vid)).is_dir()
        lib.delete_video(vid)
        assert all(n == 0 for n in _counts(lib).values())
        assert not (data_dir.thumbs_dir / str(vid)).exists()
        assert not list(data_dir.index_dir.glob("*.faiss"))
        with pytest.raises(LibraryError):
            lib.find_video(vid)


def test_weights_that_appear_later_add_the_visual_channel(clip: Path, data_dir: DataDir, tiny: str) -> None:
    with _lib(data_dir) as lib:
        assert lib.index_video(clip)["visual"] is False
        before = {r["name"]: r["finished"] for r in lib.store.db.query("SELECT * FROM stages")}
    with _lib(data_dir, VISUAL, tiny) as lib:
        out = lib.index_video(clip)
        assert out["visual"] is True
        after = {r["name"]: r["finished"] for r in lib.store.db.query("SELECT * FROM stages")}
        assert all(after[k] == before[k] for k in ("probe", "shots", "keyframes"))
        assert after["image_vectors"] > before["image_vectors"]
        assert lib.store.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == out["keyframes"]
