"""`python -m memory index VIDEO ...` and `python -m memory search VIDEO_OR_ID "QUERY" ...`.

With --json exactly one JSON object goes to stdout; errors are one line on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line instead of the usage text and the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m memory", description="CiteClip's video memory")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ix = sub.add_parser("index", help="index video files (resumes unfinished ones)")
    ix.add_argument("video", nargs="+", help="one or more files; with several, --json prints {\"results\": [...]}")
    ix.add_argument("--data-dir", default=None, help="the data dir (default: $CITECLIP_HOME or the user data dir)")
    ix.add_argument("--json", action="store_true", help="print one JSON object")
    se = sub.add_parser("search", help="search an indexed video")
    se.add_argument("video", help="a video id, sha256 (prefix) or file path")
    se.add_argument("query")
    se.add_argument("-k", type=int, default=5, help="how many clips (default 5)")
    se.add_argument("--data-dir", default=None)
    se.add_argument("--json", action="store_true")
    return ap


class _Bar:
    """A tqdm bar per stage on stderr."""

    def __init__(self) -> None:
        from tqdm import tqdm
        self._tqdm = tqdm
        self.bar = None
        self.stage = None

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = self._tqdm(total=1000, desc=f"{stage:>13}", file=sys.stderr, leave=True,
                                  bar_format="{desc} {percentage:3.0f}%|{bar}| {postfix}")
        self.bar.n = int(fraction * 1000)
        self.bar.set_postfix_str(message, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _index(args: argparse.Namespace) -> dict[str, Any]:
    """One file: its summary (errors raise). Several: each one's summary or error line, in one process."""
    from assets.errors import UserError
    from memory.library import Library
    with Library(args.data_dir) as lib:
        if len(args.video) == 1:
            return _index_one(lib, args.video[0])
        results: list[dict[str, Any]] = []
        for video in args.video:
            try:
                results.append({"file": os.path.basename(video), **_index_one(lib, video)})
            except UserError as exc:
                line = " ".join(str(exc).split())
                print(f"error: {line}", file=sys.stderr)
                results.append({"file": os.path.basename(video), "error": line})
        return {"results": results}


def _index_one(lib: Any, video: str) -> dict[str, Any]:
    bar = _Bar() if sys.stderr.isatty() else None  # progress bars only on a terminal
    try:
        return lib.index_video(video, progress=bar)
    finally:
        if bar:
            bar.close()


def _search(args: argparse.Namespace) -> dict[str, Any]:
    from memory.library import Library
    with Library(args.data_dir) as lib:
        video = lib.find_video(args.video)
        clips = lib.search(video.id, args.query, k=args.k)
        return {"hits": [{"start_s": c.start_s, "end_s": c.end_s, "score": c.score, "sources": list(c.sources),
                          "snippet": c.snippet} for c in clips]}


def files_as_operands(argv: list[str]) -> list[str]:
    """Existing files whose names start with '-' moved after '--', so they are not taken as options."""
    known = {"-h", "--help", "--json", "-k", "--data-dir"}
    files = [a for a in argv if a.startswith("-") and a.split("=")[0] not in known and os.path.exists(a)]
    if not files or "--" in argv:
        return argv
    return [a for a in argv if a not in files] + ["--", *files]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(files_as_operands(list(sys.argv[1:] if argv is None else argv)))
    if not sys.stderr.isatty():
        # Progress bars (transformers' "Loading weights") only on a terminal; set before any import of it.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")
    from assets.errors import UserError
    try:
        out = _index(args) if args.cmd == "index" else _search(args)
    except (UserError, ValueError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted (the video stays 'indexing'; run the same command to resume)", file=sys.stderr)
        return 130
    failed = any("error" in r for r in out.get("results", []))
    if args.json:
        print(json.dumps(out))
    elif args.cmd == "index" and "results" in out:
        for r in out["results"]:
            print(f"{r['file']}: " + (f"error: {r['error']}" if "error" in r else f"video {r['video_id']}"))
    elif args.cmd == "index":
        print(f"video {out['video_id']}: {out['duration_s']:.1f} s, {out['shots']} shots, "
              f"{out['keyframes']} keyframes, "
              f"{out['speech_segments']} speech segments, {out['ocr_lines']} on-screen lines, "
              f"visual {'yes' if out['visual'] else 'no (no image-text weights)'}, {out['seconds']:.1f} s")
    else:
        for h in out["hits"]:
            print(f"{h['start_s']:8.2f}-{h['end_s']:8.2f}  {h['score']:.4f}  "
                  f"{','.join(h['sources']):<16} {h['snippet']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
