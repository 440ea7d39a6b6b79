"""Test helpers for the model room: a tiny byte-level tokenizer with a chat template, and tiny random models.

Random weights only: these exercise plumbing (masks, caches, templates), never quality.
"""
from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    '{"tool": "retrieve_clip", "arguments": {"query": "a red car", "k": 5}}',
    '{"tool": "verify_frame", "arguments": {"t_s": 12.5, "claim": "a dog runs"}}',
    '{"tool": "answer", "arguments": {"text": "The car appears at 0:12.", "clips": [1, 2]}}',
    "The quick brown fox jumps over the lazy dog. Hello world, this is a test of tokens.",
    "true false null [ ] { } : , 0 1 2 3 4 5 6 7 8 9 - + . e E \\n \\\" \\\\",
    # merged closer tokens ("]] "}} ]}) exist in real vocabularies and must not trap a close-out
    '{"a": ["]]", "}}", "]}"], "b": [[1]], "c": {"d": {}}}',
]


def tiny_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on a few JSON lines, with ChatML special tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_llama(vocab_size: int, seed: int = 0, **overrides: int) -> LlamaForCausalLM:
    """A random 2-layer GQA Llama (4 query heads, 2 KV heads, head_dim 16)."""
    torch.manual_seed(seed)
    cfg = dict(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        rope_theta=10000.0, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )
    cfg.update(overrides)
    return LlamaForCausalLM(LlamaConfig(**cfg)).eval()
