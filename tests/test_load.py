"""Loading: convert once and cache, reload the cache without the source, nf4 on CPU, the real GGUF."""
from __future__ import annotations

import json

import pytest
import torch

import model.convert
import model.load as load
from model.convert.ppl import logits_of
from tests.tiny_chat import tiny_llama, tiny_tokenizer


@pytest.fixture
def tiny_source(monkeypatch, tmp_path):
    """load.py's GGUF reader replaced by a tiny random Llama + tokenizer (the plumbing is what's tested)."""
    tok = tiny_tokenizer()
    src = tiny_llama(len(tok), seed=21)
    calls = []

    def fake_source(gguf, dtype=torch.float32):
        calls.append(gguf)
        return src, tok

    monkeypatch.setattr(load, "load_gguf_source", fake_source)
    monkeypatch.setattr(load, "smollm2_gguf", lambda models_dir=None: tmp_path / "absent.gguf")
    monkeypatch.setattr(load, "calibration_ids",
                        lambda tok: torch.randint(3, len(tok), (4, 64), generator=torch.Generator().manual_seed(0)))
    return src, tok, calls


def test_convert_once_then_reload_from_cache(tiny_source, tmp_path, monkeypatch):
    src, tok, calls = tiny_source
    folder = load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    fp = load.fingerprint(load.conversion_options(12, 8))
    assert folder == tmp_path / "converted" / f"smollm2-135m-instruct-r12-d8-{fp}"
    assert (folder / "m2la_config.json").is_file() and len(calls) == 1
    ids = torch.randint(3, len(tok), (1, 20))
    first, _ = load.load_m2la(folder, device="cpu")
    monkeypatch.setattr(model.convert, "convert_model", lambda *a, **k: pytest.fail("converted twice"))
    again = load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    assert again == folder and len(calls) == 1  # the source was not read again
    second, tok2 = load.load_m2la(folder, device="cpu")
    assert torch.equal(logits_of(first, ids), logits_of(second, ids))
    assert tok2("hello world")["input_ids"] == tok("hello world")["input_ids"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(folder.name + ".")]  # no temp left


def test_lite_conversion_is_layer_fitted_toward_the_source(tiny_source, tmp_path):
    # A tiny random model on random tokens cannot generalise from 4 windows, so the error is measured on
    # the calibration text the fit saw; held-out gains on the real model are in the M2LA bench.
    src, tok, _ = tiny_source
    calib = ids = load.calibration_ids(tok)
    one_shot = model.convert.convert_model(src, 12, 8, calib_input_ids=calib)
    fitted, _ = load.load_m2la(load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path), device="cpu")
    meta = json.loads((load.converted_dir(tmp_path, "smollm2-135m-instruct", 12, 8, load.fingerprint(
        load.conversion_options(12, 8))) / load.FINGERPRINT_FILE).read_text())
    assert meta["fit_steps"] == load.LITE.fit_steps > 0

    @torch.no_grad()
    def err(m):  # the converted model's logits against the source's
        return float((logits_of(m, ids) - logits_of(src, ids)).pow(2).mean())
    assert err(fitted) < 0.3 * err(one_shot), (err(fitted), err(one_shot))


def test_cache_records_converter_version_and_options(tiny_source, tmp_path):
    folder = load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    meta = json.loads((folder / load.FINGERPRINT_FILE).read_text())
    assert meta["converter_version"] == load.CONVERTER_VERSION
    assert (meta["kv_rank"], meta["rope_dim"], meta["method"]) == (12, 8, "activation")
    assert folder.name.endswith("-" + meta["fingerprint"])
    base = load.conversion_options(12, 8)
    # every input of the conversion moves the fingerprint
    assert len({load.fingerprint(base), load.fingerprint(load.conversion_options(12, 8, "weight_svd")),
                load.fingerprint(load.conversion_options(16, 8)),
                load.fingerprint({**base, "convert_options": {**base["convert_options"], "centre": True}})}) == 4
    assert load.fingerprint(dict(reversed(base.items()))) == load.fingerprint(base)  # key order does not matter


def test_cache_from_another_converter_version_is_rebuilt(tiny_source, tmp_path, monkeypatch):
    src, tok, calls = tiny_source
    old = load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    monkeypatch.setattr(load, "CONVERTER_VERSION", load.CONVERTER_VERSION + 1)
    new = load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    assert new != old and len(calls) == 2  # converted again, not the old folder reused
    assert json.loads((new / load.FINGERPRINT_FILE).read_text())["converter_version"] == load.CONVERTER_VERSION
    assert load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path) == new and len(calls) == 2
    assert not old.exists()  # the older version's few hundred MB are not left behind


