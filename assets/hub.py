"""Downloading a hub model (`python -m model fetch --profile full`) with the Hugging Face hub client.

The hub lists the revision's files with their hashes (LFS files: sha256; the others: git blob sha1). Each
wanted file is streamed by huggingface_hub's `http_get` (its progress bar, its retries) into a `.part`
file under `<models_dir>/.partial/`, which a later run continues from where it stopped (an HTTP Range
request); a finished file is hashed, refused and deleted when it is not what the hub listed, and moved
into the model's folder only when it is. The folder's stamp then records the commit and the hashes.
$HF_ENDPOINT (read at each call) points the client at another hub; $HF_HUB_OFFLINE stops it.
"""
from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from assets.lookup import WeightsMissing, find_hub_model, hub_missing_message
from assets.registry import AssetError, HubModel
from assets.verify import digest, hub_stamp, write_hub_stamp

PARTIAL_DIR = ".partial"  # under the models dir: unfinished downloads, kept for the next run to continue


class HubUnreachable(WeightsMissing):
    """The model is not here and the hub cannot be asked (offline, or no connection)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a hub revision, as the hub lists it."""

    path: str      # relative to the repository root
    size: int      # bytes
    expected: str  # "sha256:<hex>" (LFS) or "sha1:<hex>" (git blob id)


def endpoint() -> str | None:
    """The hub endpoint to use now ($HF_ENDPOINT; None: the client's default)."""
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or None


def offline() -> bool:
    """True when the hub must not be asked ($HF_HUB_OFFLINE, as the hub client reads it)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def remote_files(m: HubModel) -> tuple[str, list[RemoteFile]]:
    """(the commit `m.revision` resolves to, the wanted files with their sizes and hashes)."""
    from huggingface_hub import HfApi

    info = HfApi(endpoint=endpoint()).model_info(m.hf_repo, revision=m.revision, files_metadata=True)
    files = []
    for s in info.siblings or []:
        if not any(fnmatch.fnmatch(s.rfilename, p) for p in m.patterns):
            continue
        if s.lfs is not None:
            files.append(RemoteFile(s.rfilename, int(s.lfs.size), f"sha256:{s.lfs.sha256}"))
        elif s.blob_id and s.size is not None:
            files.append(RemoteFile(s.rfilename, int(s.size), f"sha1:{s.blob_id}"))
        else:
            raise AssetError(f"the hub lists {m.hf_repo}/{s.rfilename} without a hash; cannot check it")
    if not files:
        raise AssetError(f"the hub lists no weight files in {m.hf_repo} at {m.revision}")
    return str(info.sha), files


def _progress_class() -> type | None:
    """A progress bar that shows even when stderr is not a terminal (logs of long downloads), unless the
    hub's own switch turns bars off."""
    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS", "").strip().lower() in ("1", "true", "yes", "on"):
        from huggingface_hub.utils import tqdm as silent

        return lambda **kw: silent(disable=True, **kw)  # type: ignore[return-value]
    from tqdm import tqdm

    return tqdm


def download_file(m: HubModel, f: RemoteFile, commit: str, folder: Path, partial: Path) -> None:
    """Download one file into `folder` (continuing a `.part` left in `partial`), refusing a wrong hash."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    part = partial / (f.path + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if have > f.size:  # not a prefix of this file: start again
        part.unlink()
        have = 0
    url = hf_hub_url(m.hf_repo, f.path, revision=commit, endpoint=endpoint())
    with part.open("ab") as out:
        http_get(url, out, resume_size=have, headers=build_hf_headers(), expected_size=f.size,
                 displayed_filename=f.path, tqdm_class=_progress_class())
    got = digest(part, f.expected)
    if got != f.expected:
        part.unlink()
        raise AssetError(f"refused {m.hf_repo}/{f.path}: its {f.expected.split(':')[0]} is not the one the hub "
                         f"lists for commit {commit[:12]} (deleted; run the fetch again)")
    dest = folder / f.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    part.replace(dest)


def fetch_hub_model(m: HubModel, models_dir: Path) -> tuple[Path, str]:
    """`m` in `<models_dir>/<m.folder>`, downloaded and checked if needed; (folder, "present" | "hub")."""
    folder = models_dir / m.folder
    try:
        return find_hub_model(m.name, models_dir), "present"
    except WeightsMissing:
        pass
    if offline():
        raise HubUnreachable(hub_missing_message(m, models_dir, "the hub is off ($HF_HUB_OFFLINE)"))
    from huggingface_hub.errors import HfHubHTTPError

    try:
        commit, files = remote_files(m)
    except HfHubHTTPError as e:  # the hub answered: no such repository or revision, gated, a server error
        raise AssetError(f"the hub refused {m.hf_repo}@{m.revision}: {str(e).splitlines()[0][:160]}") from None
    except Exception as e:  # noqa: BLE001 - no answer at all (connection refused, DNS, timeout, offline switch)
        raise HubUnreachable(hub_missing_message(m, models_dir, f"the hub cannot be reached ({type(e).__name__})")) \
            from None
    partial = models_dir / PARTIAL_DIR / m.folder
    stamp = hub_stamp(folder) or {}
    total = sum(f.size for f in files)
    print(f"model {m.name}: {len(files)} files, {total / 1e6:.1f} MB from {m.hf_repo}@{commit[:12]}", file=sys.stderr)
    for f in files:
        if stamp.get("files", {}).get(f.path) == f.expected:
            continue  # fetched and checked by an earlier run at the same hash
        try:
            download_file(m, f, commit, folder, partial)
        except AssetError:
            raise
        except Exception as e:  # noqa: BLE001 - the connection dropped for good (the client retried already)
            raise HubUnreachable(f"download of {m.hf_repo}/{f.path} stopped ({type(e).__name__}); run the same "
                                 "command again to continue it") from None
    write_hub_stamp(folder, m.hf_repo, commit, {f.path: f.expected for f in files})
    return folder, "hub"
