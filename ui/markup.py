"""The HTML the page shows outside Gradio's own components: the indexing jobs' cards."""
from __future__ import annotations

from html import escape
from typing import Any

from ui.fmt import shorten

# The indexing stages in words (the raw name stays in `data-stage` for scripts and tests).
STAGE_WORDS = {
    "upload": "Storing the upload",
    "hash": "Checking the file",
    "probe": "Reading the video",
    "shots": "Finding shots",
    "keyframes": "Picking key frames",
    "speech": "Transcribing speech",
    "ocr": "Reading on-screen text",
    "image_vectors": "Indexing the pictures",
    "text_vectors": "Indexing the words",
}
JOB_STATUS_WORDS = {"queued": "waiting", "running": "indexing", "done": "ready", "failed": "failed"}


def stage_words(stage: str) -> str:
    """A stage's name as a person reads it."""
    return STAGE_WORDS.get(stage, stage.replace("_", " ").capitalize())


def _stage_row(stage: str, st: dict[str, Any], job_status: str, skipped: str | None) -> str:
    name = f"<span class='cc-stage-name'>{escape(stage_words(stage))}</span>"
    fraction = float(st.get("fraction", 0.0))
    if skipped:
        state, msg, bar = "skipped", f"skipped: {skipped}", ""
    elif fraction >= 1.0:
        state, msg, bar = "done", "done", "<progress max='1' value='1'></progress>"
    elif job_status == "failed":  # the bar of the stage that broke stops, it does not spin at "0%"
        state, msg, bar = "stopped", "stopped", ""
    else:
        state, bar = "running", f"<progress max='1' value='{fraction:.3f}'></progress>"
        msg = f"{fraction:.0%}" + (f" · {shorten(st.get('message'), 50)}" if st.get("message")
                                   and st.get("message") not in ("starting", "done") else "")
    return (f"<div class='cc-stage cc-stage-{state}' data-stage='{escape(stage)}' data-state='{state}'>{name}"
            f"{bar or '<span></span>'}<span class='cc-stage-msg'>{escape(msg)}</span></div>")


def _result_line(r: dict[str, Any]) -> str:
    speech = r.get("speech_segments")
    return (f"<div class='cc-result'>{r.get('shots')} shots · {speech} speech segment{'s' if speech != 1 else ''}"
            f" · {r.get('ocr_lines')} lines of on-screen text · indexed in {float(r.get('seconds') or 0):.0f} s</div>")


def jobs_html(jobs: list[dict[str, Any]], skipped: dict[int, dict[str, str]] | None = None) -> str:
    """The indexing jobs (a `JobManager.snapshot()`) as cards with one bar per stage; `skipped` maps a
    job id to {stage: why} for stages that had nothing to do."""
    if not jobs:
        return "<div class='cc-jobs cc-empty'>No indexing running.</div>"
    parts = ["<div class='cc-jobs'>"]
    for j in jobs:
        status = j["status"]
        why = (skipped or {}).get(j["id"], {})
        kind = "Re-indexing" if j.get("reindex") else "Indexing"
        parts.append(f"<div class='cc-job cc-{status}' data-status='{status}' data-reindex='{int(bool(j.get('reindex')))}'>"
                     f"<div class='cc-job-title'>{kind} <b>{escape(shorten(j['title'], 80))}</b> — "
                     f"{JOB_STATUS_WORDS.get(status, status)}</div>")
        if j["error"]:
            parts.append(f"<div class='cc-error'>{escape(j['error'])}</div>")
        for stage, st in j["stages"].items():
            parts.append(_stage_row(stage, st, status, why.get(stage)))
        if j["result"]:
            parts.append(_result_line(j["result"]))
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)
