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

from assets.errors import UserError

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = Path(__file__).with_name("schema.sql").read_text()  # the DDL, one statement per table

# Deleting a video must take everything derived from it; FTS rows follow through triggers.
_VIDEO_TABLES = ("vectors", "frames", "shots", "speech", "ocr", "stages", "sessions")


class StoreError(UserError, RuntimeError):
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
        """The video with this row id; None for an unknown id, or one no SQLite row id can be."""
        if not is_row_id(video_id):
            return None
        rows = list(self.db.query("SELECT * FROM videos WHERE id = ?", [video_id]))
        return Video.from_row(rows[0]) if rows else None

    def video_by_sha(self, sha256: str) -> Video | None:
        rows = list(self.db.query("SELECT * FROM videos WHERE sha256 = ?", [sha256]))
        return Video.from_row(rows[0]) if rows else None

    def videos(self) -> list[Video]:
        return [Video.from_row(r) for r in self.db.query("SELECT * FROM videos ORDER BY id")]

    def video_ids_by_sha_prefix(self, prefix: str, limit: int = 2) -> list[int]:
        """Ids of the videos whose sha256 starts with `prefix` (lower-case hex), at most `limit`."""
        return [r["id"] for r in self.db.query("SELECT id FROM videos WHERE sha256 LIKE ? LIMIT ?",
                                               [prefix + "%", limit])]

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

    def finished_stages(self) -> dict[int, set[str]]:
        """Every video's finished stage names, in one query."""
        out: dict[int, set[str]] = {}
        for vid, name in self.db.execute("SELECT video_id, name FROM stages").fetchall():
            out.setdefault(vid, set()).add(name)
        return out

    def row_counts(self, tables: tuple[str, ...]) -> dict[int, dict[str, int]]:
        """Per video, how many rows each of `tables` (our table names, never user input) holds; one query."""
        union = " UNION ALL ".join(f"SELECT '{t}', video_id, COUNT(*) FROM {t} GROUP BY video_id" for t in tables)
        out: dict[int, dict[str, int]] = {}
        for table, vid, n in self.db.execute(union).fetchall():
            out.setdefault(vid, dict.fromkeys(tables, 0))[table] = int(n)
        return out

    def count(self, table: str, video_id: int) -> int:
        """The rows of one video in `table` (one of our table names)."""
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table} WHERE video_id = ?", [video_id]).fetchone()[0])

    # -- shots and frames -----------------------------------------------------------------------
    def shots(self, video_id: int) -> list[dict[str, Any]]:
        """The video's shots in order: id, idx, start_s, end_s, keyframe_s, thumb (relative path or None)."""
        return list(self.db.query("SELECT id, idx, start_s, end_s, keyframe_s, thumb FROM shots "
                                  "WHERE video_id = ? ORDER BY idx", [video_id]))

    def shot_at(self, video_id: int, t_s: float) -> dict[str, Any] | None:
        """The shot on screen at `t_s` (the last one starting at or before it): keyframe_s, thumb."""
        rows = list(self.db.query("SELECT keyframe_s, thumb FROM shots WHERE video_id = ? AND start_s <= ? "
                                  "ORDER BY start_s DESC LIMIT 1", [video_id, t_s]))
        return rows[0] if rows else None

    def replace_shots(self, video_id: int, spans: list[tuple[float, float]]) -> None:
        """The video's shots, replacing old ones (call inside `atomic()`); their frames and image vectors go."""
        self.delete_vectors(video_id, "image")
        self.db.execute("DELETE FROM frames WHERE video_id = ?", [video_id])
        self.db.execute("DELETE FROM shots WHERE video_id = ?", [video_id])
        self.db["shots"].insert_all([{"video_id": video_id, "idx": i, "start_s": a, "end_s": b}
                                     for i, (a, b) in enumerate(spans)])

    def frames(self, video_id: int) -> list[dict[str, Any]]:
        """The video's keyframes by id: id, shot_id, t_s, thumb (relative path)."""
        return list(self.db.query("SELECT id, shot_id, t_s, thumb FROM frames WHERE video_id = ? ORDER BY id",
                                  [video_id]))

    def replace_frames(self, video_id: int, frames: list[dict[str, Any]]) -> None:
        """The video's keyframes (shot_id, t_s, thumb, main), replacing old ones and their image vectors;
        each shot's `main` frame becomes its keyframe and thumbnail (call inside `atomic()`)."""
        self.delete_vectors(video_id, "image")
        self.db.execute("DELETE FROM frames WHERE video_id = ?", [video_id])
        for f in frames:
            self.db["frames"].insert({"video_id": video_id, "shot_id": f["shot_id"], "t_s": f["t_s"],
                                      "thumb": f["thumb"]})
            if f["main"]:
                self.db.execute("UPDATE shots SET keyframe_s = ?, thumb = ? WHERE id = ?",
                                [f["t_s"], f["thumb"], f["shot_id"]])

    # -- speech and on-screen text --------------------------------------------------------------
    def replace_texts(self, kind: str, video_id: int, rows: list[dict[str, Any]]) -> None:
        """The video's "speech" or "ocr" rows, replacing old ones (call inside `atomic()`). New rows get
        new ids, so the old rows' vectors point at nothing: they go, and text_vectors is to run again."""
        self.delete_vectors(video_id, kind)
        self.db.execute("DELETE FROM stages WHERE video_id = ? AND name = 'text_vectors'", [video_id])
        self.db.execute(f"DELETE FROM {_text_table(kind)} WHERE video_id = ?", [video_id])
        if rows:
            self.db[kind].insert_all([{"video_id": video_id, **r} for r in rows])

    def texts(self, kind: str, video_id: int) -> list[tuple[int, str]]:
        """(row id, text) of the video's "speech" or "ocr" rows, by id."""
        return [(r[0], r[1]) for r in self.db.execute(
            f"SELECT id, text FROM {_text_table(kind)} WHERE video_id = ? ORDER BY id", [video_id]).fetchall()]

    def text_spans(self, kind: str, video_id: int, start_s: float | None = None, end_s: float | None = None
                   ) -> list[dict[str, Any]]:
        """The video's "speech" rows (start_s, end_s, text) or "ocr" rows (and conf) overlapping the range."""
        cols = "start_s, end_s, text" + (", conf" if kind == "ocr" else "")
        rng, args = _range_sql(start_s, end_s, _text_table(kind))
        return list(self.db.query(f"SELECT {cols} FROM {kind} WHERE video_id = ?{rng} ORDER BY start_s",
                                  [video_id, *args]))

    # -- vectors --------------------------------------------------------------------------------
    def delete_vectors(self, video_id: int, kind: str) -> None:
        """Drop one video's vectors of one kind (call inside `atomic()`)."""
        self.db.execute("DELETE FROM vectors WHERE video_id = ? AND kind = ?", [video_id, kind])

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

    def vector_ids(self, kind: str, model_id: str) -> np.ndarray:
        """The ids (int64, ascending) of one (kind, model)'s vectors: what its FAISS file must hold."""
        rows = self.db.execute("SELECT id FROM vectors WHERE kind = ? AND model_id = ? ORDER BY id",
                               [kind, model_id]).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def vector_kinds(self) -> list[tuple[str, str]]:
        """Every (kind, model_id) that has vectors."""
        return [(r[0], r[1]) for r in self.db.execute("SELECT DISTINCT kind, model_id FROM vectors").fetchall()]

    def generation(self) -> tuple[int, int] | None:
        """A value that changes whenever the database may have changed since it was last read.

        `PRAGMA data_version` moves when another connection (another process, or another Store in
        this one) commits; `total_changes` counts this connection's own writes. Inside an open
        transaction the answer is None: its writes may still be rolled back, which neither undoes.
        """
        conn = self.db.conn
        # Read before asking about the transaction: a write that starts in between (another thread
        # on this connection) then moves total_changes past what is remembered, never behind it.
        gen = (int(conn.execute("PRAGMA data_version").fetchone()[0]), int(conn.total_changes))
        return None if conn.in_transaction else gen

    # -- search candidates ----------------------------------------------------------------------
    def image_candidates(self, video_id: int, model_id: str, start_s: float | None = None,
                         end_s: float | None = None) -> dict[int, tuple[int, float, float, float, str | None]]:
        """The video's image vectors whose shot overlaps the range, with that shot and frame, in one query:
        vector id -> (shot id, shot start_s, shot end_s, frame t_s, frame thumb)."""
        rng, args = _range_sql(start_s, end_s, "s")
        rows = self.db.execute(
            "SELECT v.id, s.id, s.start_s, s.end_s, f.t_s, f.thumb FROM vectors v "
            "JOIN frames f ON f.id = v.ref_id JOIN shots s ON s.id = f.shot_id "
            f"WHERE v.kind = 'image' AND v.model_id = ? AND v.video_id = ?{rng}", [model_id, video_id, *args])
        return {r[0]: tuple(r[1:]) for r in rows.fetchall()}

    def text_candidates(self, kind: str, video_id: int, model_id: str, start_s: float | None = None,
                        end_s: float | None = None) -> dict[int, tuple[float, float, str]]:
        """The video's "speech" or "ocr" vectors whose text overlaps the range: vector id -> (start_s, end_s, text)."""
        rng, args = _range_sql(start_s, end_s, "t")
        rows = self.db.execute(
            f"SELECT v.id, t.start_s, t.end_s, t.text FROM vectors v JOIN {_text_table(kind)} t ON t.id = v.ref_id "
            f"WHERE v.kind = ? AND v.model_id = ? AND v.video_id = ?{rng}", [kind, model_id, video_id, *args])
        return {r[0]: (r[1], r[2], r[3]) for r in rows.fetchall()}

    def fts_matches(self, kind: str, match: str, video_id: int, limit: int, start_s: float | None = None,
                    end_s: float | None = None) -> list[tuple[int, float, float, str, float]]:
        """The video's "speech" or "ocr" rows that FTS5 `match` finds, best first:
        (row id, start_s, end_s, text, bm25 rank; lower is better)."""
        table = _text_table(kind)
        rng, args = _range_sql(start_s, end_s, "t")
        return [tuple(r) for r in self.db.execute(
            f"SELECT t.id, t.start_s, t.end_s, t.text, bm25({table}_fts) AS rank FROM {table}_fts "
            f"JOIN {table} t ON t.rowid = {table}_fts.rowid "
            f"WHERE {table}_fts MATCH ? AND t.video_id = ?{rng} ORDER BY rank LIMIT ?",
            [match, video_id, *args, int(limit)]).fetchall()]

    def fts_subset(self, kind: str, match: str, row_ids: list[int]) -> list[int]:
        """Which of `row_ids` FTS5 `match` finds in the "speech" or "ocr" text."""
        table = _text_table(kind)
        marks = ",".join("?" * len(row_ids))
        return [r[0] for r in self.db.execute(f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ? "
                                              f"AND rowid IN ({marks})", [match, *row_ids]).fetchall()]


def is_row_id(value: object) -> bool:
    """True for an int that SQLite can hold as a row id (1 .. 2**63 - 1); a bool is not one."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def parse_row_id(text: str | int) -> int | None:
    """A row id from user input ("12", 12), or None when it is not a whole number SQLite can hold."""
    if isinstance(text, int):
        return text if is_row_id(text) else None
    t = str(text).strip()
    if not t.isascii() or not t.isdigit() or len(t) > 19:
        return None
    n = int(t)
    return n if is_row_id(n) else None


def _text_table(kind: str) -> str:
    """The table of a kind of text; anything else is our bug (the name goes into SQL)."""
    if kind not in ("speech", "ocr"):
        raise LookupError(f"no text table {kind!r}")
    return kind


def _range_sql(start_s: float | None, end_s: float | None, alias: str) -> tuple[str, list[float]]:
    """The clause that keeps rows of `alias` overlapping [start_s, end_s] (either end open when None)."""
    sql, args = "", []
    if start_s is not None:
        sql, args = sql + f" AND {alias}.end_s >= ?", args + [float(start_s)]
    if end_s is not None:
        sql, args = sql + f" AND {alias}.start_s <= ?", args + [float(end_s)]
    return sql, args
