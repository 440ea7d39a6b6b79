"""Exports of a session's citations: JSON, CSV, SRT, WebVTT, CMX3600 EDL, YouTube chapters, cut clips.

Every file is written inside the data dir's exports folder (an `out` elsewhere is refused; the command
line's --out gets a copy through `export_to`), and no export names a folder of the server. Spans are
clamped to the video. ffmpeg is called with an argument list, never through a shell.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import prompts
from agent.session import load_session, session_json
from assets.errors import UserError
from memory.store import Video

if TYPE_CHECKING:
    from memory.library import Library

FORMATS = ("json", "csv", "srt", "vtt", "edl", "chapters", "clips")
_EXT = {"json": "json", "csv": "csv", "srt": "srt", "vtt": "vtt", "edl": "edl", "chapters": "txt", "clips": "zip"}
_SMPTE_RATES = (24, 25, 30, 48, 50, 60)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PATH_KEYS = ("thumb", "path", "file")  # keys of saved steps whose values are file paths
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")  # where one sentence ends and the next begins
Session = dict[str, Any]               # as `load_session` gives it
Cites = list[dict[str, Any]]           # its citations, clamped to the video and in time order


class ExportError(UserError, ValueError):
    """An export that cannot be made (bad format, path outside the exports folder): one line."""


@dataclass(frozen=True)
class ExportConfig:
    chapter_min_s: float = 10.0        # YouTube: every chapter at least this long
    chapter_min_count: int = 3         # YouTube: at least this many chapters
    title_chars: int = 60              # chapter and subtitle titles are cut to this length
    accurate_cuts: bool = True         # clips: re-encode for frame-accurate cuts (else stream copy at keyframes)


def _safe_out(library: Library, out: Path | str | None, default_name: str) -> Path:
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


def _spans(library: Library, session: Session) -> tuple[Video, Cites]:
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


def subtitle_text(answer: str, limit: int) -> str:
    """The answer as subtitle text: no status prefix, whole sentences up to `limit` characters (the
    first sentence always, whatever its length: a subtitle never stops mid-sentence)."""
    text = " ".join(str(answer).split())
    for prefix in (prompts.UNVERIFIED_PREFIX, "Unverified:"):
        text = text.removeprefix(prefix).strip()
    out = ""
    for sentence in _SENTENCE_END.split(text):
        if out and len(out) + 1 + len(sentence) > limit:
            break
        out = f"{out} {sentence}".strip()
    return out


def export(library: Library, session_id: int, fmt: str, out: Path | str | None = None,
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


def export_to(library: Library, session_id: int, fmt: str, dest: Path | str,
              config: ExportConfig | None = None) -> Path:
    """Write one export where the command line's --out says (a folder: the default name inside it);
    the copy in the exports folder stays, as the web app's would."""
    made = export(library, session_id, fmt, None, config)
    target = Path(dest).expanduser()
    if target.is_dir():
        target = target / made.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, target)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or type(exc).__name__}") from None
    return target.resolve()


def _json(library: Library, session: Session, video: Video, cites: Cites, target: Path,
          fmt: str, cfg: ExportConfig) -> None:
    obj = _without_paths(session_json(library.store, session["session_id"]), Path(library.data.root))
    obj["status"] = session["status"]
    obj["video"] = {"id": video.id, "title": video.title, "sha256": video.sha256, "duration_s": video.duration_s}
    target.write_text(json.dumps(obj, indent=1))


def _without_paths(obj: Any, root: Path) -> Any:
    """`obj` with every file path (the steps' frame thumbnails) made relative to the data dir, or cut to
    its file name when it lies elsewhere: an export leaves the server, its folders must not."""
    if isinstance(obj, dict):
        return {k: (_relative(v, root) if k in _PATH_KEYS and isinstance(v, str) else _without_paths(v, root))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_without_paths(v, root) for v in obj]
    return obj


def _relative(path: str, root: Path) -> str:
    p = Path(path)
    if not p.is_absolute():
        return path
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.name


