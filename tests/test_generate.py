"""Generation over the latent cache: greedy parity with transformers, streaming, stops, sampling, processors."""
from __future__ import annotations

import pytest
import torch

from model.convert import convert_model
from model.generate import generate
from tests.fixtures.tiny_lm import VOCAB, tiny_llama, tiny_qwen2, tiny_qwen2_vl

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 .,;:!?-_()[]{}<>/\\|@#$%^&*+=~'\"`ABCDEFGHIJKLMNOPQRSTUVWXYZ\n\t"


class CharTokenizer:
    """Test double: token id i decodes to one character (generate only needs `.decode`)."""

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return "".join(ALPHABET[i % len(ALPHABET)] for i in ids)


def _prompt(t: int = 10, seed: int = 0) -> torch.Tensor:
    return torch.randint(3, VOCAB, (1, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("build", [tiny_llama, tiny_qwen2], ids=["llama", "qwen2"])
def test_greedy_with_latent_cache_equals_transformers_generate(build) -> None:
    src = build()
    prompt = _prompt()
    ref = src.generate(prompt, max_new_tokens=24, min_new_tokens=24, do_sample=False, eos_token_id=None,
                       pad_token_id=0)[0, prompt.shape[1]:].tolist()
    with torch.no_grad():
        model = convert_model(src)
    out = generate(model, prompt, 24)
    assert out.tokens == ref and out.stopped_by == "max_new_tokens"
    assert len(set(ref)) > 3  # a varied continuation, not one repeated token
    assert out.prefill_s > 0 and out.decode_s > 0


def test_greedy_mrope_model_equals_transformers_generate() -> None:
    src = tiny_qwen2_vl()
    prompt = _prompt(12, 1)
    ref = src.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=16,
                       min_new_tokens=16, do_sample=False, eos_token_id=None, pad_token_id=0)[0, 12:].tolist()
    with torch.no_grad():
        model = convert_model(src)
    assert generate(model, prompt, 16).tokens == ref


@pytest.fixture(scope="module")
def model():
    with torch.no_grad():
        return convert_model(tiny_llama(seed=3), kv_rank=24, rope_dim=16)


def test_streaming_callback_sees_every_token_and_the_text(model) -> None:
    seen: list[tuple[int, str]] = []
    out = generate(model, _prompt(), 15, tokenizer=CharTokenizer(), on_token=lambda t, s: seen.append((t, s)))
    assert [t for t, _ in seen] == out.tokens and len(out.tokens) == 15
    assert "".join(s for _, s in seen) == out.text == CharTokenizer().decode(out.tokens)


def test_stop_string_cuts_text_and_is_never_streamed(model) -> None:
    free = generate(model, _prompt(), 30, tokenizer=CharTokenizer())
    stop = free.text[12:14]  # a string the free run produces; generation must stop where it first appears
    first = free.text.find(stop)
    pieces: list[str] = []
    out = generate(model, _prompt(), 30, tokenizer=CharTokenizer(), stop_strings=[stop],
                   on_token=lambda t, s: pieces.append(s))
    assert out.stopped_by == "stop_string"
    assert out.text == free.text[:first]
    assert "".join(pieces) == out.text  # the stop string itself was held back, never shown
    assert out.tokens == free.tokens[: first + len(stop)]


def test_stop_id_ends_generation_without_emitting_it(model) -> None:
    free = generate(model, _prompt(), 20)
    stop = free.tokens[7]
    out = generate(model, _prompt(), 20, stop_ids=[stop])
    assert out.stopped_by == "stop_id"
    assert out.tokens == free.tokens[: free.tokens.index(stop)]


def test_sampling_is_reproducible_with_a_seed(model) -> None:
    runs = [generate(model, _prompt(), 20, temperature=1.0, top_p=0.9, seed=s).tokens for s in (7, 7, 8, 9)]
    assert runs[0] == runs[1]
    assert runs[2] != runs[0] or runs[3] != runs[0]
    assert runs[0] != generate(model, _prompt(), 20).tokens  # sampling is not greedy in disguise


def test_tiny_top_p_is_greedy(model) -> None:
    assert generate(model, _prompt(), 12, temperature=1.0, top_p=1e-6, seed=1).tokens == \
        generate(model, _prompt(), 12).tokens


def test_logits_processor_constrains_every_step(model) -> None:
    allowed = torch.tensor([5, 9, 40])
    history: list[list[int]] = []

    def only_allowed(logits: torch.Tensor, generated: list[int]) -> torch.Tensor:
        history.append(list(generated))
        masked = torch.full_like(logits, float("-inf"))
        masked[allowed] = logits[allowed]
        return masked

    out = generate(model, _prompt(), 10, logits_processor=only_allowed, temperature=0.8, seed=0)
    assert len(out.tokens) == 10 and set(out.tokens) <= set(allowed.tolist())
    assert history == [out.tokens[:i] for i in range(10)]


def test_bad_calls_fail_clearly(model) -> None:
    with pytest.raises(ValueError, match="tokenizer"):
        generate(model, _prompt(), 3, stop_strings=["x"])
    with pytest.raises(ValueError, match="prompt"):
        generate(model, torch.zeros(2, 3, dtype=torch.long), 3)


def test_mrope_prompt_positions_continue_past_their_maximum() -> None:
    """After image-like MRoPE positions, text continues at max(position) + 1 in every section."""
    with torch.no_grad():
        model = convert_model(tiny_qwen2_vl(), kv_rank=24, rope_dim=8)
    prompt = _prompt(10, 4)
    ar = torch.arange(10)
    pos = torch.stack([ar, ar + 5, ar % 3])[:, None]  # [3, 1, 10]; the largest position is 14
    out = generate(model, prompt, 6, positions=pos).tokens
    ids, p = prompt, pos
    expected = []
    with torch.no_grad():
        for step in range(6):  # no cache: the whole sequence every step
            tok = int(model(ids, p)[0, -1].argmax())
            expected.append(tok)
            ids = torch.cat((ids, torch.tensor([[tok]])), 1)
            p = torch.cat((p, torch.full((3, 1, 1), 15 + step)), -1)
    assert out == expected
