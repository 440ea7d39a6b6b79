"""The trace: event dicts → gr.ChatMessage list (pending/done tool calls, nesting, durations)."""
from __future__ import annotations

import gradio as gr

from tests.ui_events import session_events
from ui import trace


def _by_id(msgs: list[gr.ChatMessage]) -> dict[str, gr.ChatMessage]:
    return {m.metadata["id"]: m for m in msgs if m.metadata and "id" in m.metadata}


def test_pending_call_turns_done_with_duration_when_its_result_arrives():
    events = session_events()
    msgs = trace.to_messages(events[:3], running=True)  # task, thought, retrieve call (no result yet)
    call = _by_id(msgs)["call-2"]
    assert call.metadata["status"] == "pending" and "duration" not in call.metadata
    assert _by_id(msgs)["working"].metadata["status"] == "pending"

    msgs = trace.to_messages(events[:4], running=True)
    call = _by_id(msgs)["call-2"]
    assert call.metadata["status"] == "done"
    assert call.metadata["duration"] == 0.75  # result finished 0.75 s after the call started
    result = _by_id(msgs)["result-3"]
    assert result.metadata["parent_id"] == "call-2"
    assert "2 clips" in result.metadata["title"]
    assert "`c1`" in result.content and "0:10.0–0:14.0" in result.content and "“the red one”" in result.content


def test_roles_thoughts_verification_and_answer():
    msgs = trace.to_messages(session_events(), running=False)
    assert msgs[0].role == "user" and msgs[0].content == "When is the red scene?"
    ids = _by_id(msgs)
    assert ids["thought-1"].metadata["duration"] == 1.5 and ids["thought-1"].content == "Look for red."
    verify = ids["verify-7"]
    assert verify.metadata["parent_id"] == "call-6" and "supported" in verify.metadata["title"]
    assert ids["call-6"].metadata["status"] == "done" and ids["call-6"].metadata["duration"] == 1.0
    assert "| red at 0:10 | 80% | 2 | 0 |" in ids["belief-8"].content
    final = msgs[-1]
    assert not final.metadata and "The red scene is at 0:10." in final.content
    assert "0:10.0–0:14.0 (80%)" in final.content
    assert "working" not in ids  # finished: no spinner left


def test_refused_call_and_unverified_answer_are_shown_in_plain_words():
    events = session_events()[:3] + [
        {"n": 3, "kind": "tool_result", "tool": "retrieve_clip", "call": 2, "clips": [],
         "error": "k must be between 1 and 20", "started": 1, "finished": 2, "spans": []},
        {"n": 4, "kind": "answer", "text": "Maybe at 0:10.", "status": "unverified", "citations": [],
         "started": 2, "finished": 2, "spans": []},
    ]
    msgs = trace.to_messages(events)
    refused = _by_id(msgs)["result-3"]
    assert "refused" in refused.metadata["title"] and refused.content == "k must be between 1 and 20"
    assert "Unverified" in msgs[-1].content


def test_result_without_back_reference_nests_under_the_open_call():
    events = session_events()[:4]
    events[3] = {k: v for k, v in events[3].items() if k != "call"}
    msgs = trace.to_messages(events)
    assert _by_id(msgs)["call-2"].metadata["status"] == "done"


def test_a_vlm_verification_shows_the_frames_it_looked_at_in_time_order():
    events = [e for e in session_events() if e["kind"] != "verification"]
    events.append({"kind": "verification", "n": 9, "ref": "c1", "t_s": 12.0, "verdict": "supported",
                   "claim": "a red car", "methods": ["vlm"], "evidence": "vlm on 2 frames: yes (red car)",
                   "frames": [{"t_s": 13.5, "thumb": "/d/thumbs/1/verify/b.jpg"},
                              {"t_s": 10.5, "thumb": "/d/thumbs/1/verify/a.jpg"}]})
    body = _by_id(trace.to_messages(events))["verify-9"].content
    assert "Frames the model looked at:** 0:10.5, 0:13.5" in body
    assert body.index("verify/a.jpg") < body.index("verify/b.jpg")
