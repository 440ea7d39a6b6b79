"""GQA -> M2LA conversion: the exact rewrite, RoPE-pair selection, low-rank factorisation, save/reload, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model.cache import LatentKVCache
from model.convert import ConvertOptions, attention_input_moments, convert_model
from model.convert.cli import main
from model.lm import M2LAForCausalLM
from model.m2la import M2LAConfig
from tests.fixtures.tiny_lm import VOCAB, mrope_positions, tiny_llama, tiny_qwen2, tiny_qwen2_vl

TOL = 1e-4


def _ids(n: int = 2, t: int = 24, seed: int = 0) -> torch.Tensor:
    return torch.randint(3, VOCAB, (n, t), generator=torch.Generator().manual_seed(seed))


def _zipf_ids(n: int, t: int, seed: int) -> torch.Tensor:
    """Token ids with a skewed (Zipf-like) distribution, like real text: activations are anisotropic."""
    probs = 1.0 / torch.arange(1, VOCAB + 1).float() ** 1.2
    return torch.multinomial(probs, n * t, replacement=True, generator=torch.Generator().manual_seed(seed)).view(n, t)


@pytest.mark.parametrize("build", [lambda: tiny_llama(), lambda: tiny_llama(seed=1, tie=True, attention_bias=True),
                                   lambda: tiny_qwen2()], ids=["llama", "llama-tied-bias", "qwen2"])
def test_exact_rewrite_reproduces_source_logits(build) -> None:
    src = build()
    ids = _ids()
    with torch.no_grad():
        ref = src(ids).logits
        m = convert_model(src)
        for mode in ("naive", "absorbed"):
            assert (m(ids, mode=mode) - ref).abs().max().item() <= TOL
    a = m.config.attn[0]
    # exact mode: every KV head's RoPE dims are in the shared key; the latent is the values
    assert a.d_rope == 2 * 16 and a.d_nope == 0 and a.kv_rank == 2 * 16
    assert ref.std() > 0.3  # the logits are far from constant, so the parity above means something


def test_exact_rewrite_qwen2_vl_text_with_mrope() -> None:
    src = tiny_qwen2_vl()
    ids = _ids(1, 20)
    pos = mrope_positions(20)
    with torch.no_grad():
        ref = src(input_ids=ids, position_ids=pos).logits
        m = convert_model(src)
        assert m.uses_mrope and m.config.attn[0].mrope_section == (2, 3, 3)
        for mode in ("naive", "absorbed"):
            assert (m(ids, pos, mode=mode) - ref).abs().max().item() <= TOL
        # the MRoPE sections really matter here: plain text positions give different logits
        assert (m(ids, torch.arange(20)[None]) - ref).abs().max().item() > 1e-2


def test_lossy_conversion_runs_and_paths_agree() -> None:
    src = tiny_qwen2()
    calib = _zipf_ids(8, 32, 1)
    with torch.no_grad():
        m = convert_model(src, kv_rank=24, rope_dim=8, calib_input_ids=calib)
        ids = _ids(1, 16)
        naive, absorbed = m(ids), m(ids, mode="absorbed")
    assert (naive - absorbed).abs().max() < 1e-4
    cache = LatentKVCache.for_model(m)
    assert cache.bytes_per_token() == 2 * (24 + 8) * 4  # vs the source's 2 layers x 2 x 2 heads x 16 x 4
    assert all(a.d_rope == 8 and a.d_nope > 0 and len(a.rope_inv_freq) == 4 for a in m.config.attn)


YARN = {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 128}


@pytest.mark.parametrize("rope", [None, YARN], ids=["rope", "yarn"])
def test_shared_query_is_the_same_function_with_half_the_query_rows(rope: dict | None) -> None:
    """q_proj holding each head's source query once (q_nope and q_pe read out of it, q_pe times its RoRoPE
    factor) computes what separate q_nope/q_pe rows compute, from H x D query rows instead of
    H x (d_nope + d_rope). YaRN's cos/sin factor, which q_nope carried, moves to the keys."""
    src = tiny_llama(rope_parameters=rope)
    moments = attention_input_moments(src, _zipf_ids(8, 32, 1))
    ids = _ids()
    with torch.no_grad():
        shared = convert_model(src, kv_rank=24, rope_dim=16, moments=moments)
        apart = convert_model(src, kv_rank=24, rope_dim=16, moments=moments,
                              options=ConvertOptions(shared_query=False))
        for mode in ("naive", "absorbed"):
            ref = apart(ids, mode=mode)
            assert (shared(ids, mode=mode) - ref).abs().max() <= 1e-5 * ref.abs().max()
    a, q = shared.config.attn[0], shared.layers[0].self_attn
    assert a.q_head_dim == 16 and a.d_nope > 0 and apart.config.attn[0].q_head_dim is None
    assert q.q_proj.weight.shape == (4 * 16, 64)
    assert apart.layers[0].self_attn.q_proj.weight.shape == (4 * (a.d_nope + a.d_rope), 64)
    assert not torch.allclose(q.q_pe_scale, torch.ones_like(q.q_pe_scale))  # the RoRoPE mix is in the factors
    with pytest.raises(ValueError, match="q_head_dim"):
        M2LAConfig(hidden=64, heads=4, d_nope=8, d_rope=8, d_v=16, kv_rank=8, q_head_dim=16)


