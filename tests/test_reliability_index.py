"""Issue 25: FAISS files checked by content (a checksum of ids and vectors in the manifest), and odd
states of index/ repaired from SQLite."""
from __future__ import annotations

import json

import faiss
import numpy as np

from memory.datadir import DataDir
from memory.index import VectorIndex, file_name
from memory.library import Library
from memory.store import Store

MODEL = "test-model"


def _filled(root) -> tuple[DataDir, Store, np.ndarray]:
    data = DataDir(root).ensure()
    store = Store(data.db_path)
    video = store.add_video("ef" * 32, "v", "/nowhere.mp4", 1)
    rng = np.random.default_rng(25)
    vecs = rng.standard_normal((200, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with store.atomic():
        store.add_vectors(video.id, "ocr", MODEL, list(range(200)), vecs)
    return data, store, rng.standard_normal((8, 32)).astype(np.float32)


def _hits(data: DataDir, store: Store, queries: np.ndarray) -> tuple[np.ndarray, int]:
    vi = VectorIndex(data, store)  # a fresh process's view: nothing cached
    _, ids = vi.search("ocr", MODEL, queries, 5)
    return ids, vi.rebuilds


def test_flipped_bytes_in_vectors_are_caught_and_rebuilt(tmp_path):
    data, store, q = _filled(tmp_path / "d")
    baseline, built = _hits(data, store, q)
    assert built == 1
    assert _hits(data, store, q)[1] == 0  # an intact file is trusted
    path = data.index_dir / file_name("ocr", MODEL)
    raw = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    vec_area = (len(raw) - 200 * 8 - 200 * 32 * 4 - 64, len(raw) - 200 * 8 - 64)  # the flat codes, before the ids
    for i in rng.integers(*vec_area, size=50):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    hits, rebuilt = _hits(data, store, q)
    assert rebuilt == 1 and np.array_equal(hits, baseline)


def test_shuffled_vectors_under_the_same_ids_are_caught(tmp_path):
    data, store, q = _filled(tmp_path / "d")
    baseline, _ = _hits(data, store, q)
    path = data.index_dir / file_name("ocr", MODEL)
    index = faiss.read_index(str(path))
    flat = faiss.downcast_index(index.index)
    codes = faiss.vector_to_array(flat.codes).reshape(index.ntotal, -1)
    shuffled = np.ascontiguousarray(codes[np.random.default_rng(2).permutation(index.ntotal)]).ravel()
    faiss.copy_array_to_vector(shuffled, flat.codes)
    faiss.write_index(index, str(path))  # same ids, same count: the old id-only check trusted it
    hits, rebuilt = _hits(data, store, q)
    assert rebuilt == 1 and np.array_equal(hits, baseline)


def test_odd_index_dir_states_are_repaired(tmp_path):
    data, store, q = _filled(tmp_path / "d")
    baseline, _ = _hits(data, store, q)
    store.close()
    # A file where the folder should be: opening the library repairs it (no "[Errno 17] File exists").
    for p in data.index_dir.iterdir():
        p.unlink()
    data.index_dir.rmdir()
    data.index_dir.write_text("not a folder")
    with Library(data, image_encoder=None) as lib:
        assert data.index_dir.is_dir()
        assert np.array_equal(lib.index.search("ocr", MODEL, q, 5)[1], baseline)
    # A folder where the manifest (and a vector file) should be.
    (data.index_dir / "manifest.json").unlink()
    (data.index_dir / "manifest.json").mkdir()
    (data.index_dir / file_name("ocr", MODEL)).unlink()
    (data.index_dir / file_name("ocr", MODEL)).mkdir()
    with Library(data, image_encoder=None) as lib:
        assert np.array_equal(lib.index.search("ocr", MODEL, q, 5)[1], baseline)
        lib.index.sync_all()
    manifest = json.loads((data.index_dir / "manifest.json").read_text())
    assert manifest["files"][file_name("ocr", MODEL)]["content_sha256"]
