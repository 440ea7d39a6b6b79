"""Files against their pinned sha256, and the stamp that lets a later start-up skip the hashing."""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from assets.registry import STAMP, Asset


def sha256_file(path: str | os.PathLike, progress: Callable[[float], None] | None = None,
                chunk: int = 8 << 20) -> str:
    """The hex sha256 of a file's bytes, read `chunk` bytes at a time; `progress(fraction done)` after each."""
    path = Path(path)
    h = hashlib.sha256()
    size = max(1, path.stat().st_size)
    done = 0
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
            done += len(block)
            if progress:
                progress(done / size)
    return h.hexdigest()


def _signature(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def verify(a: Asset, folder: Path, *, full: bool = False) -> bool:
    """True when `folder` holds every file of `a` with its pinned sha256.

    The stamp (size and mtime per file, written after a full check) makes this a few stat calls;
    `full=True` or a stale stamp re-hashes everything and rewrites the stamp.
    """
    paths = {rel: folder / rel for rel in a.files}
    if not all(p.is_file() for p in paths.values()):
        return False
    stamp_path = folder / STAMP
    if not full:
        try:
            stamp = json.loads(stamp_path.read_text())
            if stamp.get("files") == a.files and all(
                    stamp["signatures"].get(rel) == _signature(p) for rel, p in paths.items()):
                return True
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # no stamp or an unreadable one: hash below
    for rel, p in paths.items():
        if sha256_file(p) != a.files[rel]:
            return False
    signatures = {rel: _signature(p) for rel, p in paths.items()}
    try:
        tmp = stamp_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"files": a.files, "signatures": signatures}))
        tmp.replace(stamp_path)
    except OSError:
        pass  # a read-only copy still verifies; it just hashes again next time
    return True


def git_blob_sha1(path: str | os.PathLike) -> str:
    """The git blob id of a file (what the hub lists as a non-LFS file's blobId)."""
    path = Path(path)
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            h.update(block)
    return h.hexdigest()


def digest(path: str | os.PathLike, expected: str) -> str:
    """The file's hash in the form of `expected`: "sha256:<hex>" or "sha1:<hex>" (a git blob id)."""
    kind = expected.split(":", 1)[0]
    return f"{kind}:" + (sha256_file(path) if kind == "sha256" else git_blob_sha1(path))


def write_hub_stamp(folder: Path, repo: str, commit: str, hashes: dict[str, str]) -> None:
    """Record that every file of `hashes` (relative path -> "sha256:..."/"sha1:...") in `folder` was checked
    against the hub's hashes of `repo` at `commit`."""
    stamp = {"repo": repo, "commit": commit, "files": hashes,
             "signatures": {rel: _signature(folder / rel) for rel in hashes}}
    tmp = (folder / STAMP).with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp, indent=1, sort_keys=True))
    tmp.replace(folder / STAMP)


def hub_stamp(folder: Path) -> dict | None:
    """The stamp `write_hub_stamp` left in `folder` when every file it lists is still as checked, else None."""
    try:
        stamp = json.loads((folder / STAMP).read_text())
        files, sigs = stamp["files"], stamp["signatures"]
        ok = bool(stamp.get("commit")) and all(
            (folder / rel).is_file() and sigs.get(rel) == _signature(folder / rel) for rel in files)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return stamp if ok else None