def test_mrope_selection_keeps_every_section() -> None:
    src = tiny_qwen2_vl()
    with torch.no_grad():
        m = convert_model(src, kv_rank=24, rope_dim=8, calib_input_ids=_zipf_ids(4, 32, 3))
    for a in m.config.attn:
        assert set(a.pair_sections().tolist()) == {0, 1, 2}
    with pytest.raises(ValueError, match="MRoPE"):
        convert_model(src, kv_rank=24, rope_dim=4)


def test_full_rank_rorope_is_exact_and_fewer_pairs_are_not() -> None:
    """All pairs kept through the RoRoPE rotation path is exact; dropping pairs changes the function."""
    src = tiny_llama()
    ids = _ids()
    moments = attention_input_moments(src, _zipf_ids(4, 32, 4))
    with torch.no_grad():
        ref = src(ids).logits
        rotated = convert_model(src, rope_dim=32, moments=moments)  # RoRoPE mix, every pair kept
        assert (rotated(ids) - ref).abs().max().item() <= TOL
        u_is_mixed = rotated.state_dict()["layers.0.self_attn.kv_a_proj.weight"][32:]
        assert not torch.allclose(u_is_mixed, src.model.layers[0].self_attn.k_proj.weight)
        lossy = convert_model(src, rope_dim=16, moments=moments)  # full kv rank, half the RoPE pairs
        assert lossy.config.attn[0].d_nope > 0
        assert (lossy(ids) - ref).abs().max() > 1e-3


def test_activation_aware_beats_weight_svd_on_calibration_like_data() -> None:
    src = tiny_llama()
    moments = attention_input_moments(src, _zipf_ids(16, 32, 1))
    held_out = _zipf_ids(4, 32, 2)  # same distribution, other samples
    with torch.no_grad():
        ref = src(held_out).logits
        err = {}
        for method in ("activation", "weight_svd"):
            m = convert_model(src, kv_rank=24, rope_dim=16, moments=moments, method=method)
            err[method] = ((m(held_out) - ref) ** 2).mean().item()
    assert err["activation"] < 0.9 * err["weight_svd"], err


def test_save_and_reload_without_source(tmp_path: Path) -> None:
    src = tiny_qwen2_vl()
    with torch.no_grad():
        m = convert_model(src, kv_rank=20, rope_dim=8, calib_input_ids=_zipf_ids(4, 32, 5))
    m.save_pretrained(tmp_path / "conv")
    del src
    again = M2LAForCausalLM.from_pretrained(tmp_path / "conv")
    ids, pos = _ids(1, 12), mrope_positions(12)
    with torch.no_grad():
        assert torch.equal(m(ids, pos), again(ids, pos))
    assert again.config == m.config


def test_tied_embeddings_survive_save(tmp_path: Path) -> None:
    with torch.no_grad():
        m = convert_model(tiny_llama(tie=True))
    m.save_pretrained(tmp_path)
    again = M2LAForCausalLM.from_pretrained(tmp_path)
    assert again.lm_head.weight is again.embed_tokens.weight
    with torch.no_grad():
        assert torch.equal(m(_ids()), again(_ids()))


