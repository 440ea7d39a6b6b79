"""Generation over the latent cache, gpt-fast style: prefill (naive path) then decode_one (absorbed path)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from model.cache import LatentKVCache, StaticLatentKVCache

LogitsProcessor = Callable[[torch.Tensor, list[int]], torch.Tensor]  # (logits [V], generated ids) -> logits [V]
# (token id, newly visible text) per generated token; text that might start a stop string is held back
# and flushed with the next token (or with the stop id that ends generation)
OnToken = Callable[[int, str], None]


@dataclass(frozen=True)
class GenerationResult:
    """What `generate` produced."""

    tokens: list[int]  # generated ids (a stop id that ended generation is not included)
    text: str  # decoded generated text, cut before a stop string ("" without a tokenizer)
    stopped_by: str  # "stop_id" | "stop_string" | "max_new_tokens"
    prefill_s: float  # wall seconds of the prefill
    decode_s: float  # wall seconds of all decode steps


def _as_ids(input_ids: torch.Tensor | Sequence[int], device: torch.device) -> torch.Tensor:
    ids = torch.as_tensor(input_ids, dtype=torch.long, device=device)
    if ids.dim() == 1:
        ids = ids[None]
    if ids.dim() != 2 or ids.shape[0] != 1 or ids.shape[1] == 0:
        raise ValueError(f"generate takes one non-empty prompt ([T] or [1, T]); got shape {tuple(ids.shape)}")
    return ids


def _position(pos: int, mrope: bool, device: torch.device) -> torch.Tensor:
    """One text token's position: [1, 1], or [3, 1, 1] for MRoPE (text advances every section alike)."""
    p = torch.tensor([[pos]], device=device)
    return p[None].expand(3, 1, 1) if mrope else p


@torch.no_grad()
def prefill(model: Any, input_ids: torch.Tensor, cache: LatentKVCache,
            positions: torch.Tensor | None = None) -> torch.Tensor:
    """Run the prompt [B, T] through the naive path, filling `cache`; return last-token logits [B, V]."""
    return model(input_ids, positions, cache=cache, mode="naive", last_only=True)[:, -1].float()


@torch.no_grad()
def decode_one(model: Any, token: torch.Tensor, cache: LatentKVCache,
               positions: torch.Tensor | None = None) -> torch.Tensor:
    """One token [B, 1] through the absorbed path over the latent cache; return logits [B, V]."""
    return model(token, positions, cache=cache, mode="absorbed")[:, -1].float()


def _choose(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator | None) -> int:
    """Greedy at temperature 0, else nucleus sampling with the given generator."""
    if temperature <= 0.0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < top_p  # smallest prefix reaching top_p (the first always stays)
        probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs.cpu(), 1, generator=gen))


def _held_back(text: str, stop_strings: Sequence[str]) -> int:
    """Length of the longest tail of text that could still grow into a stop string."""
    best = 0
    for s in stop_strings:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                best = max(best, k)
                break
    return best


def generate(
    model: Any,
    input_ids: torch.Tensor | Sequence[int],
    max_new_tokens: int,
    *,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = None,
    stop_ids: Sequence[int] = (),
    stop_strings: Sequence[str] = (),
    tokenizer: Any = None,
    on_token: OnToken | None = None,
    logits_processor: LogitsProcessor | None = None,
    positions: torch.Tensor | None = None,  # prompt positions [1, T] or MRoPE [3, 1, T]; None: 0..T-1
    cache: LatentKVCache | None = None,  # None: a preallocated cache sized prompt + max_new_tokens
    cuda_graph: bool = False,  # replay each decode step from one CUDA graph (model.graph_decode; CUDA only)
) -> GenerationResult:
    """Generate up to max_new_tokens for one prompt: greedy or sampled, streamed, stoppable, constrainable."""
    if stop_strings and tokenizer is None:
        raise ValueError("stop_strings need a tokenizer to decode the generated text")
    device = next(model.parameters()).device
    ids = _as_ids(input_ids, device)
    if positions is None:
        positions = torch.arange(ids.shape[1], device=device)[None]
        if getattr(model, "uses_mrope", False):
            positions = positions[None].expand(3, 1, -1)
    if cuda_graph and (cache is not None or device.type != "cuda"):
        raise ValueError("cuda_graph needs a CUDA model and makes its own cache")
    if cache is None:
        kind = StaticLatentKVCache if cuda_graph else LatentKVCache
        cache = kind.for_model(model, batch=1, max_len=ids.shape[1] + max_new_tokens)
    gen = None
    if temperature > 0.0:
        gen = torch.Generator()
        gen.manual_seed(seed) if seed is not None else gen.seed()

    t0 = time.perf_counter()
    logits = prefill(model, ids, cache, positions)[0]  # [V]
    if cuda_graph:
        from model.graph_decode import GraphDecoder

        decode_step = GraphDecoder(model, cache).step
    else:
        def decode_step(token: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
            return decode_one(model, token, cache, pos)
    t1 = time.perf_counter()
    tokens: list[int] = []
    text, shown, stopped_by = "", 0, "max_new_tokens"
    # after MRoPE image/video tokens, text continues one past the largest position used (Qwen2-VL rope deltas)
    next_pos, mrope = int(positions.max()) + 1, positions.dim() == 3
    for step in range(max_new_tokens):
        if logits_processor is not None:
            logits = logits_processor(logits, tokens)
        tok = _choose(logits, temperature, top_p, gen)
        if tok in stop_ids:
            stopped_by = "stop_id"
            if on_token is not None and tokenizer is not None and shown < len(text):
                on_token(tok, text[shown:])  # flush text held back for a stop string that never came
            break
        tokens.append(tok)
        piece = ""
        if tokenizer is not None:
            text = tokenizer.decode(tokens, skip_special_tokens=False)
            hit = min((i for i in (text.find(s) for s in stop_strings) if i >= 0), default=-1)
            if hit >= 0:
                text, stopped_by = text[:hit], "stop_string"
            last_step = hit >= 0 or step == max_new_tokens - 1
            # mid-stream, hold back a possible stop-string prefix and an incomplete UTF-8 sequence ("\ufffd")
            visible = len(text) if last_step else min(len(text) - _held_back(text, stop_strings),
                                                      len(text.rstrip("\ufffd")))
            piece, shown = text[shown:visible], max(shown, visible)
        if on_token is not None:
            on_token(tok, piece)
        if stopped_by == "stop_string" or step == max_new_tokens - 1:
            break
        logits = decode_step(torch.tensor([[tok]], device=device), _position(next_pos, mrope, device))[0]
        next_pos += 1
    if tokenizer is not None and stopped_by != "stop_string":
        text = tokenizer.decode(tokens, skip_special_tokens=False)
    return GenerationResult(tokens, text, stopped_by, t1 - t0, time.perf_counter() - t1)
