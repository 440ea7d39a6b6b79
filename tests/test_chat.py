"""ChatModel on a tiny random M2LA model: chat template, stop strings, streaming, constrained JSON."""
from __future__ import annotations

import json

import jsonschema
import pytest

from model.chat import ChatModel
from tests.test_grammar import TOOL_CALL
from tests.tiny_chat import tiny_llama, tiny_tokenizer

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "where is the red car?"}]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def source(tok):
    return tiny_llama(len(tok), seed=11)


@pytest.fixture(scope="module")
def chat(tok, source):
    from model.convert import convert_model

    return ChatModel(model=convert_model(source), tokenizer=tok, model_id="tiny-random-m2la")


def test_complete_uses_the_chat_template_and_matches_the_source_greedy(chat, tok, source):
    text = chat.complete(MESSAGES, max_new_tokens=24)
    ids = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt")["input_ids"]
    assert ids[0].tolist() == chat.prompt_ids(MESSAGES)
    ref = source.generate(ids, max_new_tokens=24, do_sample=False, eos_token_id=tok.eos_token_id,
                          pad_token_id=tok.pad_token_id)[0, ids.shape[1]:].tolist()
    ref = [t for t in ref if t != tok.eos_token_id]
    assert text == tok.decode(ref, skip_special_tokens=False)
    assert text  # a random model over 400 tokens does not stop at once with this seed


def test_stop_strings_and_streaming(chat):
    full = chat.complete(MESSAGES, max_new_tokens=24)
    stop = full[len(full) // 2: len(full) // 2 + 2]
    assert stop and stop in full
    pieces: list[str] = []
    cut = chat.complete(MESSAGES, max_new_tokens=24, stop=[stop], on_token=pieces.append)
    assert cut == full[: full.index(stop)]
    assert "".join(pieces) == cut


def test_sampling_is_seeded(chat):
    a = chat.complete(MESSAGES, max_new_tokens=16, temperature=1.0, seed=3)
    b = chat.complete(MESSAGES, max_new_tokens=16, temperature=1.0, seed=3)
    assert a == b


def test_complete_json_is_valid_and_streamed(chat):
    pieces: list[str] = []
    value = chat.complete_json(MESSAGES, TOOL_CALL, max_new_tokens=64, on_token=pieces.append)
    jsonschema.validate(value, TOOL_CALL)
    assert json.loads("".join(pieces)) == value
    for seed in range(3):  # sampled too
        jsonschema.validate(chat.complete_json(MESSAGES, TOOL_CALL, 64, temperature=1.5, seed=seed), TOOL_CALL)


def test_empty_messages_are_an_error(chat):
    with pytest.raises(ValueError, match="messages"):
        chat.complete([], 8)