def test_cli_converts_a_local_hf_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tiny_llama()
    src.save_pretrained(tmp_path / "src")
    rc = main([str(tmp_path / "src"), "--kv-rank", "24", "--rope-dim", "16", "--out", str(tmp_path / "out"), "--json"])
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kv_rank"] == 24 and info["rope_dim"] == 16 and info["cache_values_per_token_per_layer"] == 40
    m = M2LAForCausalLM.from_pretrained(tmp_path / "out")
    with torch.no_grad():
        direct = convert_model(src, kv_rank=24, rope_dim=16)
        assert (m(_ids()) - direct(_ids())).abs().max() < 1e-5


def test_cli_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("convert:") and "\n" not in err
    tiny_llama().save_pretrained(tmp_path / "src")
    assert main([str(tmp_path / "src"), "--kv-rank", "999", "--out", str(tmp_path / "o")]) == 1
    assert "kv-rank" in capsys.readouterr().err


def test_rotation_sensitivity_favours_keeping_fast_pairs() -> None:
    from model.convert import rotation_sensitivity

    inv = 1.0 / (10000.0 ** (torch.arange(0, 16, 2) / 16))  # fastest first
    sens = rotation_sensitivity(inv, 2048)
    assert sens[-1] < 0.5 * sens[0] and sens[4:].mean() < sens[:4].mean()
    assert bool((sens <= 2.0).all())  # |R - I| on a unit vector never exceeds 2


def test_weight_only_options_and_centring_keep_paths_consistent() -> None:
    from model.convert import ConvertOptions

    src = tiny_qwen2()
    moments = attention_input_moments(src, _zipf_ids(8, 32, 6))
    ids = _ids(1, 16)
    outs = []
    with torch.no_grad():
        for opts in (ConvertOptions(), ConvertOptions(rope_score="norm"),
                     ConvertOptions(centre=True, balance_kv=False)):
            m = convert_model(src, kv_rank=24, rope_dim=16, moments=moments, options=opts)
            outs.append(m(ids))
            assert (outs[-1] - m(ids, mode="absorbed")).abs().max() < 1e-4
    assert (outs[0] - outs[1]).abs().max() > 1e-3 and (outs[0] - outs[2]).abs().max() > 1e-3  # options take effect


def _kept_inv_freq(m: M2LAForCausalLM) -> torch.Tensor:
    return torch.tensor([f for a in m.config.attn for f in a.rope_inv_freq])


def test_a_shorter_rope_context_keeps_the_pairs_that_turn_within_it() -> None:
    from model.convert import ConvertOptions

    src = tiny_qwen2()  # theta 1e6: the slow pairs hardly turn within a few tokens
    moments = attention_input_moments(src, _zipf_ids(8, 32, 7))
    with torch.no_grad():
        short, long_ = (convert_model(src, kv_rank=24, rope_dim=8, moments=moments,
                                      options=ConvertOptions(rope_context=ctx)) for ctx in (8, 512))
        default = convert_model(src, kv_rank=24, rope_dim=8, moments=moments)
    assert default.config.attn == long_.config.attn  # None judges over the source's context (512 here)
    assert short.config.attn != long_.config.attn
    # judged over 8 tokens, the kept pairs are faster ones
    assert _kept_inv_freq(short).log().mean() > _kept_inv_freq(long_).log().mean()


