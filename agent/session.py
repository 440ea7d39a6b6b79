"""Sessions: ask a question (indexing the video first when it is a new file), load, list, replay."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.context import Event, event_from_dict
from agent.loop import Budget, run
from agent.policy import Policy, make_policy
from assets.errors import UserError
from memory import sessions
from memory.store import Store, Video

if TYPE_CHECKING:
    from memory.library import Library

Progress = Callable[[str, float, str], None]


class SessionError(UserError, LookupError):
    """An unknown session id: one line for the user."""


def resolve_video(library: Library, video_ref: str | int, progress: Progress | None = None) -> Video:
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


def ask(library: Library, video_ref: str | int, question: str, policy: Policy | None = None,
        budget: Budget | None = None, profile: str = "lite", progress: Progress | None = None) -> Iterator[Event]:
    """Answer a question about a video (id, sha256 or file): yields the session's events as they happen."""
    video = resolve_video(library, video_ref, progress)
    policy = policy or make_policy(profile, library)
    yield from run(library, video.id, question, policy, budget)


def _session_row(store: Store, session_id: int) -> dict[str, Any]:
    row = sessions.session_row(store, session_id)
    if row is None:
        raise SessionError(f"no session with id {session_id}")
    return row


def load_session(store: Store, session_id: int) -> dict[str, Any]:
    """A saved session: session_id, video_id, question, status, answer (text), citations, steps (event dicts)."""
    row = _session_row(store, session_id)
    return {"session_id": row["id"], "video_id": row["video_id"], "question": row["question"],
            "status": row["status"], "answer": row["answer"].get("text"),
            "citations": row["answer"].get("citations", []), "steps": sessions.step_payloads(store, session_id)}


def list_sessions(store: Store, video_id: int | None = None) -> list[dict[str, Any]]:
    """Saved sessions, newest first: session_id, video_id, question, status, answer (text), created, finished."""
    return [{"session_id": row["id"], "video_id": row["video_id"], "question": row["question"],
             "status": row["status"], "answer": row["answer"].get("text"), "created": row["created"],
             "finished": row["finished"]} for row in sessions.session_rows(store, video_id)]


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
    for d in sessions.step_payloads(store, session_id):
        yield event_from_dict(d)
