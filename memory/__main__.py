"""`python -m memory index VIDEO ...` and `python -m memory search VIDEO_OR_ID "QUERY" ...`.

With --json exactly one JSON object goes to stdout; errors are one line on stderr and exit 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m memory", description="CiteClip's video memory")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ix = sub.add_parser("index", help="index a video file (resumes an unfinished one)")
    ix.add_argument("video")
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
    from memory.library import Library
    with Library(args.data_dir) as lib:
        bar = _Bar() if sys.stderr.isatty() or not args.json else None
        try:
            return lib.index_video(args.video, progress=bar)
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from memory.library import LibraryError
    try:
        out = _index(args) if args.cmd == "index" else _search(args)
    except (LibraryError, ValueError, OSError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted (the video stays 'indexing'; run the same command to resume)", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(out))
    elif args.cmd == "index":
        print(f"video {out['video_id']}: {out['duration_s']:.1f} s, {out['shots']} shots, "
              f"{out['keyframes']} keyframes, "
              f"{out['speech_segments']} speech segments, {out['ocr_lines']} on-screen lines, "
              f"visual {'yes' if out['visual'] else 'no (no image-text weights)'}, {out['seconds']:.1f} s")
    else:
        for h in out["hits"]:
            print(f"{h['start_s']:8.2f}-{h['end_s']:8.2f}  {h['score']:.4f}  "
                  f"{','.join(h['sources']):<16} {h['snippet']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