def test_cli_passes_the_rope_context(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from model.convert import ConvertOptions

    src = tiny_qwen2()
    src.save_pretrained(tmp_path / "src")
    assert main([str(tmp_path / "src"), "--kv-rank", "24", "--rope-dim", "8", "--rope-context", "8",
                 "--out", str(tmp_path / "out"), "--json"]) == 0
    with torch.no_grad():
        direct = convert_model(src, kv_rank=24, rope_dim=8, options=ConvertOptions(rope_context=8))
    assert M2LAForCausalLM.from_pretrained(tmp_path / "out").config.attn == direct.config.attn
    capsys.readouterr()
    assert main([str(tmp_path / "src"), "--rope-context", "0", "--out", str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("convert:") and "rope-context" in err and "\n" not in err


def test_cli_latent_int8_halves_the_cache_bytes_and_survives_reload(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    src = tiny_llama()
    src.save_pretrained(tmp_path / "src")
    infos = []
    for name, extra in (("plain", []), ("int8", ["--latent-int8"])):
        assert main([str(tmp_path / "src"), "--kv-rank", "24", "--rope-dim", "16", "--out", str(tmp_path / name),
                     "--json", *extra]) == 0
        infos.append(json.loads(capsys.readouterr().out))
    layers = infos[0]["layers"]
    assert infos[0]["cache_bytes_per_token_bf16"] == layers * 40 * 2
    assert infos[1]["cache_bytes_per_token_bf16"] == layers * (40 + 2)  # int8 values + an fp16 scale a layer
    m = M2LAForCausalLM.from_pretrained(tmp_path / "int8")
    assert all(a.latent_int8 for a in m.config.attn)
    assert not any(a.latent_int8 for a in M2LAForCausalLM.from_pretrained(tmp_path / "plain").config.attn)
    with torch.no_grad():  # the rounding shows in the logits, and only there
        plain = M2LAForCausalLM.from_pretrained(tmp_path / "plain")(_ids())
        rounded = m(_ids())
    assert 0 < (plain - rounded).abs().max() < 0.05 * plain.abs().max()


def test_allocate_ranks_keeps_the_total_and_feeds_the_slowly_decaying_spectra() -> None:
    from model.convert import allocate_ranks

    steep = torch.tensor([0.9, 0.05, 0.03, 0.02] + [0.0] * 60)  # nearly rank 1
    slow = 0.97 ** torch.arange(64, dtype=torch.float64)
    slow /= slow.sum()  # a slowly decaying spectrum: every latent dim still helps
    ranks = allocate_ranks([steep, slow, slow], mean_rank=24, unit=8, floor=8)
    assert sum(ranks) == 72 and ranks[0] == 8 and ranks[1] == ranks[2] == 32
    # a layer never gets more than its width; the rest goes elsewhere
    narrow = torch.full((12,), 1 / 12, dtype=torch.float64)
    assert allocate_ranks([narrow, slow], mean_rank=30, unit=8, floor=8) == [12, 48]
    with pytest.raises(ValueError, match="kv-rank"):
        allocate_ranks([narrow, narrow], mean_rank=13)


def test_spectrum_allocation_moves_rank_to_the_layer_that_needs_it() -> None:
    from model.convert import ConvertOptions

    src = tiny_llama()
    with torch.no_grad():  # layer 0's keys and values become rank 2: a few latent dims carry them exactly
        for proj in (src.model.layers[0].self_attn.k_proj, src.model.layers[0].self_attn.v_proj):
            u, s, vh = torch.linalg.svd(proj.weight, full_matrices=False)
            proj.weight.copy_((u[:, :2] * s[:2]) @ vh[:2])
    moments = attention_input_moments(src, _zipf_ids(16, 32, 1))
    held_out = _zipf_ids(4, 32, 2)
    with torch.no_grad():
        ref = src(held_out).logits
        # every RoPE pair kept (rope_dim 32 = 2 KV heads x 16), so the latent rank is the only loss
        uniform = convert_model(src, kv_rank=24, rope_dim=32, moments=moments)
        spread = convert_model(src, kv_rank=24, rope_dim=32, moments=moments,
                               options=ConvertOptions(rank_allocation="spectrum"))
        err = {name: ((m(held_out) - ref) ** 2).mean().item() for name, m in (("uniform", uniform), ("spread", spread))}
        ids = _ids(1, 12)
        naive = spread(ids)
        cache = LatentKVCache.for_model(spread)
        absorbed = torch.cat([spread(ids[:, i:i + 1], cache=cache, mode="absorbed") for i in range(12)], dim=1)
    ranks = [a.kv_rank for a in spread.config.attn]
    assert ranks[0] < 24 < ranks[1] and sum(ranks) == 2 * 24
    assert cache.bytes_per_token() == LatentKVCache.for_model(uniform).bytes_per_token()
    assert err["spread"] < 0.1 * err["uniform"], err
    assert (naive - absorbed).abs().max() < 1e-4


def test_cli_spectrum_allocation_needs_calibration(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tiny_llama().save_pretrained(tmp_path / "src")
    capsys.readouterr()  # the save's progress bar
    assert main([str(tmp_path / "src"), "--kv-rank", "24", "--rope-dim", "8", "--rank-allocation", "spectrum",
                 "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("convert:") and "--calib" in err and "\n" not in err, err
