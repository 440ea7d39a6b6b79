"""A minimal stand-in for the agent room (`ui.handlers.AgentAPI`) used by the UI tests where the real
agent is not importable. It is not an agent: it replays a fixed plan over the video's real shots
(retrieve → verify → answer citing the first shot) and writes simple exports, so the UI's plumbing
(streaming, timeline, chips, sessions, downloads) can be exercised end to end."""
from __future__ import annotations

import csv
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ui.handlers import AgentAPI

FORMATS = ("json", "csv", "srt", "vtt", "edl", "chapters", "clips")


def _ts(t: float, sep: str) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


class FakeAgent:
    def __init__(self, step_delay_s: float = 0.0) -> None:
        self.sessions: dict[int, dict[str, Any]] = {}
        self.step_delay_s = step_delay_s

    def run(self, library: Any, video_id: int, question: str, policy: Any) -> Iterator[dict[str, Any]]:
        sid = len(self.sessions) + 1
        steps: list[dict[str, Any]] = []
        self.sessions[sid] = {"session_id": sid, "video_id": video_id, "question": question, "status": "running",
                              "steps": steps}
        shots = library.shots(video_id) or [{"start_s": 0.0, "end_s": 1.0, "thumb": None}]
        now = time.time()
        clips = [{"video_id": video_id, "start_s": s["start_s"], "end_s": s["end_s"], "score": 1.0 / (i + 1),
                  "sources": ["image"], "snippet": "", "thumb": s.get("thumb"), "keyframe_s": s.get("keyframe_s"),
                  "extra": {}, "ref": f"c{i + 1}"} for i, s in enumerate(shots[:3])]
        first = clips[0]
        plan = [
            {"kind": "task", "question": question, "video_id": video_id, "session_id": sid, "duration_s": 0.0},
            {"kind": "thought", "text": f"policy {getattr(policy, 'name', '?')}: look at the shots."},
            {"kind": "tool_call", "tool": "retrieve_clip", "arguments": {"query": question, "k": 3}},
            {"kind": "tool_result", "tool": "retrieve_clip", "call": 2, "clips": clips, "error": None},
            {"kind": "tool_call", "tool": "verify_frame", "arguments": {"clip": "c1", "claim": question}},
            {"kind": "verification", "call": 4, "t_s": first["keyframe_s"] or first["start_s"], "claim": question,
             "verdict": "supported", "methods": ["ocr"], "evidence": "fake", "thumb": first["thumb"], "ref": "c1"},
            {"kind": "answer", "text": "It is in the first shot.", "status": "answered",
             "citations": [{"video_id": video_id, "start_s": c["start_s"], "end_s": c["end_s"],
                            "confidence": 0.9 - 0.1 * i, "evidence": [3, 5]} for i, c in enumerate(clips[:2])]},
        ]
        for n, e in enumerate(plan):
            e = {"n": n, "started": now + n, "finished": now + n + 0.5, "spans": [], **e}
            steps.append(e)
            if self.step_delay_s:
                time.sleep(self.step_delay_s)
            yield e
        self.sessions[sid]["status"] = "answered"

    def load_session(self, store: Any, session_id: int) -> dict[str, Any]:
        if session_id not in self.sessions:
            raise KeyError(f"no session {session_id}")
        return self.sessions[session_id]

    def list_sessions(self, store: Any, video_id: int | None = None) -> list[dict[str, Any]]:
        return [s for s in self.sessions.values() if video_id is None or s["video_id"] == video_id]

    def export(self, library: Any, session_id: int, fmt: str, out: Path | None = None) -> Path:
        s = self.sessions[session_id]
        cites = s["steps"][-1]["citations"]
        d = library.data.exports_dir
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"session-{session_id}.{ {'chapters': 'txt', 'clips': 'zip'}.get(fmt, fmt)}"
        if fmt == "json":
            path.write_text(json.dumps({"session_id": session_id, "citations": cites}))
        elif fmt == "csv":
            with path.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["start_s", "end_s", "confidence"])
                for c in cites:
                    w.writerow([c["start_s"], c["end_s"], c["confidence"]])
        elif fmt in ("srt", "vtt"):
            sep = "," if fmt == "srt" else "."
            body = "".join(f"{i}\n{_ts(c['start_s'], sep)} --> {_ts(c['end_s'], sep)}\ncited {i}\n\n"
                           for i, c in enumerate(cites, 1))
            path.write_text(("WEBVTT\n\n" if fmt == "vtt" else "") + body)
        elif fmt == "edl":
            path.write_text("TITLE: fake\n" + "".join(
                f"{i:03d}  AX       V     C        {_ts(c['start_s'], ':')[:-4]}:00 {_ts(c['end_s'], ':')[:-4]}:00 "
                f"00:00:00:00 00:00:01:00\n" for i, c in enumerate(cites, 1)))
        elif fmt == "chapters":
            path.write_text("00:00 Start\n" + "".join(f"{int(c['start_s']) // 60:02d}:{int(c['start_s']) % 60:02d} "
                                                     f"cited {i}\n" for i, c in enumerate(cites, 1)))
        elif fmt == "clips":
            with zipfile.ZipFile(path, "w") as z:
                for i, c in enumerate(cites, 1):
                    z.writestr(f"clip{i}.txt", f"{c['start_s']}-{c['end_s']}")
        else:
            raise ValueError(f"unknown format {fmt}")
        return path

    def api(self) -> AgentAPI:
        return AgentAPI(run=self.run, load_session=self.load_session, list_sessions=self.list_sessions,
                        export=self.export, formats=FORMATS)
