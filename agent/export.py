"""Exports of a session's citations: JSON, CSV, SRT, WebVTT, CMX3600 EDL, YouTube chapters, cut clips.

Every file is written inside the data dir's exports folder (an `out` elsewhere is refused). Spans are
clamped to the video. ffmpeg is called with an argument list, never through a shell.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.session import load_session, session_json

FORMATS = ("json", "csv", "srt", "vtt", "edl", "chapters", "clips")
_EXT = {"json": "json", "csv": "csv", "srt": "srt", "vtt": "vtt", "edl": "edl", "chapters": "txt", "clips": "zip"}
_SMPTE_RATES = (24, 25, 30, 48, 50, 60)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """An export that cannot be made (bad format, path outside the exports folder): one line."""


@dataclass(frozen=True)
class ExportConfig:
    chapter_min_s: float = 10.0        # YouTube: every chapter at least this long
    chapter_min_count: int = 3         # YouTube: at least this many chapters
    title_chars: int = 60              # chapter and subtitle titles are cut to this length
    accurate_cuts: bool = True         # clips: re-encode for frame-accurate cuts (else stream copy at keyframes)


def _safe_out(library: Any, out: Path | str | None, default_name: str) -> Path:
    root = Path(library.data.exports_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    target = root / default_name if out is None else Path(out).expanduser()
    if not target.is_absolute():
        target = root / target
    target = target.resolve()
    if target == root or root not in target.parents:
        raise ExportError(f"exports are written only inside {root}; {target} is outside it")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _spans(library: Any, session: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    video = library.store.video(session["video_id"])
    if video is None:
        raise ExportError(f"the video of session {session['session_id']} is no longer in the library")
    dur = float(video.duration_s or 0.0)
    cites = []
    for c in sorted(session["citations"], key=lambda c: c["start_s"]):
        a, b = max(0.0, min(dur, float(c["start_s"]))), max(0.0, min(dur, float(c["end_s"])))
        if b > a:
            cites.append({**c, "start_s": a, "end_s": b})
    return video, cites


def neutralise(cell: Any) -> Any:
    """A CSV cell a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def _tc(t: float) -> str:
    h, rem = divmod(int(t), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _title(text: str, n: int) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1] + "…"


