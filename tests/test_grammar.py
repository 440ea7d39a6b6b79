"""Grammar-constrained JSON decoding: every decode validates against its schema, even from a random model."""
from __future__ import annotations

import json

import jsonschema
import pytest
import torch

from model.grammar import GrammarError, JsonSchemaProcessor
from tests.tiny_chat import tiny_llama, tiny_tokenizer

# A tool-call-shaped schema (one call or the answer per step) exercising const, anyOf, nested objects
# and arrays; the agent's own schemas (agent.loop) are decoded by the slow agent end-to-end tests.
TOOL_CALL = {"anyOf": [
    {"type": "object", "additionalProperties": False, "required": ["tool", "arguments"], "properties": {
        "tool": {"const": "retrieve_clip"},
        "arguments": {"type": "object", "additionalProperties": False, "required": ["query"], "properties": {
            "query": {"type": "string", "minLength": 1}, "k": {"type": "integer", "minimum": 1, "maximum": 20},
            "start_s": {"type": "number"}, "end_s": {"type": "number"},
            "modality": {"enum": ["visual", "speech", "ocr", "any"]}}}}},
    {"type": "object", "additionalProperties": False, "required": ["tool", "arguments"], "properties": {
        "tool": {"const": "verify_frame"},
        "arguments": {"type": "object", "additionalProperties": False, "required": ["t_s", "claim"], "properties": {
            "t_s": {"type": "number", "minimum": 0}, "claim": {"type": "string", "minLength": 1}}}}},
    {"type": "object", "additionalProperties": False, "required": ["tool", "arguments"], "properties": {
        "tool": {"const": "answer"},
        "arguments": {"type": "object", "additionalProperties": False, "required": ["text"], "properties": {
            "text": {"type": "string"}, "clips": {"type": "array", "items": {"type": "integer"}, "maxItems": 5}}}}},
]}

NESTED = {"type": "object", "required": ["items", "meta"], "properties": {
    "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "array", "items": {"type": "number"}}, "b": {"type": "boolean"}}}},
    "meta": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 3}}}}}


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    return tiny_llama(len(tok), seed=3)


def _prompt(tok) -> torch.Tensor:
    return tok.apply_chat_template([{"role": "user", "content": "call a tool"}], add_generation_prompt=True,
                                   return_tensors="pt")["input_ids"]


def _hf_decode(model, tok, schema: dict, budget: int, seed: int) -> JsonSchemaProcessor:
    proc = JsonSchemaProcessor(tok, schema, budget)
    torch.manual_seed(seed)
    model.generate(_prompt(tok), max_new_tokens=budget, do_sample=True, temperature=2.0, top_k=0,
                   logits_processor=[proc], eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return proc


@pytest.mark.parametrize("schema,budgets", [(TOOL_CALL, (40, 100)), (NESTED, (60, 100))], ids=["tool_call", "nested"])
def test_random_model_always_yields_valid_json(model, tok, schema, budgets):
    for budget in budgets:
        for seed in range(4):
            proc = _hf_decode(model, tok, schema, budget, seed)
            assert len(proc.tokens) <= budget
            value = proc.result()  # parses and validates, or raises
            jsonschema.validate(json.loads(proc.text()), schema)
            assert value == json.loads(proc.text())


def test_tool_call_choice_follows_the_model(tok):
    # the grammar leaves the choice to the model: different random models pick different tools
    picked = set()
    for seed in range(8):
        m = tiny_llama(len(tok), seed=100 + seed)
        picked.add(_hf_decode(m, tok, TOOL_CALL, 60, seed).result()["tool"])
    assert len(picked) >= 2


def test_with_model_generate_and_latent_cache(tok):
    from model.convert import convert_model
    from model.generate import generate

    m2la = convert_model(tiny_llama(len(tok), seed=5))
    for seed in range(4):
        proc = JsonSchemaProcessor(tok, TOOL_CALL, 64)
        res = generate(m2la, _prompt(tok)[0], 64, temperature=1.5, seed=seed, stop_ids=[tok.eos_token_id],
                       tokenizer=tok, logits_processor=proc)
        value = proc.result()
        assert json.loads(res.text) == value


def test_budget_too_small_is_an_error(tok):
    with pytest.raises(GrammarError, match="too small"):
        JsonSchemaProcessor(tok, TOOL_CALL, 5)


def test_invalid_schema_is_an_error(tok):
    with pytest.raises(GrammarError, match="invalid JSON schema"):
        JsonSchemaProcessor(tok, {"type": "no-such-type"}, 64)


@pytest.mark.slow
def test_real_vocabulary_tool_call():
    """SmolLM2's own 49K vocabulary (merged tokens such as `"]]`), with a random model on top."""
    from transformers import AutoTokenizer

    from assets import AssetError
    from model.load import smollm2_gguf

    try:
        gguf = smollm2_gguf()
    except AssetError as e:
        pytest.skip(str(e))
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    m = tiny_llama(len(tok), seed=7)
    for seed, budget in ((0, 48), (1, 48), (2, 100)):
        assert (_hf_decode(m, tok, TOOL_CALL, budget, seed).result()["tool"]
                in ("retrieve_clip", "verify_frame", "answer"))
