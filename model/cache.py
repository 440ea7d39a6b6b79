"""LatentKVCache: per layer, only `[c_kv | k_pe]` per token (kv_rank + d_rope values), never full K/V."""
from __future__ import annotations

import torch


class LatentKVCache:
    """Latent cache for every layer of an M2LA model.

    With `max_len` the storage is preallocated once ([B, max_len, r + d_rope] per layer) and filled in
    place, so decode steps never reallocate; without it the tensors grow by concatenation.
    """

    def __init__(
        self,
        layers: int,
        width: int | list[int],  # r + d_rope (one int, or one per layer)
        batch: int = 1,
        max_len: int | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        self.widths = [width] * layers if isinstance(width, int) else list(width)
        if len(self.widths) != layers:
            raise ValueError(f"need {layers} widths, got {len(self.widths)}")
        self.batch, self.max_len, self.dtype, self.device = batch, max_len, dtype, torch.device(device)
        self.lengths = [0] * layers
        if max_len is None:
            self.data = [torch.empty(batch, 0, w, dtype=dtype, device=self.device) for w in self.widths]
        else:
            self.data = [torch.empty(batch, max_len, w, dtype=dtype, device=self.device) for w in self.widths]

    @classmethod
    def for_model(cls, model: torch.nn.Module, batch: int = 1, max_len: int | None = None,
                  dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> "LatentKVCache":
        """A cache shaped for an `M2LAForCausalLM` (dtype/device default to the model's)."""
        p = next(model.parameters())
        widths = [c.kv_rank + c.d_rope for c in model.config.attn]
        return cls(len(widths), widths, batch, max_len,
                   dtype or (p.dtype if p.is_floating_point() else torch.float32), device or p.device)

    @property
    def layers(self) -> int:
        return len(self.widths)

    def seq_len(self, layer: int = 0) -> int:
        """Tokens stored for a layer (all layers agree between forward calls)."""
        return self.lengths[layer]

    def update(self, layer: int, new: torch.Tensor) -> torch.Tensor:
        """Append new [B, T, width] for a layer; return all stored [B, S, width] (a view when preallocated)."""
        start, t = self.lengths[layer], new.shape[1]
        if self.max_len is None:
            self.data[layer] = torch.cat((self.data[layer], new.to(self.dtype)), dim=1)
        else:
            if start + t > self.max_len:
                raise ValueError(f"latent cache full: {start + t} tokens > max_len {self.max_len}")
            self.data[layer][:, start:start + t] = new
        self.lengths[layer] = start + t
        return self.data[layer][:, : start + t]

    def crop(self, length: int) -> None:
        """Forget every token from `length` on (e.g. to re-use a shared prompt prefix)."""
        for i in range(self.layers):
            self.lengths[i] = min(self.lengths[i], length)
            if self.max_len is None:
                self.data[i] = self.data[i][:, : self.lengths[i]]

    def bytes_per_token(self) -> int:
        """Bytes one token occupies across all layers: sum(r + d_rope) x bytes per value (x batch rows = 1)."""
        return sum(self.widths) * torch.empty(0, dtype=self.dtype).element_size()

    @property
    def nbytes(self) -> int:
        """Bytes of the tokens stored now (all rows of the batch)."""
        item = torch.empty(0, dtype=self.dtype).element_size()
        return sum(n * w for n, w in zip(self.lengths, self.widths)) * self.batch * item

    @property
    def capacity_nbytes(self) -> int:
        """Bytes allocated (equals nbytes when growing; the full max_len when preallocated)."""
        return sum(d.numel() * d.element_size() for d in self.data)
