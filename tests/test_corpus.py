"""The perplexity corpus: calibration and held-out windows from Debian's licences and Python's docstrings."""
from __future__ import annotations

import torch

from model.convert.corpus import evenly, texts, token_windows


class CharTokenizer:
    """One token per character (code point), EOS 0: enough to check how windows are cut."""

    eos_token_id = 0

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [ord(c) for c in text]}


def test_capped_windows_are_spread_over_every_document() -> None:
    tok, seq = CharTokenizer(), 256
    every = token_windows(tok, "heldout", seq)
    # every window is cut from the documents joined by EOS, in order
    licence = texts("heldout")[0]
    assert "".join(chr(int(c)) for c in every[0]) == licence[:seq]
    spread = token_windows(tok, "heldout", seq, 8)
    assert spread.shape == (8, seq)
    # whole windows of the part, in order, from its start to its end
    rows = [next(i for i in range(len(every)) if torch.equal(every[i], w)) for w in spread]
    assert rows == sorted(set(rows)) and rows[0] == 0 and rows[-1] == len(every) - 1
    # the part lists its licences first; a capped sample still reaches the docstrings after them
    assert all(("".join(chr(int(c)) for c in w) not in licence) for w in spread[-3:])
    # asking for more windows than exist returns them all
    assert torch.equal(token_windows(tok, "heldout", seq, 10 ** 6), every)


def test_evenly_keeps_both_ends_and_order() -> None:
    rows = torch.arange(10)[:, None]
    assert evenly(rows, 4).flatten().tolist() == [0, 3, 6, 9]
    assert evenly(rows, 1).flatten().tolist() == [0]
    assert torch.equal(evenly(rows, 10), rows) and torch.equal(evenly(rows, 99), rows)
