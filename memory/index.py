"""FAISS indexes as a cache of the vectors in SQLite: one file per (kind, model_id).

FAISS ids are the SQLite row ids of `vectors` (IndexIDMap2 over an inner-product flat index of
L2-normalised vectors, so scores are cosine similarities). Files are written to a temporary name
and renamed; `index/manifest.json` records each file's model id, dimension, count, a checksum
of its ids and a checksum of its content (ids and vectors in file order, so flipped bytes or
vectors shuffled under the same ids are caught; hashing them costs far less than reading the
file). Whenever the file is missing, unreadable, or disagrees with the manifest or with
SQLite, it is rebuilt from SQLite, which stays the source of truth. Odd things in index/ (a file
where the folder should be, a folder where a file should be) are removed and rebuilt the same way.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from memory.datadir import DataDir
from memory.store import Store

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def ids_checksum(ids: np.ndarray) -> str:
    """sha256 of the sorted int64 ids: what the manifest and SQLite are compared on."""
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()


def content_checksum(index: faiss.Index) -> str:
    """sha256 of an IndexIDMap2-over-flat index's ids and vectors, in the order the file holds them."""
    h = hashlib.sha256()
    h.update(faiss.vector_to_array(index.id_map).astype(np.int64).tobytes())
    h.update(faiss.vector_to_array(faiss.downcast_index(index.index).codes).tobytes())
    return h.hexdigest()


