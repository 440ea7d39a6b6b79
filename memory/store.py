"""The SQLite library: the source of truth for videos, shots, frames, speech, OCR, vectors and agent sessions.

Every room reads and writes through `Store`; a stage writes its rows inside `store.atomic()` so a
crash leaves either all of a stage or none of it. Vectors are kept here as float32 blobs, so the
FAISS files are only a cache that can always be rebuilt (see `memory.index`).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 30_000

# One statement per table; FTS5 tables mirror speech and OCR text through triggers.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    title TEXT,
    path TEXT,
    size_bytes INTEGER,
    duration_s REAL,
    fps REAL,
    width INTEGER,
    height INTEGER,
    rotation INTEGER DEFAULT 0,
    has_audio INTEGER DEFAULT 0,
    visual INTEGER,              -- 1 image vectors exist, 0 no image encoder was available, NULL not yet known
    status TEXT NOT NULL DEFAULT 'indexing',   -- indexing | ready | failed
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stages (
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    seconds REAL,
    info TEXT,                   -- JSON: counts and facts the stage reports
    finished REAL,
    PRIMARY KEY (video_id, name)
);
CREATE TABLE IF NOT EXISTS shots (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    keyframe_s REAL,
    thumb TEXT,                  -- path relative to the data dir
    UNIQUE (video_id, idx)
);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    shot_id INTEGER NOT NULL REFERENCES shots(id) ON DELETE CASCADE,
    t_s REAL NOT NULL,
    thumb TEXT                   -- path relative to the data dir
);
CREATE TABLE IF NOT EXISTS speech (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    text TEXT NOT NULL,
    lang TEXT
);
CREATE TABLE IF NOT EXISTS ocr (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    start_s REAL NOT NULL,       -- first frame where the line was read
    end_s REAL NOT NULL,         -- last frame where the same line was read
    text TEXT NOT NULL,
    conf REAL
);
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- also the FAISS id; never reused, so a FAISS file whose ids
    --                                        match SQLite's holds these very rows (schema v2)
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,          -- image | speech | ocr
    ref_id INTEGER NOT NULL,     -- frames.id, speech.id or ocr.id
    model_id TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vec BLOB NOT NULL            -- float32, L2-normalised
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    video_id INTEGER REFERENCES videos(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',    -- running | answered | not_found | unverified | failed
    answer TEXT,                 -- JSON
    created REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,       -- JSON of the context event
    started REAL,
    finished REAL,
    UNIQUE (session_id, n)
);
CREATE INDEX IF NOT EXISTS shots_video ON shots(video_id, start_s);
CREATE INDEX IF NOT EXISTS frames_video ON frames(video_id, t_s);
CREATE INDEX IF NOT EXISTS speech_video ON speech(video_id, start_s);
CREATE INDEX IF NOT EXISTS ocr_video ON ocr(video_id, start_s);
CREATE INDEX IF NOT EXISTS vectors_kind ON vectors(kind, model_id);
CREATE INDEX IF NOT EXISTS vectors_ref ON vectors(kind, ref_id);
CREATE INDEX IF NOT EXISTS steps_session ON steps(session_id, n);
"""

# Deleting a video must take everything derived from it; FTS rows follow through triggers.
_VIDEO_TABLES = ("vectors", "frames", "shots", "speech", "ocr", "stages", "sessions")


class StoreError(RuntimeError):
    """A library problem worth one line to the user (schema too new, unknown video)."""


@dataclass(frozen=True)
class Video:
    """A row of `videos`, typed."""

    id: int
    sha256: str
    title: str
    path: str
    duration_s: float | None
    fps: float | None
    width: int | None
    height: int | None
    rotation: int
    has_audio: bool
    visual: bool | None
    status: str
    error: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Video":
        return cls(
            id=row["id"], sha256=row["sha256"], title=row["title"] or "", path=row["path"] or "",
            duration_s=row["duration_s"], fps=row["fps"], width=row["width"], height=row["height"],
            rotation=row["rotation"] or 0, has_audio=bool(row["has_audio"]),
            visual=None if row["visual"] is None else bool(row["visual"]),
            status=row["status"], error=row["error"],
        )


