"""Sessions and their steps in the store's `sessions` and `steps` tables (one row per context event)."""
from __future__ import annotations

import json
import time
from typing import Any

from agent.context import Event
from memory.store import Store


def create_session(store: Store, video_id: int, question: str) -> int:
    """A new `running` session; returns its id."""
    with store.atomic() as db:
        cur = db.execute("INSERT INTO sessions (video_id, question, status, created) VALUES (?, ?, 'running', ?)",
                         [int(video_id), question, time.time()])
        return int(cur.lastrowid)


def save_step(store: Store, session_id: int, event: Event) -> None:
    """Persist one event as it happens (idempotent per step number)."""
    with store.atomic() as db:
        db.execute("INSERT OR REPLACE INTO steps (session_id, n, kind, payload, started, finished) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [session_id, event.n, event.kind, json.dumps(event.to_dict()), event.started, event.finished])


def finish_session(store: Store, session_id: int, status: str, answer: dict[str, Any]) -> None:
    """Record the final status (answered | unverified | not_found | failed) and the answer JSON."""
    with store.atomic() as db:
        db.execute("UPDATE sessions SET status = ?, answer = ?, finished = ? WHERE id = ?",
                   [status, json.dumps(answer), time.time(), session_id])
