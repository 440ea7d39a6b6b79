"""Healing on tiny random models: distillation lowers the KL to the source on held-out tokens."""
from __future__ import annotations

import json

import pytest
import torch

from model.convert.heal import HealConfig, distill_kl, heal, heldout_kl, main, sparse_kl, teacher_topk
from model.convert.ppl import perplexity
from tests.tiny_chat import tiny_llama, tiny_tokenizer


def _pair(seed: int = 0):
    from model.convert import convert_model

    # a larger init gives the random teacher peaked distributions, so there is something to match
    teacher = tiny_llama(300, seed=seed, initializer_range=0.2)
    calib = torch.randint(3, 300, (8, 64), generator=torch.Generator().manual_seed(1))
    student = convert_model(teacher, 12, 4, calib_input_ids=calib)  # lossy: 12 + 4 of 2 x 2 x 16 per layer
    return teacher, student


@torch.no_grad()
def _teacher_text(teacher, n: int, length: int, seed: int) -> torch.Tensor:
    """Windows [n, length] sampled from the teacher itself: text on which its perplexity means something."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 300, (n, 1), generator=g)
    while ids.shape[1] < length:
        probs = torch.softmax(teacher(ids).logits[:, -1].float(), dim=-1)
        ids = torch.cat((ids, torch.multinomial(probs, 1, generator=g)), dim=1)
    return ids


def test_heal_lowers_heldout_kl_and_ppl_gap():
    teacher, student = _pair()
    train, held = _teacher_text(teacher, 32, 64, 2), _teacher_text(teacher, 6, 64, 3)
    kl0 = heldout_kl(student, teacher, held)
    gap0 = abs(perplexity(student, held) - perplexity(teacher, held))
    rep = heal(student, teacher, train, HealConfig(minutes=5, max_steps=30, seq_len=64, batch=4, lr=3e-2,
                                                    layer_steps=20))
    assert rep.steps == 30 and rep.kl_last < rep.kl_first
    assert rep.layer_steps == 20 * len(student.layers) and rep.layer_error_last < rep.layer_error_first
    kl1 = heldout_kl(student, teacher, held)
    assert kl1 < 0.9 * kl0, (kl0, kl1)
    assert abs(perplexity(student, held) - perplexity(teacher, held)) < gap0
    assert not any(p.requires_grad for p in student.parameters())


def test_layerwise_stage_fits_windows_spread_over_the_whole_set(monkeypatch):
    import model.convert.heal as heal_module

    teacher, student = _pair()
    train = torch.arange(3, 3 + 16 * 64).view(16, 64) % 300  # 16 distinguishable windows
    seen = {}
    real = heal_module.fit_layers

    def spy(student, teacher, windows, *args, **kwargs):
        seen["windows"] = windows.clone()
        return real(student, teacher, windows, *args, **kwargs)

    monkeypatch.setattr(heal_module, "fit_layers", spy)
    heal(student, teacher, train, HealConfig(max_steps=1, seq_len=64, layer_steps=1, layer_tokens=4 * 64))
    # 4 windows' worth of tokens, taken from the start to the end of the set rather than its first 4
    picked = [next(i for i in range(16) if torch.equal(train[i], w)) for w in seen["windows"]]
    assert len(picked) == 4 and picked[0] == 0 and picked[-1] == 15 and picked == sorted(picked)


def test_sparse_kl_is_exact_with_every_token_and_a_lower_bound_with_fewer():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 50, generator=g) * 3, torch.randn(2, 5, 50, generator=g) * 3
    t_logp = torch.log_softmax(t, dim=-1)
    full = float(distill_kl(s, t))
    top = t_logp.topk(50, dim=-1)
    assert abs(float(sparse_kl(s, top.values, top.indices)) - full) < 1e-5
    bounds = [float(sparse_kl(s, *t_logp.topk(k, dim=-1))) for k in (5, 20, 40)]
    assert bounds[0] < bounds[1] < bounds[2] < full  # coarser buckets hide more of the divergence


def test_teacher_topk_keeps_the_teachers_most_likely_tokens():
    teacher, _ = _pair(3)
    windows = torch.randint(3, 300, (3, 16), generator=torch.Generator().manual_seed(4))
    cached = teacher_topk(teacher, windows, 7, bf16=False, batch=2)
    logp = torch.log_softmax(teacher(windows).logits.float(), dim=-1)  # [3, 16, V]
    assert cached.ids.shape == cached.logp.shape == (3, 16, 7)
    torch.testing.assert_close(cached.logp, logp.topk(7, dim=-1).values, atol=1e-5, rtol=0)
    torch.testing.assert_close(logp.gather(-1, cached.ids), cached.logp, atol=1e-5, rtol=0)


def _moved_by_heal(train: str, other_lr: float, topk: int) -> set[str]:
    teacher, student = _pair(1)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    heal(student, teacher, torch.randint(3, 300, (4, 64)),
         HealConfig(max_steps=2, seq_len=64, batch=2, layer_steps=2, teacher_topk=topk, train=train, other_lr=other_lr))
    after = student.state_dict()
    assert not any(p.requires_grad for p in student.parameters())
    return {k for k in before if not torch.equal(before[k], after[k])}


@pytest.mark.parametrize("topk", [0, 16])
def test_heal_attention_target_moves_only_attention(topk: int):
    moved = _moved_by_heal("attention", 1.0, topk)
    assert moved and all(".self_attn." in k for k in moved)


def test_heal_all_target_moves_every_kind_of_weight_at_its_own_rate():
    moved = _moved_by_heal("all", 1.0, 16)
    assert {k.split(".")[-2] for k in moved} >= {"q_proj", "kv_b_proj", "gate_proj", "down_proj", "embed_tokens"}
    assert any(k.endswith(".q_pe_scale") for k in moved)  # the shared query's per-head factors learn too
    # a zero factor on the other weights leaves them where conversion put them, attention still moves
    frozen_rest = _moved_by_heal("all", 0.0, 16)
    assert frozen_rest and all(".self_attn." in k for k in frozen_rest)


def test_heal_cli_writes_a_reloadable_model(tmp_path, capsys):
    from model.lm import M2LAForCausalLM

    tok = tiny_tokenizer()
    teacher = tiny_llama(len(tok), seed=2, initializer_range=0.3)
    from model.convert import convert_model
    student = convert_model(teacher, 6, 4)
    teacher.save_pretrained(tmp_path / "src")
    tok.save_pretrained(str(tmp_path / "src"))
    student.save_pretrained(tmp_path / "m2la")
    rc = main(["--model", str(tmp_path / "m2la"), "--source", str(tmp_path / "src"), "--minutes", "5",
               "--max-steps", "3", "--layer-steps", "2", "--seq-len", "64", "--eval-windows", "1", "--windows", "4",
               "--out", str(tmp_path / "healed"),
               "--json"])
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    assert info["steps"] == 3 and info["layer_steps"] == 2 * len(student.layers)
    assert info["ppl_before"] > 1 and info["ppl_after"] > 1
    assert M2LAForCausalLM.from_pretrained(tmp_path / "healed").config == student.config


def test_heal_says_when_its_budget_went_on_the_teacher_passes():
    teacher, student = _pair()
    train = _teacher_text(teacher, 8, 64, 2)
    said: list[str] = []
    before = {k: v.clone() for k, v in student.state_dict().items()}
    rep = heal(student, teacher, train, HealConfig(minutes=1e-6, seq_len=64), said.append)
    assert rep.steps == 1 and rep.layer_steps == len(student.layers)  # one step each, at learning rate 0
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in before.items())
    assert any(m.startswith("layer-wise: the capture over 8 windows used the whole budget") for m in said)
    assert any(m.startswith("heal: no time left for end-to-end steps") for m in said)
    said.clear()
    heal(student, teacher, train, HealConfig(minutes=5, max_steps=1, layer_steps=1, seq_len=64), said.append)
    assert not any("no time left" in m or "whole budget" in m for m in said)


def test_heal_cli_bad_model_is_one_line_error(tmp_path, capsys):
    assert main(["--model", str(tmp_path / "nope"), "--source", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.startswith("heal: ")