def file_name(kind: str, model_id: str) -> str:
    """The index file of one (kind, model_id): readable, filesystem-safe and unique."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)[:60]
    digest = hashlib.sha256(f"{kind}\0{model_id}".encode()).hexdigest()[:8]
    return f"{kind}__{slug}__{digest}.faiss"


@dataclass
class _Loaded:
    index: faiss.Index
    checksum: str                 # of the ids, as SQLite had them when loaded
    stat: tuple[int, int]         # (size, mtime_ns) of the file: a file replaced or cut under us is reloaded
    generation: tuple[int, int] | None  # the database's generation when the ids were last read; None: unknown


class VectorIndex:
    """Loads, checks, rebuilds and searches the FAISS files of a data dir."""

    def __init__(self, data: DataDir, store: Store) -> None:
        self.data = data
        self.store = store
        self._cache: dict[tuple[str, str], _Loaded] = {}
        self._lock = threading.RLock()
        self.rebuilds = 0  # how many times an index was (re)built from SQLite: tests and logs read it

    # -- manifest ---------------------------------------------------------------------------------
    def _manifest_path(self) -> Path:
        return self.data.index_dir / MANIFEST

    def manifest(self) -> dict[str, Any]:
        """The manifest: {"files": {file name: {kind, model_id, dim, count, ids_sha256}}}."""
        try:
            m = json.loads(self._manifest_path().read_text())
            return m if isinstance(m.get("files"), dict) else {"files": {}}
        except (OSError, ValueError, AttributeError):
            return {"files": {}}

    def _write_manifest(self, m: dict[str, Any]) -> None:
        _atomic_write(self._manifest_path(), json.dumps(m, indent=1, sort_keys=True).encode())

    def repair(self) -> None:
        """Make index/ a folder again if something else took its place (it only holds a cache)."""
        self.data.repair_index_dir()

    # -- sync -------------------------------------------------------------------------------------
    def ensure(self, kind: str, model_id: str) -> faiss.Index:
        """The index of (kind, model_id), loaded from disk when it agrees with SQLite, else rebuilt.

        Cheap when nothing was written to the database and the file is untouched since the last
        call; otherwise the ids are read from SQLite again and compared by checksum.
        """
        with self._lock:
            key = (kind, model_id)
            cached = self._cache.get(key)
            path = self.data.index_dir / file_name(kind, model_id)
            gen = self.store.generation()
            if cached is not None and gen is not None and cached.generation == gen \
                    and _stat(path) == cached.stat:
                return cached.index
            want = ids_checksum(self.store.vector_ids(kind, model_id))
            if cached is not None and cached.checksum == want and _stat(path) == cached.stat:
                cached.generation = gen  # other rows changed, these ids did not
                return cached.index
            loaded = self._load(kind, model_id, path, want)
            if loaded is None:
                loaded = self._rebuild(kind, model_id, path)
            self._cache[key] = _Loaded(loaded, want, _stat(path), gen)
            return loaded

    def _load(self, kind: str, model_id: str, path: Path, want: str) -> faiss.Index | None:
        entry = self.manifest()["files"].get(path.name)
        if not isinstance(entry, dict) or entry.get("ids_sha256") != want or entry.get("model_id") != model_id \
                or not entry.get("content_sha256") or not path.is_file():
            return None
        try:
            index = faiss.read_index(str(path))
            ids = faiss.vector_to_array(index.id_map) if hasattr(index, "id_map") else None
            content = content_checksum(index) if ids is not None else None
        except Exception as exc:  # noqa: BLE001 - a damaged file is simply rebuilt
            log.info("FAISS file %s is unreadable (%s); rebuilding", path.name, type(exc).__name__)
            return None
        if ids is None or index.ntotal != entry.get("count") or ids_checksum(ids) != want \
                or content != entry["content_sha256"] or (index.ntotal and index.d != entry.get("dim")):
            log.info("FAISS file %s disagrees with its manifest or SQLite; rebuilding", path.name)
            return None
        return index

    def _rebuild(self, kind: str, model_id: str, path: Path) -> faiss.Index:
        ids, vecs = self.store.vectors(kind, model_id)  # [n], [n, dim]
        dim = int(vecs.shape[1]) if len(ids) else 0
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(max(dim, 1)))
        if len(ids):
            vecs = np.ascontiguousarray(vecs, dtype=np.float32)
            faiss.normalize_L2(vecs)
            index.add_with_ids(vecs, ids)
        self.repair()
        _atomic_write(path, faiss.serialize_index(index).tobytes())
        m = self.manifest()
        m["files"][path.name] = {"kind": kind, "model_id": model_id, "dim": dim, "count": int(len(ids)),
                                 "ids_sha256": ids_checksum(ids), "content_sha256": content_checksum(index)}
        self._write_manifest(m)
        self.rebuilds += 1
        return index

    def sync_all(self) -> None:
        """Bring every (kind, model_id) in SQLite up to date on disk, and drop files of vanished ones."""
        pairs = self.store.vector_kinds()
        for kind, model_id in pairs:
            self.ensure(kind, model_id)
        with self._lock:
            keep = {file_name(k, m) for k, m in pairs}
            m = self.manifest()
            for name in list(m["files"]):
                if name not in keep:
                    # No vectors of that space are left (videos deleted): the file goes too.
                    (self.data.index_dir / name).unlink(missing_ok=True)
                    del m["files"][name]
            self._write_manifest(m)
            self._cache = {k: v for k, v in self._cache.items() if file_name(*k) in keep}

    # -- search -----------------------------------------------------------------------------------
    def search(self, kind: str, model_id: str, queries: np.ndarray, k: int,
               allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cosine scores [n, k] and ids [n, k] (-1 where fewer exist), optionally among allowed ids."""
        index = self.ensure(kind, model_id)
        # A copy: normalize_L2 works in place, and the caller's vector may be shared (see search.shared).
        q = np.array(np.atleast_2d(queries), dtype=np.float32, order="C", copy=True)  # [n, dim]
        if index.ntotal == 0 or k < 1:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if q.shape[1] != index.d:
            raise ValueError(f"query dimension {q.shape[1]} != index dimension {index.d} for {model_id}")
        faiss.normalize_L2(q)
        params = None
        if allowed_ids is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64)))
        scores, ids = index.search(q, int(min(k, index.ntotal)), params=params)
        return scores, ids


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
        return (st.st_size, st.st_mtime_ns)
    except OSError:
        return (-1, -1)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old bytes or the new ones, never a mix.

    A folder (or anything but a file or a link) in the file's place is cleared first: in index/
    everything is rebuilt from SQLite, so nothing of value is lost.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
