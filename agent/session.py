"""Sessions: ask a question (indexing the video first when it is a new file), load, list, replay."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent.context import Event, event_from_dict
from agent.loop import Budget, run
from agent.policy import Policy, make_policy
from memory.store import Store


class SessionError(LookupError):
    """An unknown session id: one line for the user."""


def resolve_video(library: Any, video_ref: str | int,
                  progress: Callable[[str, float, str], None] | None = None) -> Any:
    """The video a reference names; a file that is new (or half-indexed) is indexed first."""
    from memory.library import LibraryError

    path = Path(str(video_ref)).expanduser()
    try:
        video = library.find_video(video_ref)
    except LibraryError:
        if not path.is_file():
            raise
        return library.find_video(library.index_video(path, progress)["video_id"])  # by id: no second hash
    if video.status != "ready":
        if path.is_file():  # resumes an interrupted indexing
            return library.find_video(library.index_video(path, progress)["video_id"])
        if video.path and Path(video.path).is_file():
            library.index_video(video.path, progress)
            return library.find_video(video.id)
        raise LibraryError(f"video {video.id} is not indexed ({video.status}) and its file is gone")
    return video


def ask(library: Any, video_ref: str | int, question: str, policy: Policy | None = None,
        budget: Budget | None = None, profile: str = "lite",
        progress: Callable[[str, float, str], None] | None = None) -> Iterator[Event]:
    """Answer a question about a video (id, sha256 or file): yields the session's events as they happen."""
    video = resolve_video(library, video_ref, progress)
    policy = policy or make_policy(profile, library)
    yield from run(library, video.id, question, policy, budget)


def _session_row(store: Store, session_id: int) -> dict[str, Any]:
    rows = list(store.db.query("SELECT * FROM sessions WHERE id = ?", [int(session_id)]))
    if not rows:
        raise SessionError(f"no session with id {session_id}")
    return rows[0]


def _steps(store: Store, session_id: int) -> list[dict[str, Any]]:
    rows = store.db.query("SELECT payload FROM steps WHERE session_id = ? ORDER BY n", [int(session_id)])
    return [json.loads(r["payload"]) for r in rows]


def load_session(store: Store, session_id: int) -> dict[str, Any]:
    """A saved session: session_id, video_id, question, status, answer (text), citations, steps (event dicts)."""
    row = _session_row(store, session_id)
    answer = json.loads(row["answer"]) if row["answer"] else {}
    return {"session_id": row["id"], "video_id": row["video_id"], "question": row["question"],
            "status": row["status"], "answer": answer.get("text"), "citations": answer.get("citations", []),
            "steps": _steps(store, session_id)}


def list_sessions(store: Store, video_id: int | None = None) -> list[dict[str, Any]]:
    """Saved sessions, newest first: session_id, video_id, question, status, answer (text), created, finished."""
    sql, args = "SELECT * FROM sessions", []
    if video_id is not None:
        sql, args = sql + " WHERE video_id = ?", [int(video_id)]
    out = []
    for row in store.db.query(sql + " ORDER BY id DESC", args):
        answer = json.loads(row["answer"]) if row["answer"] else {}
        out.append({"session_id": row["id"], "video_id": row["video_id"], "question": row["question"],
                    "status": row["status"], "answer": answer.get("text"), "created": row["created"],
                    "finished": row["finished"]})
    return out


def session_json(store: Store, session_id: int) -> dict[str, Any]:
    """Exactly the object `python -m agent ask --json` prints (DESIGN, command-line contracts)."""
    row = _session_row(store, session_id)
    s = load_session(store, session_id)
    seconds = (row["finished"] - row["created"]) if row["finished"] else None
    return {"session_id": s["session_id"], "question": s["question"], "answer": s["answer"],
            "citations": s["citations"], "steps": s["steps"],
            "seconds": round(seconds, 3) if seconds is not None else None}


def replay(store: Store, session_id: int) -> Iterator[Event]:
    """The saved events of a session, rebuilt as event objects in their original order."""
    _session_row(store, session_id)
    for d in _steps(store, session_id):
        yield event_from_dict(d)