class Store:
    """One SQLite file opened in WAL mode with a busy timeout; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()  # one writer per process; other processes wait on busy_timeout
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        self.db.enable_wal()
        self._migrate()

    # -- schema ---------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self.lock:
            found = self.schema_version()
            if found is not None and found > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema v{found}; this CiteClip knows up to v{SCHEMA_VERSION}")
            if found == 1:
                self._v1_to_v2()
            self.db.conn.executescript(_SCHEMA)
            for table in ("speech", "ocr"):
                if not self.db[table].detect_fts():
                    self.db[table].enable_fts(["text"], fts_version="FTS5", create_triggers=True,
                                              tokenize="porter unicode61")
            self.db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    def _v1_to_v2(self) -> None:
        """v1 let SQLite reuse a deleted vector's id, so a stage that re-wrote the newest vectors could leave
        a FAISS file whose ids still matched but whose vectors were old; v2 copies them into an
        AUTOINCREMENT table (same ids, the counter starts after the largest)."""
        conn = self.db.conn
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'vectors'").fetchone()
        if sql is None or "AUTOINCREMENT" in sql[0].upper():
            return
        create = _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS vectors"):]
        create = create[: create.index(");") + 2].replace("IF NOT EXISTS vectors", "vectors_v2")
        with self.atomic():
            conn.execute(create)
            conn.execute("INSERT INTO vectors_v2 SELECT id, video_id, kind, ref_id, model_id, dim, vec FROM vectors")
            conn.execute("DROP TABLE vectors")  # its indexes go with it; _SCHEMA makes them again
            conn.execute("ALTER TABLE vectors_v2 RENAME TO vectors")

    def schema_version(self) -> int | None:
        if "meta" not in self.db.table_names():
            return None
        rows = list(self.db.query("SELECT value FROM meta WHERE key = 'schema_version'"))
        return int(rows[0]["value"]) if rows else None

    @contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        """A transaction (a savepoint when nested): all of its writes land, or none do."""
        with self.lock, self.db.atomic() as db:
            yield db

    def close(self) -> None:
        self.db.close()

    # -- videos ---------------------------------------------------------------------------------
    def video(self, video_id: int) -> Video | None:
        rows = list(self.db.query("SELECT * FROM videos WHERE id = ?", [video_id]))
        return Video.from_row(rows[0]) if rows else None

    def video_by_sha(self, sha256: str) -> Video | None:
        rows = list(self.db.query("SELECT * FROM videos WHERE sha256 = ?", [sha256]))
        return Video.from_row(rows[0]) if rows else None

    def videos(self) -> list[Video]:
        return [Video.from_row(r) for r in self.db.query("SELECT * FROM videos ORDER BY id")]

    def add_video(self, sha256: str, title: str, path: str, size_bytes: int) -> Video:
        """Insert a video in `indexing` state, or return the existing row with that sha256."""
        with self.atomic() as db:
            existing = self.video_by_sha(sha256)
            if existing:
                return existing
            now = time.time()
            db["videos"].insert({"sha256": sha256, "title": title, "path": path, "size_bytes": size_bytes,
                                 "status": "indexing", "created": now, "updated": now})
            return self.video_by_sha(sha256)  # type: ignore[return-value]

    def update_video(self, video_id: int, **fields: Any) -> None:
        with self.atomic() as db:
            db["videos"].update(video_id, {**fields, "updated": time.time()})

    def delete_video(self, video_id: int) -> None:
        """Remove a video and every row derived from it (the caller removes files and rebuilds FAISS)."""
        with self.atomic() as db:
            for table in _VIDEO_TABLES:
                db.execute(f"DELETE FROM {table} WHERE video_id = ?", [video_id])
            db.execute("DELETE FROM videos WHERE id = ?", [video_id])

    # -- stages ---------------------------------------------------------------------------------
    def stage_done(self, video_id: int, name: str) -> bool:
        rows = list(self.db.query("SELECT 1 FROM stages WHERE video_id = ? AND name = ?", [video_id, name]))
        return bool(rows)

    def mark_stage(self, video_id: int, name: str, seconds: float, info: dict[str, Any]) -> None:
        """Record a finished stage; call it inside the same `atomic()` block as the stage's rows."""
        self.db["stages"].upsert({"video_id": video_id, "name": name, "seconds": seconds,
                                  "info": json.dumps(info), "finished": time.time()},
                                 pk=("video_id", "name"))

    def stages(self, video_id: int) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for r in self.db.query("SELECT * FROM stages WHERE video_id = ? ORDER BY finished", [video_id]):
            out[r["name"]] = {"seconds": r["seconds"], "info": json.loads(r["info"] or "{}")}
        return out

    def clear_stages(self, video_id: int, names: list[str]) -> None:
        with self.atomic() as db:
            for name in names:
                db.execute("DELETE FROM stages WHERE video_id = ? AND name = ?", [video_id, name])

    # -- vectors --------------------------------------------------------------------------------
    def add_vectors(self, video_id: int, kind: str, model_id: str, ref_ids: list[int], vecs: np.ndarray) -> list[int]:
        """Insert L2-normalised float32 vectors; returns their row ids (the FAISS ids)."""
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        ids = []
        for ref, v in zip(ref_ids, vecs, strict=True):
            cur = self.db.execute(
                "INSERT INTO vectors (video_id, kind, ref_id, model_id, dim, vec) VALUES (?, ?, ?, ?, ?, ?)",
                [video_id, kind, int(ref), model_id, int(v.shape[0]), v.tobytes()])
            ids.append(int(cur.lastrowid))
        return ids

    def vectors(self, kind: str, model_id: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All (ids int64, vectors float32 [n, dim]) of one kind (and model), ordered by id."""
        sql, args = "SELECT id, dim, vec FROM vectors WHERE kind = ?", [kind]
        if model_id is not None:
            sql, args = sql + " AND model_id = ?", args + [model_id]
        rows = list(self.db.execute(sql + " ORDER BY id", args).fetchall())
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vecs = np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
        return ids, vecs