def _csv(library: Library, session: Session, video: Video, cites: Cites, target: Path,
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


def _subs(library: Library, session: Session, video: Video, cites: Cites, target: Path,
          fmt: str, cfg: ExportConfig) -> None:
    import pysubs2

    subs = pysubs2.SSAFile()
    for i, c in enumerate(cites, 1):
        text = f"[{i}] {subtitle_text(session['answer'] or session['question'], 2 * cfg.title_chars)}"
        subs.append(pysubs2.SSAEvent(start=int(round(c["start_s"] * 1000)), end=int(round(c["end_s"] * 1000)),
                                     text=text))
    subs.save(str(target), format_=fmt)


def _edl(library: Library, session: Session, video: Video, cites: Cites, target: Path,
         fmt: str, cfg: ExportConfig) -> None:
    import opentimelineio as otio

    if not cites:  # an edit list of nothing: the CMX writer cannot write an empty track
        raise ExportError("this session has no citations to put in an edit list")
    fps = float(video.fps or 25.0)
    # CMX3600 timecode exists only at SMPTE rates; other rates (10 fps, 15 fps) are written at 30.
    rate = float(round(fps)) if round(fps) in _SMPTE_RATES and abs(fps - round(fps)) < 0.01 else 30.0
    timeline = otio.schema.Timeline(name=_title(f"CiteClip session {session['session_id']}", 60))
    track = otio.schema.Track(name="V", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    # The clip's file name only: an export leaves the server, its folders must not.
    ref = otio.schema.ExternalReference(target_url=Path(video.path).name if video.path else video.title)
    for i, c in enumerate(cites, 1):
        start = otio.opentime.RationalTime(round(c["start_s"] * rate), rate)
        dur = otio.opentime.RationalTime(max(1, round((c["end_s"] - c["start_s"]) * rate)), rate)
        clip = otio.schema.Clip(name=f"cite{i:02d}", media_reference=ref.clone(),
                                source_range=otio.opentime.TimeRange(start, dur))
        track.append(clip)
    otio.adapters.write_to_file(timeline, str(target), adapter_name="cmx_3600")


def chapter_marks(cites: Cites, duration_s: float, cfg: ExportConfig,
                  label: str = "") -> list[tuple[int, str]]:
    """YouTube chapters: (start second, title), 0:00 first, each at least cfg.chapter_min_s long.

    Each cited moment opens a chapter (the first chapter, when the video opens on it) and a "continued"
    chapter follows it, at its end or cfg.chapter_min_s later, so that one citation still gives three
    chapters in a long enough video. A moment inside the previous cited chapter shares it. Fewer than
    cfg.chapter_min_count chapters raise ExportError (YouTube would ignore them).
    """
    min_s = cfg.chapter_min_s
    marks: list[tuple[int, str]] = [(0, "Start")]
    for i, c in enumerate(cites, 1):
        title = _title(f"Cited {i}: {label}" if label else f"Cited {i}", cfg.title_chars)
        start, (last_t, last_title) = int(c["start_s"]), marks[-1]
        if start - last_t >= min_s:
            marks.append((start, title))
        elif last_title == "Start" or last_title.startswith("After cited"):
            marks[-1] = (last_t, title)  # too close to the previous mark: that chapter is this moment's
        else:
            continue
        marks.append((max(int(c["end_s"] + 0.999), marks[-1][0] + int(min_s)), f"After cited {i}"))
    while len(marks) > 1 and duration_s - marks[-1][0] < min_s:
        marks.pop()  # the last chapter would be too short
    if len(marks) < cfg.chapter_min_count:
        n = len(cites)
        raise ExportError(f"YouTube needs at least {cfg.chapter_min_count} chapters of {min_s:.0f} s or more; "
                          f"this session's {n} cited moment{'s' if n != 1 else ''} in a {duration_s:.0f} s video "
                          f"leave room for {len(marks)}")
    return marks


def _chapters(library: Library, session: Session, video: Video, cites: Cites, target: Path,
              fmt: str, cfg: ExportConfig) -> None:
    label = _title(session["question"], cfg.title_chars - 10)
    marks = chapter_marks(cites, float(video.duration_s or 0.0), cfg, label)
    target.write_text("".join(f"{_tc(t)} {title}\n" for t, title in marks))


def _clips(library: Library, session: Session, video: Video, cites: Cites, target: Path,
           fmt: str, cfg: ExportConfig) -> None:
    src = Path(video.path or "")
    if not src.is_file():
        raise ExportError(f"the video file is gone ({src.name}); upload it again to cut clips")
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
                raise ExportError(f"ffmpeg could not cut clip {i} ({_tc(a)}–{_tc(b)}) of {src.name}")
            files.append(out)
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as z:
            for f in files:
                z.write(f, arcname=f.name)
        shutil.move(partial, target)
