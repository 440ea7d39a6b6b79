"""The perplexity corpus: calibration and held-out windows from Debian's licences and Python's docstrings."""
from __future__ import annotations

import torch

from model.corpus import texts, token_windows


class CharTokenizer:
    """One token per character (code point), EOS 0: enough to check how windows are cut."""

    eos_token_id = 0

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [ord(c) for c in text]}


def test_first_windows_come_from_the_first_documents_and_spread_ones_from_all() -> None:
    tok, seq = CharTokenizer(), 256
    every = token_windows(tok, "heldout", seq)
    first = token_windows(tok, "heldout", seq, 8)
    spread = token_windows(tok, "heldout", seq, 8, spread=True)
    assert first.shape == spread.shape == (8, seq)
    assert torch.equal(first, every[:8])
    # spread windows are whole windows of the part, in order, from its start to its end
    rows = [next(i for i in range(len(every)) if torch.equal(every[i], w)) for w in spread]
    assert rows == sorted(set(rows)) and rows[0] == 0 and rows[-1] == len(every) - 1
    # the first 8 x 256 characters are licence text only; spread windows reach the docstrings
    licence = texts("heldout")[0]
    assert "".join(chr(int(c)) for c in first[0]) == licence[:seq]
    assert all(("".join(chr(int(c)) for c in w) not in licence) for w in spread[-3:])
    # asking for more windows than exist returns them all, spread or not
    assert torch.equal(token_windows(tok, "heldout", seq, 10 ** 6, spread=True), every)
