"""FAISS as a cache of SQLite: ids, manifest, rebuilds after deletion, truncation or disagreement."""
from __future__ import annotations

import json
import time
from collections.abc import Callable

import faiss
import numpy as np
import pytest

from memory.index import VectorIndex, content_checksum, file_name, ids_checksum
from memory.store import Store


def _add(store: Store, n: int, dim: int = 8, model: str = "m1", seed: int = 0,
         kind: str = "image") -> tuple[list[int], np.ndarray]:
    rng = np.random.default_rng(seed)
    vid = store.add_video(f"{seed:064x}{kind}{model}"[:64], "v", "/x", 1).id
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with store.atomic():
        ids = store.add_vectors(vid, kind, model, list(range(n)), vecs)
    return ids, vecs


def test_ids_are_sqlite_row_ids_and_identical_vectors_rank_first(data_dir, fresh_db: Store) -> None:
    ids, vecs = _add(fresh_db, 50)
    vi = VectorIndex(data_dir, fresh_db)
    index = vi.ensure("image", "m1")
    assert isinstance(index, faiss.IndexIDMap2)
    assert sorted(faiss.vector_to_array(index.id_map).tolist()) == ids
    scores, got = vi.search("image", "m1", vecs[[3, 17]], k=5)
    assert got[:, 0].tolist() == [ids[3], ids[17]]
    assert scores[:, 0] == pytest.approx([1.0, 1.0], abs=1e-5)
    m = json.loads((data_dir.index_dir / "manifest.json").read_text())["files"][file_name("image", "m1")]
    assert m == {"kind": "image", "model_id": "m1", "dim": 8, "count": 50, "ids_sha256": ids_checksum(np.array(ids)),
                 "content_sha256": content_checksum(index)}


def test_allowed_ids_restrict_the_search(data_dir, fresh_db: Store) -> None:
    ids, vecs = _add(fresh_db, 20)
    vi = VectorIndex(data_dir, fresh_db)
    _, got = vi.search("image", "m1", vecs[0], k=3, allowed_ids=np.array(ids[10:13]))
    assert set(got[0].tolist()) == set(ids[10:13])


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage", "manifest"])
def test_damaged_file_is_rebuilt_with_same_results(data_dir, fresh_db: Store, damage: str) -> None:
    ids, vecs = _add(fresh_db, 40)
    vi = VectorIndex(data_dir, fresh_db)
    before = vi.search("image", "m1", vecs[:5], k=7)
    path = data_dir.index_dir / file_name("image", "m1")
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not faiss at all" * 10)
    else:
        (data_dir.index_dir / "manifest.json").write_text("{broken")
    fresh = VectorIndex(data_dir, fresh_db)  # a new process would start like this
    after = fresh.search("image", "m1", vecs[:5], k=7)
    assert fresh.rebuilds == 1
    assert np.array_equal(before[1], after[1]) and np.allclose(before[0], after[0], atol=1e-6)
    assert faiss.read_index(str(path)).ntotal == 40
    # and the live index notices a file cut under it, too
    if damage == "truncate":
        time.sleep(0.01)
        path.write_bytes(path.read_bytes()[:100])
        assert np.array_equal(fresh.search("image", "m1", vecs[:5], k=7)[1], before[1])
        assert fresh.rebuilds == 2


def test_index_follows_sqlite_when_they_disagree(data_dir, fresh_db: Store) -> None:
    ids, vecs = _add(fresh_db, 10)
    vi = VectorIndex(data_dir, fresh_db)
    vi.ensure("image", "m1")
    more, more_vecs = _add(fresh_db, 5, seed=1)  # rows written by another process
    _, got = vi.search("image", "m1", more_vecs[:1], k=1)
    assert got[0, 0] == more[0]
    fresh_db.delete_video(fresh_db.video_by_sha(f"{1:064x}imagem1"[:64]).id)
    vi.sync_all()
    assert vi.ensure("image", "m1").ntotal == 10


def test_one_file_per_kind_and_model(data_dir, fresh_db: Store) -> None:
    _add(fresh_db, 4, model="m1")
    _add(fresh_db, 6, dim=4, model="other/model", seed=2)
    _add(fresh_db, 3, kind="speech", model="m1", seed=3)
    vi = VectorIndex(data_dir, fresh_db)
    vi.sync_all()
    files = sorted(p.name for p in data_dir.index_dir.glob("*.faiss"))
    assert files == sorted([file_name("image", "m1"), file_name("image", "other/model"), file_name("speech", "m1")])
    assert vi.ensure("image", "other/model").d == 4


def _vector_reads(store: Store) -> tuple[list[str], Callable[[], None]]:
    """Record the statements that read every id of a vector space (what `ensure` does on a change)."""
    seen: list[str] = []

    def trace(sql: str) -> None:
        if sql.startswith("SELECT id FROM vectors"):
            seen.append(sql)

    store.db.conn.set_trace_callback(trace)
    return seen, lambda: store.db.conn.set_trace_callback(None)


def test_unchanged_database_is_not_read_again(data_dir, fresh_db: Store) -> None:
    ids, vecs = _add(fresh_db, 30)
    vi = VectorIndex(data_dir, fresh_db)
    first = vi.search("image", "m1", vecs[:3], k=4)
    reads, stop = _vector_reads(fresh_db)
    try:
        again = [vi.search("image", "m1", vecs[:3], k=4) for _ in range(5)]
        # A write elsewhere in the database (not to this space) costs one re-read, then none.
        with fresh_db.atomic():
            fresh_db.update_video(fresh_db.videos()[0].id, title="renamed")
        vi.search("image", "m1", vecs[:3], k=4)
        vi.search("image", "m1", vecs[:3], k=4)
    finally:
        stop()
    assert len(reads) == 1 and vi.rebuilds == 1
    for scores, got in again:
        assert np.array_equal(got, first[1]) and np.allclose(scores, first[0])


