"""`python -m model fetch` for the full profile's hub models, against a fake hub on 127.0.0.1 (tests/fixtures/
fake_hub.py) serving tiny RANDOM models built here: progress, resume, refusal of a corrupted file, offline."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from assets.fetch import _selected, main
from assets.hub import PARTIAL_DIR
from assets.lookup import find_hub_model
from assets.registry import HUB_MODELS, STAMP
from tests.fixtures.fake_hub import COMMIT, FakeHub, folder_files
from tests.fixtures.tiny_vlm_chat import write_tiny_vlm

VLM, CLIP = HUB_MODELS["internvideo3-8b-instruct"], HUB_MODELS["clip-vit-base-patch32"]
WEIGHTS = f"{VLM.hf_repo}/model.safetensors"


def _tiny_clip(folder: Path) -> Path:
    """A random CLIP (tiny config) with its image processor settings, as a hub repository would hold it."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    cfg = CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                      vocab_size=99),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                        num_attention_heads=2, image_size=32, patch_size=16), projection_dim=16)
    CLIPModel(cfg).save_pretrained(str(folder))
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(str(folder))
    (folder / "tokenizer.json").write_text("{}")  # served and fetched; never loaded here
    return folder


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("hub")
    vlm = folder_files(write_tiny_vlm(root))
    vlm |= {"README.md": b"# not fetched", "modeling_internvideo3.py": b"raise SystemExit('never run')"}
    return {VLM.hf_repo: vlm, CLIP.hf_repo: folder_files(_tiny_clip(root / "clip"))}


@pytest.fixture
def hub(repos, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    for m in HUB_MODELS.values():
        monkeypatch.delenv(f"CITECLIP_MODEL_{m.name.upper().replace('-', '_').replace('.', '_')}", raising=False)
    with FakeHub({k: dict(v) for k, v in repos.items()}) as h:
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        yield h


def _fetch(models: Path, *names: str) -> int:
    return main(["--only", *names, "--models-dir", str(models)])


def test_fetch_downloads_checks_and_stamps_with_progress(hub: FakeHub, repos, tmp_path: Path, capsys) -> None:
    assert _fetch(tmp_path, "vlm", "image-text") == 0
    err = capsys.readouterr().err
    assert "model.safetensors" in err and "100%" in err  # the progress bars
    for m in (VLM, CLIP):
        folder = tmp_path / m.folder
        served = {k: v for k, v in repos[m.hf_repo].items() if not k.endswith((".md", ".py"))}
        assert {k: (folder / k).read_bytes() for k in served} == served
        assert find_hub_model(m.name, tmp_path) == folder
        assert json.loads((folder / STAMP).read_text())["commit"] == COMMIT
    assert not (tmp_path / VLM.folder / "modeling_internvideo3.py").exists()  # code is never fetched
    from memory.encoders import resolve_encoder  # the visual channel finds the encoder where fetch put it

    assert resolve_encoder("auto", tmp_path).path == str((tmp_path / CLIP.folder).resolve())
    # a second run finds everything checked: no download
    gets = len([r for r in hub.requests if "/resolve/" in r.path])
    assert _fetch(tmp_path, "vlm", "image-text") == 0
    assert len([r for r in hub.requests if "/resolve/" in r.path]) == gets
    assert "present" in capsys.readouterr().err


def test_the_fetched_vlm_is_the_full_profiles_policy(hub: FakeHub, tmp_path: Path) -> None:
    from agent.policy import make_policy

    assert _fetch(tmp_path, "internvideo3-8b-instruct") == 0
    policy = make_policy("full", models_dir=tmp_path)
    assert policy.sees_images and not policy.narrow
    assert policy.model.model_id == (tmp_path / VLM.folder).name


def test_an_interrupted_download_resumes(hub: FakeHub, repos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    # The client writes what it received in chunks of this size (10 MB by default), and resumes after the last:
    # at the default, a tiny file would simply be fetched again from its start.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 << 10)
    hub.truncate_once.add(WEIGHTS)
    assert _fetch(tmp_path, "vlm") == 0
    ranges = [r.range for r in hub.requests if r.path.endswith("/model.safetensors") and r.method == "GET"]
    assert len(ranges) == 2 and ranges[0] is None and ranges[1].startswith("bytes=")
    assert int(ranges[1][6:-1]) > 0  # it asked only for the rest
    data = repos[VLM.hf_repo]["model.safetensors"]
    assert (tmp_path / VLM.folder / "model.safetensors").read_bytes() == data


def test_a_partial_file_left_by_an_earlier_run_is_continued(hub: FakeHub, repos, tmp_path: Path) -> None:
    data = repos[VLM.hf_repo]["model.safetensors"]
    part = tmp_path / PARTIAL_DIR / VLM.folder / "model.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    assert _fetch(tmp_path, "vlm") == 0
    ranges = [r.range for r in hub.requests if r.path.endswith("/model.safetensors") and r.method == "GET"]
    assert ranges == ["bytes=1000-"]
    assert (tmp_path / VLM.folder / "model.safetensors").read_bytes() == data and not part.exists()


def test_a_corrupted_file_is_refused(hub: FakeHub, tmp_path: Path, capsys) -> None:
    hub.corrupt.add(WEIGHTS)
    assert _fetch(tmp_path, "vlm") == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: refused") and "model.safetensors" in err and "sha256" in err
    assert not (tmp_path / VLM.folder / "model.safetensors").exists()
    assert not list((tmp_path / PARTIAL_DIR).rglob("*.part"))  # the bad bytes are not kept to resume from
    with pytest.raises(Exception, match="lacks"):
        find_hub_model(VLM.name, tmp_path)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err


def test_offline_says_in_one_line_what_is_missing_and_how_to_get_it(hub: FakeHub, tmp_path: Path, capsys,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert _fetch(tmp_path, "vlm") == 1
    err = _one_line_error(capsys)
    assert "internvideo3-8b-instruct" in err and "config.json" in err and "*.safetensors" in err
    assert "python -m model fetch --only internvideo3-8b-instruct" in err and "CITECLIP_MODEL_" in err
    assert not hub.requests  # nothing was asked
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert main(["--offline", "--only", "image-text", "--models-dir", str(tmp_path)]) == 1
    assert "--offline skips the hub" in _one_line_error(capsys) and not hub.requests


def test_no_hub_to_reach_gives_the_same_one_line(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert _fetch(tmp_path, "image-text") == 1
    err = _one_line_error(capsys)
    assert "cannot be reached" in err and "clip-vit-base-patch32" in err and "python -m model fetch" in err


def test_what_each_profile_fetches() -> None:
    from assets.registry import ASSETS

    assert _selected(None, None) == list(ASSETS)  # unchanged: the offline mirrors
    assert _selected(None, "full") == list(ASSETS) + [VLM.name, CLIP.name]
    assert _selected(["image-text"], None) == [CLIP.name]