def export(library: Any, session_id: int, fmt: str, out: Path | str | None = None,
           config: ExportConfig | None = None) -> Path:
    """Write one export of a session under the exports folder; returns its path."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    cfg = config or ExportConfig()
    session = load_session(library.store, session_id)
    video, cites = _spans(library, session)
    target = _safe_out(library, out, f"session-{int(session_id)}.{_EXT[fmt]}")
    writer = {"json": _json, "csv": _csv, "srt": _subs, "vtt": _subs, "edl": _edl, "chapters": _chapters,
              "clips": _clips}[fmt]
    writer(library, session, video, cites, target, fmt, cfg)
    return target


def _json(library: Any, session: dict[str, Any], video: Any, cites: list[dict[str, Any]], target: Path,
          fmt: str, cfg: ExportConfig) -> None:
    obj = session_json(library.store, session["session_id"])
    obj["status"] = session["status"]
    obj["video"] = {"id": video.id, "title": video.title, "sha256": video.sha256, "duration_s": video.duration_s}
    target.write_text(json.dumps(obj, indent=1))


def _csv(library: Any, session: dict[str, Any], video: Any, cites: list[dict[str, Any]], target: Path,
         fmt: str, cfg: ExportConfig) -> None:
    with target.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n", "video_id", "start_s", "end_s", "start", "end", "confidence", "evidence_steps",
                    "question", "answer"])
        for i, c in enumerate(cites, 1):
            row = [i, c["video_id"], f"{c['start_s']:.3f}", f"{c['end_s']:.3f}", _tc(c["start_s"]), _tc(c["end_s"]),
                   c.get("confidence", ""), " ".join(str(s) for s in c.get("evidence", [])),
                   session["question"], session["answer"] or ""]
            w.writerow([neutralise(x) for x in row])


def _subs(library: Any, session: dict[str, Any], video: Any, cites: list[dict[str, Any]], target: Path,
          fmt: str, cfg: ExportConfig) -> None:
    import pysubs2

    subs = pysubs2.SSAFile()
    for i, c in enumerate(cites, 1):
        text = f"[{i}] {_title(session['answer'] or session['question'], 2 * cfg.title_chars)}"
        subs.append(pysubs2.SSAEvent(start=int(round(c["start_s"] * 1000)), end=int(round(c["end_s"] * 1000)),
                                     text=text))
    subs.save(str(target), format_=fmt)


def _edl(library: Any, session: dict[str, Any], video: Any, cites: list[dict[str, Any]], target: Path,
         fmt: str, cfg: ExportConfig) -> None:
    import opentimelineio as otio

    fps = float(video.fps or 25.0)
    # CMX3600 timecode exists only at SMPTE rates; other rates (10 fps, 15 fps) are written at 30.
    rate = float(round(fps)) if round(fps) in _SMPTE_RATES and abs(fps - round(fps)) < 0.01 else 30.0
    timeline = otio.schema.Timeline(name=_title(f"CiteClip session {session['session_id']}", 60))
    track = otio.schema.Track(name="V", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    ref = otio.schema.ExternalReference(target_url=video.path or video.title)
    for i, c in enumerate(cites, 1):
        start = otio.opentime.RationalTime(round(c["start_s"] * rate), rate)
        dur = otio.opentime.RationalTime(max(1, round((c["end_s"] - c["start_s"]) * rate)), rate)
        clip = otio.schema.Clip(name=f"cite{i:02d}", media_reference=ref.clone(),
                                source_range=otio.opentime.TimeRange(start, dur))
        track.append(clip)
    otio.adapters.write_to_file(timeline, str(target), adapter_name="cmx_3600")


def chapter_marks(cites: list[dict[str, Any]], duration_s: float, cfg: ExportConfig,
                  label: str = "") -> list[tuple[int, str]]:
    """YouTube chapters: (start second, title), 0:00 first, each at least cfg.chapter_min_s long.

    Each citation opens a chapter and its end opens a "continued" one, so that one citation still gives
    three chapters in a long enough video. Marks that would make a chapter too short are skipped. Fewer
    than cfg.chapter_min_count marks raise ExportError (YouTube would ignore them).
    """
    wanted: list[tuple[int, str]] = [(0, "Start")]
    for i, c in enumerate(cites, 1):
        wanted.append((int(c["start_s"]), _title(f"Cited {i}: {label}" if label else f"Cited {i}", cfg.title_chars)))
        wanted.append((int(c["end_s"] + 0.999), f"After cited {i}"))
    marks: list[tuple[int, str]] = []
    for t, title in sorted(wanted, key=lambda x: x[0]):
        if marks and t - marks[-1][0] < cfg.chapter_min_s:
            continue
        if duration_s - t < cfg.chapter_min_s and t != 0:
            continue
        marks.append((t, title))
    if len(marks) < cfg.chapter_min_count:
        raise ExportError(f"YouTube needs at least {cfg.chapter_min_count} chapters {cfg.chapter_min_s:.0f} s apart; "
                          f"the citations of this session give only {len(marks)} in a {duration_s:.0f} s video")
    return marks


def _chapters(library: Any, session: dict[str, Any], video: Any, cites: list[dict[str, Any]], target: Path,
              fmt: str, cfg: ExportConfig) -> None:
    label = _title(session["question"], cfg.title_chars - 10)
    marks = chapter_marks(cites, float(video.duration_s or 0.0), cfg, label)
    target.write_text("".join(f"{_tc(t)} {title}\n" for t, title in marks))


def _clips(library: Any, session: dict[str, Any], video: Any, cites: list[dict[str, Any]], target: Path,
           fmt: str, cfg: ExportConfig) -> None:
    src = Path(video.path or "")
    if not src.is_file():
        raise ExportError(f"the video file is gone: {src}")
    if not cites:
        raise ExportError("this session has no citations to cut")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        files = []
        for i, c in enumerate(cites, 1):
            a, b = c["start_s"], c["end_s"]
            name = f"clip{i:02d}_{int(a * 1000):09d}-{int(b * 1000):09d}.mp4"  # only numbers in the name
            out = Path(tmp) / name
            if cfg.accurate_cuts:
                codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-c:a", "aac"]
            else:
                codec = ["-c", "copy", "-avoid_negative_ts", "make_zero"]
            cmd = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-ss", f"{a:.3f}", "-i", str(src),
                   "-t", f"{b - a:.3f}", *codec, "-movflags", "+faststart", str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise ExportError(f"ffmpeg could not cut clip {i}: {proc.stderr.strip().splitlines()[-1:]}")
            files.append(out)
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as z:
            for f in files:
                z.write(f, arcname=f.name)
        shutil.move(partial, target)
