"""ChatModel: a tokenizer and an M2LA model behind the two calls the agent's local policy makes.

`model.vlm.chat.VisionChatModel` is its sibling for a vision-language model: the same calls, which also
take images; both decode through `_generate`, the one place that differs.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch
from PIL import Image

from model.generate import GenerationResult, generate
from model.grammar import GrammarConfig, JsonSchemaProcessor

OnText = Callable[[str], None]  # receives each newly visible piece of text


@dataclass
class ChatModel:
    """A chat-templated policy model: free text with `complete`, schema-valid JSON with `complete_json`."""

    sees_images: ClassVar[bool] = False  # True in a sibling whose `images=` reach a vision tower

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

    def _generate(self, messages: Sequence[dict], max_new_tokens: int, images: Sequence[Image.Image],
                  **kwargs: Any) -> GenerationResult:
        """Decode a reply to messages (model.generate's keyword arguments); this model takes no images."""
        if images:
            raise ValueError(f"{self.model_id} is a text-only model: it cannot take images")
        return generate(self.model, self.prompt_ids(messages), max_new_tokens, **kwargs)

    def complete(self, messages: Sequence[dict], max_new_tokens: int = 256, stop: Sequence[str] = (),
                 on_token: OnText | None = None, temperature: float = 0.0, seed: int | None = None) -> str:
        """The assistant's reply to messages, cut at the first stop string; streamed through on_token."""
        return self._complete(messages, max_new_tokens, stop, on_token, temperature, seed, ())

    def complete_json(self, messages: Sequence[dict], schema: dict, max_new_tokens: int = 256,
                      on_token: OnText | None = None, temperature: float = 0.0, seed: int | None = None) -> dict:
        """A reply constrained to JSON that validates against schema (greedy by default); returns it parsed."""
        return self._complete_json(messages, schema, max_new_tokens, on_token, temperature, seed, ())

    # The public calls above take no images here; a sibling that sees them adds `images=` and passes them on.
    def _complete(self, messages: Sequence[dict], max_new_tokens: int, stop: Sequence[str], on_token: OnText | None,
                  temperature: float, seed: int | None, images: Sequence[Image.Image]) -> str:
        result = self._generate(
            messages, max_new_tokens, images, temperature=temperature, seed=seed,
            stop_ids=self._stop_ids(), stop_strings=tuple(stop), tokenizer=self.tokenizer,
            on_token=(lambda _tok, piece: on_token(piece) if piece else None) if on_token else None,
        )
        return result.text

    def _complete_json(self, messages: Sequence[dict], schema: dict, max_new_tokens: int, on_token: OnText | None,
                       temperature: float, seed: int | None, images: Sequence[Image.Image]) -> dict:
        proc = JsonSchemaProcessor(self.tokenizer, schema, max_new_tokens, self.grammar)
        self._generate(
            messages, max_new_tokens, images, temperature=temperature, seed=seed,
            stop_ids=self._stop_ids(), tokenizer=self.tokenizer, logits_processor=proc,
            on_token=(lambda _tok, piece: on_token(piece) if piece else None) if on_token else None,
        )
        return proc.result()