def test_only_older_conversions_of_the_same_model_are_pruned(tiny_source, tmp_path):
    folder = load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    root, v = folder.parent, load.CONVERTER_VERSION

    def fake(name: str, meta: dict | None) -> None:
        (root / name).mkdir()
        if meta is not None:
            (root / name / load.FINGERPRINT_FILE).write_text(json.dumps(meta))
    fake("smollm2-135m-instruct-r12-d8-aaaaaaaaaaaa", {"converter_version": v - 1})  # older: pruned
    fake("smollm2-135m-instruct-r12-d8-bbbbbbbbbbbb", {"converter_version": v})  # same version, other options
    fake("smollm2-135m-instruct-r12-d8-cccccccccccc.tmp123", {"converter_version": v - 1})  # in progress
    fake("smollm2-135m-instruct-r12-d8-dddddddddddd", None)  # no fingerprint file: not ours to judge
    fake("smollm2-135m-instruct-r16-d8-eeeeeeeeeeee", {"converter_version": v - 1})  # older, another setting: pruned
    fake("smollm2-135m-instruct-r16-d8-ffffffffffff", {"converter_version": v})  # this version, another setting
    fake("othermodel-r12-d8-aaaaaaaaaaaa", {"converter_version": v - 1})  # another model
    removed = load.prune_older_versions(folder)
    assert sorted(p.name for p in removed) == ["smollm2-135m-instruct-r12-d8-aaaaaaaaaaaa",
                                               "smollm2-135m-instruct-r16-d8-eeeeeeeeeeee"]
    assert sorted(p.name for p in root.iterdir()) == sorted([
        folder.name, "smollm2-135m-instruct-r12-d8-bbbbbbbbbbbb", "smollm2-135m-instruct-r12-d8-cccccccccccc.tmp123",
        "smollm2-135m-instruct-r12-d8-dddddddddddd", "smollm2-135m-instruct-r16-d8-ffffffffffff",
        "othermodel-r12-d8-aaaaaaaaaaaa"])


def test_cache_whose_fingerprint_disagrees_is_rebuilt(tiny_source, tmp_path):
    src, tok, calls = tiny_source
    folder = load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    meta_file = folder / load.FINGERPRINT_FILE
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "fingerprint": "0" * 12}))  # e.g. written by another converter
    (folder / "stale-marker").write_text("old")
    assert load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path) == folder and len(calls) == 2
    assert json.loads(meta_file.read_text())["fingerprint"] == meta["fingerprint"]
    assert not (folder / "stale-marker").exists()  # the whole stale folder was replaced
    meta_file.unlink()  # a folder with weights but no fingerprint (older layout) is not trusted either
    load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    assert len(calls) == 3 and meta_file.is_file()


def test_old_unfingerprinted_folder_is_not_reused(tiny_source, tmp_path):
    src, tok, calls = tiny_source
    legacy = tmp_path / "converted" / "smollm2-135m-instruct-r12-d8"  # the name older converters used
    legacy.mkdir(parents=True)
    (legacy / "m2la_config.json").write_text("{}")
    folder = load.convert_lite(kv_rank=12, rope_dim=8, models_dir=tmp_path)
    assert folder != legacy and len(calls) == 1 and (folder / "m2la_config.json").is_file()


def test_load_chat_model_names_its_setting(tiny_source, tmp_path):
    chat = load.load_chat_model(models_dir=tmp_path, device="cpu", kv_rank=12, rope_dim=8)
    assert chat.model_id == "smollm2-135m-instruct-m2la-r12-d8"
    assert isinstance(chat.complete([{"role": "user", "content": "hi"}], 4), str)
    with pytest.raises(ValueError, match="profile"):
        load.load_chat_model(profile="huge", models_dir=tmp_path)


def test_nf4_on_cpu_stays_close_to_fp32():
    import bitsandbytes as bnb

    tok = tiny_tokenizer()
    m = model.convert.convert_model(tiny_llama(len(tok), seed=22, hidden_size=128, intermediate_size=256), 16, 8)
    ids = torch.randint(3, len(tok), (1, 24))
    ref = logits_of(m, ids)
    n = load.quantize_nf4(m, min_params=0)
    assert n > 0
    quantized = {name for name, mod in m.named_modules() if isinstance(mod, bnb.nn.Linear4bit)}
    assert any("mlp" in q for q in quantized) and any("q_proj" in q for q in quantized)
    assert not any("kv_b_proj" in q or "lm_head" in q for q in quantized)
    got = logits_of(m, ids)
    cos = torch.nn.functional.cosine_similarity(got.flatten(), ref.flatten(), dim=0)
    assert cos > 0.98, cos
    assert not torch.equal(got, ref)  # it really is quantised
    from model.generate import generate

    out = generate(m, ids[0], 6)  # the absorbed decode path runs over nf4 linears
    assert len(out.tokens) == 6


def test_attn_implementation_is_sdpa_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    assert load.attn_implementation() == "sdpa"


@pytest.mark.slow
def test_real_smollm2_gguf_convert_cache_reload_nf4(tmp_path, monkeypatch):
    """SmolLM2-135M-Instruct from its GGUF: converted once, cached, reloaded equal; nf4 stays close."""
    from assets import AssetError

    try:
        gguf = load.smollm2_gguf()
    except AssetError as e:
        pytest.skip(str(e))
    monkeypatch.setenv("CITECLIP_MODEL_SMOLLM2_135M_INSTRUCT", str(gguf.parent))
    folder = load.convert_lite(models_dir=tmp_path)
    chat = load.load_chat_model(models_dir=tmp_path, device="cpu")
    ids = torch.tensor([chat.prompt_ids([{"role": "user", "content": "Name a colour."}])])
    ref = logits_of(chat.model, ids)
    monkeypatch.setattr(model.convert, "convert_model", lambda *a, **k: pytest.fail("converted twice"))
    again = load.load_chat_model(models_dir=tmp_path, device="cpu")
    assert torch.equal(logits_of(again.model, ids), ref)
    nf4 = load.load_chat_model(models_dir=tmp_path, device="cpu", quantize="nf4")
    assert nf4.model_id.endswith("-nf4")
    got = logits_of(nf4.model, ids)
    cos = torch.nn.functional.cosine_similarity(got[0, -1], ref[0, -1], dim=0)
    assert cos > 0.95, cos
    assert folder.is_dir()
