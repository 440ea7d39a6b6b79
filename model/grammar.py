"""Grammar-constrained decoding of JSON against a JSON schema, as a logits processor.

llguidance compiles the schema into a token-level matcher over the model's vocabulary; each step the
processor masks every token the grammar forbids. A token budget is respected too: near the end of
the budget the processor switches to a deterministic close-out plan (close strings, objects and
arrays with the fewest tokens), so a constrained decode always ends in JSON that validates, even
from a random model. Library choice by measurement (`python -m bench.grammar_compare`): llguidance has matcher
copies for the close-out plan and rejects unsupported schema keywords; xgrammar needs another package; a mask
from either costs little next to a forward.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema
import llguidance
import llguidance.hf
import numpy as np
import torch


@dataclass(frozen=True)
class GrammarConfig:
    """How the JSON grammar is compiled and how the token budget is guarded."""

    whitespace_flexible: bool = False  # compact JSON: a model cannot burn its budget on spaces
    close_window: int = 64  # within this many tokens of the budget, plan the shortest close each step
    close_margin: int = 16  # slack kept above the close plan: one token can open several levels at once
    max_plan_steps: int = 256  # give up planning a close beyond this (the schema then needs a larger budget)


class GrammarError(ValueError):
    """A schema that cannot be compiled, or a budget too small to ever finish it."""


@lru_cache(maxsize=8)
def _ll_tokenizer_cached(key: int, hf_tokenizer: Any) -> llguidance.LLTokenizer:
    return llguidance.hf.from_tokenizer(hf_tokenizer)


def ll_tokenizer(hf_tokenizer: Any) -> llguidance.LLTokenizer:
    """llguidance's view of a fast Hugging Face tokenizer (built once per tokenizer: it walks the vocabulary)."""
    return _ll_tokenizer_cached(id(hf_tokenizer), hf_tokenizer)


@lru_cache(maxsize=8)
def _close_ranks(tok: llguidance.LLTokenizer) -> np.ndarray:
    """Per token, its preference when closing JSON in the fewest tokens (lower is better).

    EOS first (ends an accepted document), then the single closers `"`, `}`, `]` (multi-byte closer
    tokens such as `"]]` are avoided: at a value position they open a string whose content they
    become), then `0` (the shortest number), then everything else by byte length (the shortest way
    through minLength strings, keys and enums); special tokens last.
    """
    n = tok.vocab_size
    ranks = np.full(n, 10_000_000, dtype=np.int64)
    fixed = {b'"': 1, b"}": 2, b"]": 3, b"0": 4}
    for i in range(n):
        if tok.is_special_token(i):
            continue
        b = tok.decode_bytes([i])
        if not b:
            continue
        if b in fixed:
            ranks[i] = fixed[b]
        else:
            ranks[i] = 1000 + len(b) * 100_000 + i  # ties: the lower id, deterministically
    for e in tok.eos_tokens:
        ranks[e] = 0
    return ranks


