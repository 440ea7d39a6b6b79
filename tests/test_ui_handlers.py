"""The page's callbacks on a real Library (no media, no model): the library poll's cost and rows, the
Export tab's downloads, and where an upload is copied before indexing."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agent.export import ExportError
from memory.library import Library
from ui.handlers import Handlers
from ui.jobs import plain_error

SHOT_COUNTS = (3, 1, 4, 1, 5, 9, 2)  # one video per entry


def _add_video(library: Library, i: int, shots: int) -> int:
    """A video row with `shots` shots, 2 speech segments per shot and one text line per shot; odd ones
    are still indexing with no stage finished, even ones are ready."""
    store = library.store
    v = store.add_video(f"{i:064x}", f"clip{i}.mp4", f"/nowhere/clip{i}.mp4", 1000 + i)
    ready = i % 2 == 0
    store.update_video(v.id, status="ready" if ready else "indexing", duration_s=60.0 + i, visual=False,
                       has_audio=1)
    with store.atomic() as db:
        db["shots"].insert_all({"video_id": v.id, "idx": k, "start_s": k, "end_s": k + 1.0}
                               for k in range(shots))
        db["speech"].insert_all({"video_id": v.id, "start_s": k, "end_s": k + 0.5, "text": f"said {k}"}
                                for k in range(2 * shots))
        db["ocr"].insert_all({"video_id": v.id, "start_s": k, "end_s": k, "text": f"TEXT {k}"}
                             for k in range(shots))
        if ready:
            for stage in ("shots", "speech", "ocr"):
                store.mark_stage(v.id, stage, 0.1, {})
    return v.id


@pytest.fixture()
def handlers(tmp_path: Path) -> Iterator[Handlers]:
    library = Library(tmp_path / "data", image_encoder=None)
    h = Handlers(library, lambda: None)
    yield h
    h.jobs.stop()
    library.close()


def _poll_cost(h: Handlers, last_sig: str | None) -> tuple[int, int, tuple]:
    """(SQL queries, job snapshots) of one timer tick, and what it returned."""
    statements: list[str] = []
    snapshots = 0
    real_snapshot = h.jobs.snapshot

    def counting_snapshot() -> list[dict]:
        nonlocal snapshots
        snapshots += 1
        return real_snapshot()

    h.jobs.snapshot = counting_snapshot  # type: ignore[method-assign]
    h.store.db.conn.set_trace_callback(statements.append)
    try:
        out = h.library_tab.poll(last_sig)
    finally:
        h.store.db.conn.set_trace_callback(None)
        h.jobs.snapshot = real_snapshot  # type: ignore[method-assign]
    # sqlite-utils wraps a query in a savepoint: those are bookkeeping, not queries.
    queries = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    return len(queries), snapshots, out


def test_poll_costs_the_same_few_queries_whatever_the_library_size(handlers: Handlers) -> None:
    for i, n in enumerate(SHOT_COUNTS[:2]):
        _add_video(handlers.library, i, n)
    small, small_snaps, _ = _poll_cost(handlers, None)
    for i, n in enumerate(SHOT_COUNTS[2:], start=2):
        _add_video(handlers.library, i, n)
    big, big_snaps, (_html, rows, lib_choices, ask_choices, sig) = _poll_cost(handlers, None)
    assert big == small <= 3, (small, big)  # was 4 per video + 1 (and 2 more listings on a change)
    assert small_snaps == big_snaps == 1
    assert len(rows) == len(SHOT_COUNTS) and len(lib_choices["choices"]) == len(SHOT_COUNTS)
    assert len(ask_choices["choices"]) == len(SHOT_COUNTS[::2])  # the ready ones only
    unchanged, snaps, out = _poll_cost(handlers, sig)
    assert unchanged == big and snaps == 1 and out[4] == sig  # an unchanged library skips the table update


def test_library_rows_count_each_videos_own_rows(handlers: Handlers) -> None:
    ids = [_add_video(handlers.library, i, n) for i, n in enumerate(SHOT_COUNTS)]
    rows = {r[0]: r for r in handlers.library_tab.library_rows()}
    for i, (vid, n) in enumerate(zip(ids, SHOT_COUNTS)):
        row = rows[vid]
        assert row[1] == f"clip{i}.mp4" and row[4] == n
        if i % 2 == 0:
            assert row[2] == "ready" and row[5] == f"visual ✗ (no image model) · speech {2 * n} · text {n}"
        else:  # rows written, but their stages have not finished: not shown as counts yet
            assert row[2] == "indexing" and row[5] == "visual ✗ (no image model) · speech … · text …"


def test_an_empty_library_says_so(handlers: Handlers) -> None:
    assert handlers.library_tab.library_rows() == []
    html, rows, *_ = handlers.library_tab.poll(None)
    assert rows == [] and "library is empty" in html
    _add_video(handlers.library, 0, 1)
    assert "library is empty" not in handlers.library_tab.poll(None)[0]


def test_library_actions_wait_for_a_picked_video(handlers: Handlers) -> None:
    assert [u["interactive"] for u in handlers.library_tab.picked_actions(None)] == [False, False]
    assert [u["interactive"] for u in handlers.library_tab.picked_actions("3 · clip")] == [True, True]


def test_a_picked_session_gets_its_quick_downloads_but_no_cut_clips(handlers: Handlers, tmp_path: Path) -> None:
    written: list[tuple[int, str]] = []

    def fake_export(_library: object, sid: int, fmt: str) -> Path:
        written.append((sid, fmt))
        if fmt == "chapters":
            raise ExportError("YouTube needs at least 3 chapters; this session cites 1 moment")
        return tmp_path / f"session-{sid}.{fmt}"

    api = handlers.ctx.agent
    handlers.ctx._agent_api = replace(api, export=fake_export)
    *buttons, note = handlers.export_tab.prepare_quick("12 · where is it")
    formats = handlers.export_tab.formats()
    assert [f for _, f in written] == [f for f in formats if f != "clips"]  # nothing is cut on a pick
    by_fmt = dict(zip(formats, buttons))
    assert by_fmt["srt"]["interactive"] is True and by_fmt["srt"]["value"].endswith("session-12.srt")
    assert by_fmt["clips"]["interactive"] is False and by_fmt["chapters"]["interactive"] is False
    assert "session #12 are ready" in note and "Cut clips" in note and "3 chapters" in note
    written.clear()
    *buttons, note = handlers.export_tab.prepare_clips("12")
    assert written == [(12, "clips")] and dict(zip(formats, buttons))["clips"]["interactive"] is True
    assert handlers.export_tab.prepare_quick(None)[-1] == "Pick a session."


def test_a_file_that_is_not_a_video_is_refused_before_it_is_queued(handlers: Handlers, tmp_path: Path) -> None:
    bad = tmp_path / "notavideo.mp4"
    bad.write_bytes(b"these are not the frames you are looking for " * 200)
    note = handlers.library_tab.upload(str(bad))
    assert note == "“notavideo.mp4” is not a video CiteClip can read (not a video file, or a damaged one), so it was not added."
    assert handlers.jobs.snapshot() == []
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    assert "empty" in handlers.library_tab.upload(str(empty)) and handlers.jobs.snapshot() == []
    assert "not a video type" in handlers.library_tab.upload(str(tmp_path / "notes.txt"))


def test_an_upload_is_copied_under_its_hash_before_indexing(handlers: Handlers, tmp_path: Path) -> None:
    src = tmp_path / "my clip (1).mp4"
    src.write_bytes(b"not really a video " * 1000)
    indexed: list[Path] = []
    handlers.library.index_video = lambda p, progress=None: indexed.append(Path(p)) or {"video_id": 1}
    progress: list[tuple[str, float, str]] = []
    assert handlers.library_tab.ingest_and_index(src, lambda *a: progress.append(a)) == {"video_id": 1}
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = handlers.data.uploads_dir / digest[:16] / "my_clip_1_.mp4"
    assert indexed == [dest] and dest.read_bytes() == src.read_bytes()
    assert ("upload", 1.0, "checking the file") in progress and progress[-1] == ("upload", 1.0, "stored")


def test_ui_errors_follow_the_clis_list() -> None:
    from agent.export import ExportError
    from assets import WeightsMissing

    assert plain_error(WeightsMissing("no  weights\nfor lite")) == "no weights for lite"
    assert plain_error(ExportError("session 3 has no citations")) == "session 3 has no citations"
    assert plain_error(RuntimeError("boom")) == "RuntimeError: boom"  # our bug: its type is a hint
    assert plain_error(KeyError()) == "KeyError: KeyError"
