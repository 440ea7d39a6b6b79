"""Layer-wise attention fitting on tiny random models: the capture is the source's own attention I/O,
an exact conversion already reproduces it, and fitting a lossy one lowers its error on unseen windows.

(Whether that helps the whole model is measured on the real SmolLM2 by `python -m model bench`: on
tiny random teachers the attention output carries little of what the logits depend on.)
"""
from __future__ import annotations

import pytest
import torch

from model.convert.layerwise import LayerFitConfig, capture_attention_io, cosine, fit_layers
from tests.tiny_chat import tiny_llama


@torch.no_grad()
def _relative_errors(student, io, ids: torch.Tensor | None = None) -> list[float]:
    """Per layer mean-square error of the student's attention output vs the captured source output,
    relative to the output; the inputs are the captured source inputs, or with `ids` the student's own."""
    errs, h = [], None if ids is None else student.embed_tokens(ids)
    for block, (x, y) in zip(student.layers, io):
        pos = torch.arange(x.shape[1])[None].expand(x.shape[0], -1)
        x_in = x.float() if h is None else block.input_layernorm(h)
        errs.append(float((block.self_attn(x_in, pos) - y.float()).pow(2).mean() / y.float().pow(2).mean()))
        if h is not None:
            h = block(h, pos, None, 0, "naive")
    return errs


def test_capture_matches_an_exact_conversion():
    from model.convert import convert_model

    teacher = tiny_llama(300, seed=4)
    ids = torch.randint(3, 300, (3, 48), generator=torch.Generator().manual_seed(0))
    io = capture_attention_io(teacher, ids, batch=2, bf16=False)
    assert len(io) == teacher.config.num_hidden_layers
    assert io[0][0].shape == (3, 48, teacher.config.hidden_size) == io[0][1].shape
    exact = convert_model(teacher)  # full rank, every RoPE pair: the same attention
    assert max(_relative_errors(exact, io)) < 1e-4  # bf16 storage of the capture bounds this
    assert max(_relative_errors(exact, io, ids)) < 1e-4  # and its own inputs are the source's


@pytest.mark.parametrize("inputs", ["student", "source"])
def test_fit_layers_lowers_the_error_on_unseen_windows(inputs: str):
    from model.convert import convert_model

    teacher = tiny_llama(300, seed=5, initializer_range=0.2)
    g = torch.Generator().manual_seed(1)
    train, held = torch.randint(3, 300, (16, 64), generator=g), torch.randint(3, 300, (4, 64), generator=g)
    student = convert_model(teacher, 6, 4, calib_input_ids=train)  # lossy
    held_io = capture_attention_io(teacher, held, bf16=False)
    own = held if inputs == "student" else None  # the inputs each mode fits on
    before = _relative_errors(student, held_io, own)
    untouched = {k: v.clone() for k, v in student.state_dict().items() if ".self_attn." not in k}
    rep = fit_layers(student, teacher, train, LayerFitConfig(max_steps=40, batch=4, lr=3e-3, bf16=False, inputs=inputs))
    after = _relative_errors(student, held_io, own)
    assert rep.steps == 40 * len(student.layers) and rep.loss_last < rep.loss_first
    assert all(a < 0.9 * b for a, b in zip(after, before)), (before, after)
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in untouched.items())  # only attention moves
    assert not any(p.requires_grad for p in student.parameters())


def test_unknown_inputs_mode_is_refused():
    teacher = tiny_llama(300, seed=6)
    from model.convert import convert_model
    with pytest.raises(ValueError, match="unknown layer-fit inputs"):
        fit_layers(convert_model(teacher), teacher, torch.randint(3, 300, (2, 16)), LayerFitConfig(inputs="both"))


def test_cosine_schedule_ends_at_zero():
    assert cosine(0.0) == 1.0 and abs(cosine(0.5) - 0.5) < 1e-12 and cosine(1.0) < 1e-12 and cosine(2.0) < 1e-12


def test_budget_counts_steps_or_time_and_always_takes_one():
    from model.convert.layerwise import budget

    assert list(budget(4, 0.0)) == [0.0, 0.25, 0.5, 0.75]
    assert len(list(budget(None, 0.0))) == 1  # no time left: still one step
    fracs = list(budget(None, 0.05))
    assert len(fracs) >= 2 and fracs == sorted(fracs) and fracs[-1] < 1.0
