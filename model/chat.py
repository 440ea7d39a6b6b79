"""ChatModel: a tokenizer and an M2LA model behind the two calls the agent's local policy makes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from model.generate import generate
from model.grammar import GrammarConfig, JsonSchemaProcessor

OnText = Callable[[str], None]  # receives each newly visible piece of text


@dataclass
class ChatModel:
    """A chat-templated policy model: free text with `complete`, schema-valid JSON with `complete_json`."""

    model: torch.nn.Module  # an M2LAForCausalLM (any model model.generate accepts)
    tokenizer: Any  # its Hugging Face tokenizer, with a chat template
    model_id: str  # what the agent records as the policy's identity
    grammar: GrammarConfig = GrammarConfig()  # how constrained decoding guards its token budget

    def prompt_ids(self, messages: Sequence[dict]) -> list[int]:
        """Token ids of the chat template applied to messages, ending with the assistant's turn opener."""
        if not messages:
            raise ValueError("messages must not be empty")
        ids = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding
            ids = ids["input_ids"]
        return list(ids)

    def _stop_ids(self) -> list[int]:
        eos = self.tokenizer.eos_token_id
        return [eos] if eos is not None else []

    def complete(self, messages: Sequence[dict], max_new_tokens: int = 256, stop: Sequence[str] = (),
                 on_token: OnText | None = None, temperature: float = 0.0, seed: int | None = None) -> str:
        """The assistant's reply to messages, cut at the first stop string; streamed through on_token."""
        result = generate(
            self.model, self.prompt_ids(messages), max_new_tokens, temperature=temperature, seed=seed,
            stop_ids=self._stop_ids(), stop_strings=tuple(stop), tokenizer=self.tokenizer,
            on_token=(lambda _tok, piece: on_token(piece) if piece else None) if on_token else None,
        )
        return result.text

    def complete_json(self, messages: Sequence[dict], schema: dict, max_new_tokens: int = 256,
                      on_token: OnText | None = None, temperature: float = 0.0, seed: int | None = None) -> dict:
        """A reply constrained to JSON that validates against schema (greedy by default); returns it parsed."""
        proc = JsonSchemaProcessor(self.tokenizer, schema, max_new_tokens, self.grammar)
        generate(
            self.model, self.prompt_ids(messages), max_new_tokens, temperature=temperature, seed=seed,
            stop_ids=self._stop_ids(), tokenizer=self.tokenizer, logits_processor=proc,
            on_token=(lambda _tok, piece: on_token(piece) if piece else None) if on_token else None,
        )
        return proc.result()
