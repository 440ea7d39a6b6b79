"""The leaf package that every room may import and that imports no room: the registry of model weights
(names, mirrors, pinned hashes: registry.py), the hash check and its stamp (verify.py), the cache lookup
(lookup.py), the fetcher behind `python -m model fetch` (fetch.py; hub.py for the full profile's hub
models), and the base class of user-facing errors (errors.py)."""
from assets.lookup import WeightsMissing, find_hub_model, find_model, resolve
from assets.registry import ASSETS, AssetError, default_models_dir
from assets.verify import sha256_file

__all__ = ["ASSETS", "AssetError", "WeightsMissing", "default_models_dir", "find_hub_model", "find_model", "resolve",
           "sha256_file"]
