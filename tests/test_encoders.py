"""Image-text encoders through the real loading path, on a tiny random CLIP (plumbing only)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memory.encoders import EncoderUnavailable, ImageTextEncoder, load_encoder, resolve_encoder
from tests.fixtures.tiny_clip import save_tiny_clip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_tiny_clip_loads_through_the_real_path(tiny: Path) -> None:
    spec = resolve_encoder(str(tiny))
    assert spec is not None and spec.backend == "transformers" and spec.model_id.startswith("local/tiny-clip@")
    enc = load_encoder(spec)
    assert isinstance(enc, ImageTextEncoder)
    assert enc.dim == 16
    imgs = [Image.new("RGB", (64 + 8 * i, 48), (40 * i, 255 - 40 * i, 90)) for i in range(5)]
    v = enc.encode_images(imgs)
    assert v.shape == (5, 16) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    t = enc.encode_texts(["a red car", "a blue sky", "a red car"])
    assert t.shape == (3, 16)
    assert np.allclose(t[0], t[2], atol=1e-6) and not np.allclose(t[0], t[1], atol=1e-3)


def test_batching_does_not_change_vectors(tiny: Path) -> None:
    from memory.encoders import EncoderConfig
    spec = resolve_encoder(str(tiny))
    imgs = [Image.new("RGB", (50, 50), (i * 30, 100, 200 - i * 20)) for i in range(7)]
    a = load_encoder(spec, EncoderConfig(batch_size=2)).encode_images(imgs)
    b = load_encoder(spec, EncoderConfig(batch_size=32)).encode_images(imgs)
    assert np.allclose(a, b, atol=1e-5)


def test_model_id_tells_different_weights_apart(tmp_path: Path) -> None:
    a = resolve_encoder(str(save_tiny_clip(tmp_path / "a", seed=1)))
    b = resolve_encoder(str(save_tiny_clip(tmp_path / "b", seed=2)))
    assert a.model_id != b.model_id


def test_no_weights_means_no_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("CITECLIP_IMAGE_ENCODER", raising=False)
    assert resolve_encoder("auto", tmp_path / "models") is None
    assert resolve_encoder(None) is None
    with pytest.raises(EncoderUnavailable):
        resolve_encoder("openai/clip-vit-base-patch32")  # not cached here: never downloaded
    with pytest.raises(EncoderUnavailable):
        resolve_encoder(str(tmp_path))  # a folder without a model


def test_models_dir_folder_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITECLIP_IMAGE_ENCODER", raising=False)
    save_tiny_clip(tmp_path / "models" / "image-text" / "tiny")
    spec = resolve_encoder("auto", tmp_path / "models")
    assert spec is not None and Path(spec.path).name == "tiny"
