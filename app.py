"""CiteClip's web app: `python app.py [--host 127.0.0.1] [--port 7860] [--data-dir D] [--profile auto|lite|full]
[--auth USER:PASS | --auth-file F] [--share]`.

Start-up stays quick: the Library opens SQLite, the policy model loads on the first question.
Anything but a loopback address, or a share link, refuses to start without authentication.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.policy import Policy

PROFILES = ("auto", "lite", "full")


class UsageError(Exception):
    """Bad arguments: one line on stderr, exit 2."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="app.py", description="CiteClip: ask your videos, get cited clips.")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    ap.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    ap.add_argument("--data-dir", default=None, help="data directory (default $CITECLIP_HOME or the user data dir)")
    ap.add_argument("--profile", choices=PROFILES, default="auto", help="policy model profile (default auto)")
    auth = ap.add_mutually_exclusive_group()
    auth.add_argument("--auth", default=None, metavar="USER:PASS", help="require this login")
    auth.add_argument("--auth-file", default=None, metavar="F", help="file of USER:PASS lines (# comments)")
    ap.add_argument("--share", action="store_true", help="also open a public share link (needs --auth)")
    ap.add_argument("--max-upload-mb", type=int, default=4096, help="upload size cap in MB (default 4096)")
    return ap.parse_args(argv)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    """The logins from --auth or --auth-file (None when neither is given)."""
    lines: list[str]
    if args.auth:
        lines, where = [args.auth], "--auth"
    elif args.auth_file:
        try:
            text = Path(args.auth_file).expanduser().read_text()
        except OSError as exc:
            raise UsageError(f"cannot read --auth-file {args.auth_file}: {exc.strerror}") from None
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        where = args.auth_file
    else:
        return None
    pairs = []
    for ln in lines:
        user, sep, password = ln.partition(":")
        if not sep or not user or not password:
            raise UsageError(f"{where}: expected USER:PASS with a non-empty user and password")
        pairs.append((user, password))
    if not pairs:
        raise UsageError(f"{where}: no USER:PASS line")
    return pairs


def check_exposure(args: argparse.Namespace, auth: list[tuple[str, str]] | None) -> None:
    """Refuse to expose the library beyond this machine without a login."""
    if auth:
        return
    if args.share:
        raise UsageError("refusing to open a share link without --auth or --auth-file "
                         "(anyone with the link could read your videos)")
    if not is_loopback(args.host):
        raise UsageError(f"refusing to listen on {args.host} without --auth or --auth-file "
                         f"(anyone on the network could read your videos); use --host 127.0.0.1 or add a login")


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        auth = parse_auth(args)
        check_exposure(args, auth)
        if not 0 < args.port < 65536:
            raise UsageError(f"--port {args.port} is not a port number")
        if args.max_upload_mb <= 0:
            raise UsageError("--max-upload-mb must be positive")
    except UsageError as exc:
        print(f"app.py: error: {exc}", file=sys.stderr)
        return 2

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Heavy imports only after the arguments are known to be good.
    from memory.datadir import DataDir
    from memory.library import Library, LibraryError
    from ui.config import UIConfig
    from ui.layout import build_app, launch

    try:
        data = DataDir.resolve(args.data_dir).ensure()
        library = Library(data)
    except (LibraryError, OSError) as exc:
        print(f"app.py: error: {exc}", file=sys.stderr)
        return 1

    profile = args.profile

    def policy_factory() -> Policy:  # runs on the first question, not at start-up
        from agent.policy import make_policy
        return make_policy(profile, library=library)  # "auto" picks full on CUDA with weights

    demo, handlers = build_app(library, policy_factory, UIConfig(max_upload_mb=args.max_upload_mb))
    # Indexing interrupted by a restart continues (stages already done are kept).
    for v in library.videos():
        if v.status == "indexing" and Path(v.path).is_file():
            handlers.jobs.submit(Path(v.path), title=Path(v.path).name)
    print(f"CiteClip: data in {data.root}; http://{args.host}:{args.port} (profile {profile})", file=sys.stderr)
    launch(demo, handlers, host=args.host, port=args.port, auth=auth, share=args.share)
    return 0


if __name__ == "__main__":
    sys.exit(main())
