"""The SQL of the agent's `sessions` and `steps` tables (their schema lives in `memory.store`).

A session is one question about one video; each of its steps is one context event, stored as the
event's JSON. The agent builds and reads the payloads; this module only moves rows.
"""
from __future__ import annotations

import json
import time
from typing import Any

from memory.store import Store


def create_session(store: Store, video_id: int, question: str) -> int:
    """A new `running` session; returns its id."""
    with store.atomic() as db:
        cur = db.execute("INSERT INTO sessions (video_id, question, status, created) VALUES (?, ?, 'running', ?)",
                         [int(video_id), question, time.time()])
        return int(cur.lastrowid)


def save_step(store: Store, session_id: int, n: int, kind: str, payload: dict[str, Any],
              started: float | None, finished: float | None) -> None:
    """Write one step (idempotent per step number: a second write of `n` replaces the first)."""
    with store.atomic() as db:
        db.execute("INSERT OR REPLACE INTO steps (session_id, n, kind, payload, started, finished) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [session_id, n, kind, json.dumps(payload), started, finished])


def finish_session(store: Store, session_id: int, status: str, answer: dict[str, Any]) -> None:
    """Record the final status (answered | unverified | not_found | failed) and the answer JSON."""
    with store.atomic() as db:
        db.execute("UPDATE sessions SET status = ?, answer = ?, finished = ? WHERE id = ?",
                   [status, json.dumps(answer), time.time(), session_id])


def _with_answer(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "answer": json.loads(row["answer"]) if row["answer"] else {}}


def session_row(store: Store, session_id: int) -> dict[str, Any] | None:
    """The `sessions` row (its `answer` decoded to a dict, {} while running), or None when there is none."""
    rows = list(store.db.query("SELECT * FROM sessions WHERE id = ?", [int(session_id)]))
    return _with_answer(rows[0]) if rows else None


def session_rows(store: Store, video_id: int | None = None) -> list[dict[str, Any]]:
    """Every `sessions` row (of one video when given), newest first, answers decoded."""
    sql, args = "SELECT * FROM sessions", []
    if video_id is not None:
        sql, args = sql + " WHERE video_id = ?", [int(video_id)]
    return [_with_answer(r) for r in store.db.query(sql + " ORDER BY id DESC", args)]


def step_payloads(store: Store, session_id: int) -> list[dict[str, Any]]:
    """The saved step payloads of a session, in step order."""
    rows = store.db.query("SELECT payload FROM steps WHERE session_id = ? ORDER BY n", [int(session_id)])
    return [json.loads(r["payload"]) for r in rows]