def compile_schema(schema: dict, config: GrammarConfig = GrammarConfig()) -> str:
    """The llguidance grammar for a JSON schema; unsupported keywords are an error, never ignored."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise GrammarError(f"invalid JSON schema: {e.message}") from None
    return llguidance.LLMatcher.grammar_from_json_schema(
        schema, defaults={"whitespace_flexible": config.whitespace_flexible, "lenient": False}
    )


def _allowed(matcher: llguidance.LLMatcher, n_vocab: int) -> np.ndarray:
    """The boolean mask [n_vocab] of tokens the grammar allows next."""
    bits = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[:n_vocab].astype(bool)


class JsonSchemaProcessor:
    """A logits processor that keeps decoding inside a JSON schema and inside a token budget.

    Call it Hugging Face style, `processor(input_ids [B=1, T], scores [B=1, V]) -> scores`, or with
    1-D tensors; it learns the prompt length on the first call and feeds each later new token to the
    matcher. One processor serves one decode.
    """

    def __init__(
        self,
        hf_tokenizer: Any,
        schema: dict,
        max_new_tokens: int,
        config: GrammarConfig = GrammarConfig(),
    ) -> None:
        self.tokenizer = hf_tokenizer
        self.schema = schema
        self.config = config
        self.budget = max_new_tokens
        self._tok = ll_tokenizer(hf_tokenizer)
        self._ranks = _close_ranks(self._tok)
        self._eos = set(self._tok.eos_tokens)
        self.matcher = llguidance.LLMatcher(self._tok, compile_schema(schema, config), log_level=0)
        if self.matcher.is_error():
            raise GrammarError(f"schema not supported by the grammar compiler: {self.matcher.get_error()}")
        self.tokens: list[int] = []  # generated so far (EOS included if it came)
        self._prompt_len: int | None = None
        self._plan: list[int] | None = None  # close-out plan being followed, once in close-out mode
        first = self._close_plan(self.matcher)
        if first is None or len(first) + config.close_margin > max_new_tokens:
            need = "unknown" if first is None else str(len(first) + config.close_margin)
            raise GrammarError(f"max_new_tokens={max_new_tokens} is too small for this schema (needs {need})")

    # -- state ---------------------------------------------------------------------------------
    @property
    def accepting(self) -> bool:
        """Whether the tokens so far form a complete document of the schema."""
        return self.matcher.is_accepting()

    def text(self) -> str:
        """The generated JSON text (EOS dropped)."""
        body = [t for t in self.tokens if t not in self._eos]
        return self._tok.decode_str(body)

    def result(self) -> dict:
        """The decoded document, parsed and validated against the schema."""
        if not self.accepting:
            raise GrammarError("constrained decode ended before the JSON document was complete")
        value = json.loads(self.text())
        jsonschema.validate(value, self.schema)
        return value

    def consume(self, token: int) -> None:
        """Advance the matcher by one generated token."""
        if not self.matcher.consume_token(int(token)):
            raise GrammarError(f"token {token} violates the grammar: {self.matcher.get_error()}")
        self.tokens.append(int(token))
        if self._plan:
            if self._plan[0] != int(token):
                self._plan = None  # someone sampled off-plan; re-plan on the next call
            else:
                self._plan.pop(0)

    # -- planning ------------------------------------------------------------------------------
    def _close_plan(self, matcher: llguidance.LLMatcher) -> list[int] | None:
        """The tokens that reach an accepting state from `matcher`'s state, deterministically."""
        m = matcher.deep_copy()
        plan: list[int] = []
        n = self._tok.vocab_size
        for _ in range(self.config.max_plan_steps):
            if m.is_accepting():
                return plan
            allowed = _allowed(m, n)
            if not allowed.any():
                return None
            tok = int(np.argmin(np.where(allowed, self._ranks, np.iinfo(np.int64).max)))
            if not m.consume_token(tok):
                return None
            plan.append(tok)
        return None

    def next_mask(self) -> np.ndarray:
        """The tokens allowed next [V_tok], with the budget guard applied."""
        n = self._tok.vocab_size
        if self.matcher.is_accepting() and self.matcher.is_stopped():
            only = np.zeros(n, dtype=bool)
            only[list(self._eos)] = True
            return only
        remaining = self.budget - len(self.tokens)
        if self._plan is None and remaining <= self.config.close_window:
            plan = self._close_plan(self.matcher)
            if plan is not None and len(plan) + self.config.close_margin >= remaining:
                self._plan = plan
        if self._plan is not None:
            only = np.zeros(n, dtype=bool)
            only[self._plan[0] if self._plan else list(self._eos)] = True
            return only
        return _allowed(self.matcher, n)

    # -- the processor -------------------------------------------------------------------------
    def __call__(self, a: torch.Tensor, b: torch.Tensor | list[int]) -> torch.Tensor:
        """Mask logits so that only grammar-allowed tokens remain; two calling conventions.

        model.generate's: `processor(logits [V], generated_ids: list[int]) -> logits [V]`.
        Hugging Face's: `processor(input_ids [1, T], scores [1, V]) -> scores` (the prompt length is
        learnt on the first call).
        """
        if isinstance(b, list):
            scores, new = a, b[len(self.tokens):]
        else:
            scores, seq = b, a.reshape(-1).tolist()
            if self._prompt_len is None:
                self._prompt_len = len(seq)
            new = seq[self._prompt_len + len(self.tokens):]
        for t in new:
            self.consume(t)
        allowed = torch.from_numpy(self.next_mask())
        flat = scores.view(-1, scores.shape[-1])
        v = flat.shape[-1]
        keep = torch.zeros(v, dtype=torch.bool)
        k = min(v, allowed.numel())
        keep[:k] = allowed[:k]
        return flat.masked_fill(~keep.to(flat.device), float("-inf")).view_as(scores)