@pytest.mark.parametrize("writer", ["same connection", "another connection"])
def test_vectors_added_after_a_search_are_found(data_dir, fresh_db: Store, writer: str) -> None:
    ids, vecs = _add(fresh_db, 10)
    vi = VectorIndex(data_dir, fresh_db)
    assert set(vi.search("image", "m1", vecs[:1], k=20)[1][0].tolist()) == set(ids)
    # Another connection stands for another process (the indexer's worker, a second app).
    other = Store(data_dir.db_path) if writer == "another connection" else fresh_db
    try:
        more, more_vecs = _add(other, 5, seed=1)
    finally:
        if other is not fresh_db:
            other.close()
    scores, got = vi.search("image", "m1", more_vecs[:2], k=20)
    assert got[:, 0].tolist() == more[:2] and scores[:, 0] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert set(got[0].tolist()) == set(ids) | set(more)


def test_rolled_back_vectors_are_not_served(data_dir, fresh_db: Store) -> None:
    ids, vecs = _add(fresh_db, 10)
    vi = VectorIndex(data_dir, fresh_db)
    vi.search("image", "m1", vecs[:1], k=5)
    extra = np.eye(8, dtype=np.float32)[:2]
    with pytest.raises(RuntimeError), fresh_db.atomic():
        new = fresh_db.add_vectors(fresh_db.videos()[0].id, "image", "m1", [100, 101], extra)
        # This connection sees its own uncommitted rows, and so does a search through it ...
        assert vi.search("image", "m1", extra, k=1)[1][:, 0].tolist() == new
        raise RuntimeError("roll back")
    # ... which must not outlive the rollback.
    _, got = vi.search("image", "m1", extra, k=20)
    assert set(got[0].tolist()) == set(ids)


def test_rewritten_newest_vectors_are_not_served_stale(data_dir, fresh_db: Store) -> None:
    """A stage that runs again deletes its vectors and writes new ones: with reused row ids the FAISS
    file would still match SQLite's id list and keep answering with the old vectors."""
    ids, vecs = _add(fresh_db, 6)
    vi = VectorIndex(data_dir, fresh_db)
    vi.search("image", "m1", vecs[:1], k=3)
    vid = fresh_db.videos()[0].id
    new_vecs = -vecs  # same count, opposite directions
    with fresh_db.atomic() as db:
        db.execute("DELETE FROM vectors WHERE video_id = ? AND kind = 'image'", [vid])
        new_ids = fresh_db.add_vectors(vid, "image", "m1", list(range(6)), new_vecs)
    assert min(new_ids) > max(ids)
    scores, got = VectorIndex(data_dir, fresh_db).search("image", "m1", new_vecs[:2], k=1)
    assert got[:, 0].tolist() == new_ids[:2] and scores[:, 0] == pytest.approx([1.0, 1.0], abs=1e-5)
    scores, got = vi.search("image", "m1", new_vecs[:2], k=1)  # the live index, too
    assert got[:, 0].tolist() == new_ids[:2] and scores[:, 0] == pytest.approx([1.0, 1.0], abs=1e-5)


def test_v1_library_is_migrated_with_its_vector_ids(data_dir) -> None:
    import sqlite3

    from memory import store as store_mod

    v1 = store_mod._SCHEMA.replace("id INTEGER PRIMARY KEY AUTOINCREMENT,", "id INTEGER PRIMARY KEY,")
    assert v1 != store_mod._SCHEMA
    conn = sqlite3.connect(data_dir.db_path)
    conn.executescript(v1)
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO videos (id, sha256, title, path, size_bytes, status, created, updated) "
                 "VALUES (1, 'a', 'v', '/x', 1, 'ready', 0, 0)")
    vec = np.ones(4, np.float32) / 2
    conn.executemany("INSERT INTO vectors (id, video_id, kind, ref_id, model_id, dim, vec) "
                     "VALUES (?, 1, 'image', ?, 'm', 4, ?)",
                     [(i, i, vec.tobytes()) for i in (3, 9)])
    conn.commit()
    conn.close()
    store = Store(data_dir.db_path)
    try:
        assert store.schema_version() == 2
        sql = store.db.execute("SELECT sql FROM sqlite_master WHERE name = 'vectors'").fetchone()[0]
        assert "AUTOINCREMENT" in sql
        ids, got = store.vectors("image", "m")
        assert ids.tolist() == [3, 9] and np.array_equal(got[1], vec)
        with store.atomic():
            new = store.add_vectors(1, "image", "m", [0], vec[None])
            store.db.execute("DELETE FROM vectors WHERE id = ?", [new[0]])
            again = store.add_vectors(1, "image", "m", [0], vec[None])
        assert 9 < new[0] < again[0]  # the newest id is not handed out twice
        assert {r["name"] for r in store.db.query("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                   "AND tbl_name = 'vectors'")} >= {"vectors_kind", "vectors_ref"}
    finally:
        store.close()
    Store(data_dir.db_path).close()  # opening a v2 library again changes nothing
