"""Event dicts shaped like `agent.context` events' `to_dict()`, for the UI tests (no agent needed)."""
from __future__ import annotations

from typing import Any


def clip(start: float, end: float, score: float, sources: list[str], ref: str, snippet: str = "",
         thumb: str | None = None) -> dict[str, Any]:
    return {"video_id": 1, "start_s": start, "end_s": end, "score": score, "sources": sources, "snippet": snippet,
            "thumb": thumb, "keyframe_s": (start + end) / 2, "extra": {}, "ref": ref}


def session_events(thumb: str | None = None) -> list[dict[str, Any]]:
    """A whole session: task, thought, two retrievals, a verification, beliefs, and a cited answer."""
    t = 1000.0
    return [
        {"n": 0, "kind": "task", "question": "When is the red scene?", "video_id": 1, "duration_s": 60.0,
         "session_id": 7, "started": t, "finished": t, "spans": []},
        {"n": 1, "kind": "thought", "text": "Look for red.", "started": t, "finished": t + 1.5, "spans": []},
        {"n": 2, "kind": "tool_call", "tool": "retrieve_clip", "arguments": {"query": "red scene", "k": 2},
         "started": t + 1.5, "finished": t + 1.5, "spans": []},
        {"n": 3, "kind": "tool_result", "tool": "retrieve_clip", "call": 2, "error": None,
         "clips": [clip(10.0, 14.0, 0.9, ["image"], "c1", thumb=thumb),
                   clip(30.0, 31.0, 0.4, ["speech"], "c2", snippet="the red one")],
         "started": t + 1.5, "finished": t + 2.25, "spans": [[10.0, 14.0], [30.0, 31.0]]},
        {"n": 4, "kind": "tool_call", "tool": "retrieve_clip", "arguments": {"query": "word red on screen"},
         "started": t + 3, "finished": t + 3, "spans": []},
        {"n": 5, "kind": "tool_result", "tool": "retrieve_clip", "call": 4, "error": None,
         "clips": [clip(12.0, 13.0, 0.7, ["ocr", "fts"], "c3", snippet="RED")],
         "started": t + 3, "finished": t + 3.5, "spans": [[12.0, 13.0]]},
        {"n": 6, "kind": "tool_call", "tool": "verify_frame", "arguments": {"clip": "c1", "claim": "the scene is red"},
         "started": t + 4, "finished": t + 4, "spans": []},
        {"n": 7, "kind": "verification", "call": 6, "t_s": 12.0, "claim": "the scene is red", "verdict": "supported",
         "methods": ["clip", "ocr"], "evidence": "ocr read RED", "thumb": thumb, "ref": "c1", "scores": {},
         "error": None, "started": t + 4, "finished": t + 5, "spans": [[12.0, 12.0]]},
        {"n": 8, "kind": "belief", "hypotheses": [{"text": "red at 0:10", "confidence": 0.8, "supporting": [3, 7],
                                                   "refuting": [], "ref": "h1"}],
         "started": t + 5, "finished": t + 5, "spans": []},
        {"n": 9, "kind": "answer", "text": "The red scene is at 0:10.", "status": "answered",
         "citations": [{"video_id": 1, "start_s": 10.0, "end_s": 14.0, "confidence": 0.8, "evidence": [3, 7]}],
         "started": t + 5, "finished": t + 5, "spans": [[10.0, 14.0]]},
    ]
