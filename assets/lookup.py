"""Where a model's files are on this machine; never downloads (that is assets/fetch.py).

Both lookups look in the same order: an explicit folder ($CITECLIP_MODEL_<NAME>, or an argument), the
Hugging Face cache, then the offline mirror folder under the models dir. `resolve` (the model runtime
and the fetcher) requires every pinned file and checks the hashes through the stamp; `find_model` (the
memory's encoders) requires only the files a loader opens and a stamp, so it never hashes.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from assets.errors import UserError
from assets.registry import ASSETS, STAMP, Asset, AssetError, HubModel, asset, default_models_dir, env_var, hub_model
from assets.verify import hub_stamp, verify


class WeightsMissing(UserError, RuntimeError):
    """A model's files are not on this machine; the message is one line saying how to get them."""


def hf_cached(repo: str, files: Iterable[str]) -> Path | None:
    """The snapshot folder in the Hugging Face cache that holds every one of `files` of `repo`, if any."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    folder: Path | None = None
    for rel in files:
        found = try_to_load_from_cache(repo, rel)
        if not isinstance(found, str):
            return None
        snapshot = Path(found)
        for _ in Path(rel).parts:
            snapshot = snapshot.parent
        if folder is not None and snapshot != folder:
            return None
        folder = snapshot
    return folder


def _lacking(folder: Path, files: Iterable[str]) -> list[str]:
    return [rel for rel in files if not (folder / rel).is_file()]


def _explicit(a: Asset, local: str | os.PathLike | None) -> Path | None:
    """A folder the user named (argument or env var); it must hold the asset's files by name."""
    given = local or os.environ.get(env_var(a.name))
    if not given:
        return None
    folder = Path(given).expanduser()
    if folder.is_file() and a.main_file and folder.name == a.main_file:
        folder = folder.parent
    missing = _lacking(folder, a.files)
    if missing:
        raise AssetError(f"model {a.name}: {folder} (from {'argument' if local else env_var(a.name)}) "
                         f"lacks {', '.join(missing)}")
    return folder


def where_looked(a: Asset, models_dir: Path) -> str:
    """The places `resolve` looked for `a`, as a phrase for its error message."""
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
    found = _explicit(a, local) or hf_cached(a.hf_repo, a.files)
    if found:
        return found
    mdir = Path(models_dir) if models_dir else default_models_dir()
    folder = mdir / a.name
    if verify(a, folder):
        return folder
    raise AssetError(f"model {a.name} not found: looked in {where_looked(a, mdir)}; "
                     f"run `python -m model fetch --only {a.name}` (add --models-dir {mdir} if not the "
                     f"default) or set {env_var(a.name)}=FOLDER holding {', '.join(a.files)}")


def _from_env(name: str, lacking: Callable[[Path], list[str]]) -> Path | None:
    """$CITECLIP_MODEL_<NAME>'s folder when the variable is set (WeightsMissing naming what it lacks), else None."""
    var = env_var(name)
    given = os.environ.get(var)
    if not given:
        return None
    folder = Path(given).expanduser()
    missing = lacking(folder)
    if missing:
        raise WeightsMissing(f"model {name}: {folder} (from {var}) lacks {', '.join(missing)}")
    return folder


def find_model(name: str, models_dir: str | os.PathLike | None) -> Path:
    """The folder holding model `name`, or WeightsMissing with where it looked and how to provide it.

    Only the files a loader opens (`Asset.needed`) must be there, and under `models_dir` a stamp that
    `python -m model fetch` wrote after checking every hash; nothing is hashed here. No `models_dir`
    (None) skips the mirror folder.
    """
    a = ASSETS.get(name)
    if a is None:
        raise WeightsMissing(f"unknown model {name!r}; known: {', '.join(ASSETS)}")
    var, files = env_var(name), a.needed or tuple(a.files)
    explicit = _from_env(name, lambda folder: _lacking(folder, files))
    if explicit:
        return explicit
    cached = hf_cached(a.hf_repo, files)
    if cached:
        return cached
    if models_dir:
        folder = Path(models_dir) / name
        if (folder / STAMP).is_file() and not _lacking(folder, files):
            return folder
    where = Path(models_dir) / name if models_dir else "(no models dir)"
    raise WeightsMissing(f"model {name} not found: looked in ${var}, the Hugging Face cache ({a.hf_repo}) "
                         f"and {where}; run `python -m model fetch --only {name}` or set {var}=FOLDER")


def _hub_lacking(m: HubModel, folder: Path) -> list[str]:
    """What a loader of `m` would miss in `folder`: its needed files, and any *.safetensors weights."""
    missing = [" or ".join(group) for group in m.needed if not any((folder / rel).is_file() for rel in group)]
    if not any(folder.glob("*.safetensors")):
        missing.append("the *.safetensors weights")
    return missing


def hub_missing_message(m: HubModel, models_dir: Path, why: str) -> str:
    """One line: what of hub model `m` is missing, why it cannot be fetched now, and how to provide it."""
    folder = models_dir / m.folder
    lacking = _hub_lacking(m, folder)
    what = (f"{folder} lacks {', '.join(lacking)}" if lacking
            else f"{folder} was never checked against the hub (no complete fetch)")
    return (f"model {m.name} ({m.hf_repo}) is missing: {what}; {why}. On a machine online run "
            f"`python -m model fetch --only {m.name} --models-dir DIR` and copy DIR/{m.folder} to {folder}, "
            f"or set {env_var(m.name)}=FOLDER holding {', '.join(g[0] for g in m.needed)} and its *.safetensors")


def find_hub_model(name: str, models_dir: str | os.PathLike | None = None) -> Path:
    """The folder of hub model `name`: $CITECLIP_MODEL_<NAME> (it must hold the needed files and weights),
    else `<models_dir>/<folder>` as a complete fetch stamped it; WeightsMissing otherwise. Never downloads."""
    m = hub_model(name)
    explicit = _from_env(name, lambda folder: _hub_lacking(m, folder))
    if explicit:
        return explicit
    mdir = Path(models_dir) if models_dir else default_models_dir()
    folder = mdir / m.folder
    if hub_stamp(folder) is not None and not _hub_lacking(m, folder):
        return folder
    raise WeightsMissing(hub_missing_message(m, mdir, "it was not fetched here"))
