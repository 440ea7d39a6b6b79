"""LatentKVCache: per layer, only `[c_kv | k_pe]` per token (kv_rank + d_rope values), never full K/V."""
from __future__ import annotations

import torch

from model.latent_quant import SCALE_BYTES, SCALE_DTYPE, quantize_rows


def column_capacity(max_len: int) -> int:
    """Token slots to allocate for a column-layout store of `max_len` tokens: an odd multiple of 64.

    The integer GEMMs read such a store a row of S tokens at a time; rows that start 64-byte aligned, at
    strides that are not multiples of 128 (so never of 4,096, where every row maps to the same cache
    sets), read fastest.
    """
    blocks = -(-max_len // 64)
    return 64 * (blocks + 1 - blocks % 2)


class LatentKVCache:
    """Latent cache for every layer of an M2LA model.

    With `max_len` the storage is preallocated once ([B, max_len, r + d_rope] per layer) and filled in
    place, so decode steps never reallocate; without it the tensors grow by concatenation. With
    `int8` the rows are stored as int8 plus one fp16 scale each (model.latent_quant) and handed back
    in `dtype`, or as stored to a CPU decode step (`update_rows(cast=False)`).
    """

    def __init__(
        self,
        layers: int,
        width: int | list[int],  # r + d_rope (one int, or one per layer)
        batch: int = 1,
        max_len: int | None = None,
        dtype: torch.dtype = torch.float32,  # the values update() returns (and stores, without int8)
        device: torch.device | str = "cpu",
        int8: bool = False,  # store int8 rows + fp16 scales (a model whose attention has latent_int8)
    ) -> None:
        self.widths = [width] * layers if isinstance(width, int) else list(width)
        if len(self.widths) != layers:
            raise ValueError(f"need {layers} widths, got {len(self.widths)}")
        self.batch, self.max_len, self.dtype, self.device = batch, max_len, dtype, torch.device(device)
        self.int8 = int8
        # a CPU decode step reads int8 rows with integer GEMMs, which pack their right operand from the
        # rows' columns: stored as [B, width, S] (a token a column) that packing reads memory in order;
        # preallocated, S is padded to column_capacity (the padding is never read)
        self.columns = int8 and self.device.type == "cpu"
        self.lengths = [0] * layers
        n = 0 if max_len is None else column_capacity(max_len) if self.columns else max_len
        store = torch.int8 if int8 else dtype
        self.data = [torch.empty((batch, w, n) if self.columns else (batch, n, w), dtype=store, device=self.device)
                     for w in self.widths]
        self.scales = [torch.empty(batch, n, 1, dtype=SCALE_DTYPE, device=self.device) for _ in self.widths] \
            if int8 else []
        self._scratch = torch.empty(batch, 0, 0, dtype=dtype, device=self.device)  # int8 rows cast for a step

    @classmethod
    def for_model(cls, model: torch.nn.Module, batch: int = 1, max_len: int | None = None,
                  dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> "LatentKVCache":
        """A cache shaped for an `M2LAForCausalLM` (dtype/device default to the model's; int8 if its layers say so)."""
        p = next(model.parameters())
        attn = model.config.attn
        return cls(len(attn), [c.kv_rank + c.d_rope for c in attn], batch, max_len,
                   dtype or (p.dtype if p.is_floating_point() else torch.float32), device or p.device,
                   int8=any(c.latent_int8 for c in attn))

    @property
    def layers(self) -> int:
        return len(self.widths)

    def seq_len(self, layer: int = 0) -> int:
        """Tokens stored for a layer (all layers agree between forward calls)."""
        return self.lengths[layer]

    def update(self, layer: int, new: torch.Tensor) -> torch.Tensor:
        """Append new [B, T, width] for a layer; return all stored [B, S, width] in `dtype`.

        A view of the storage when preallocated (bf16/fp32 values); int8 rows come back dequantised.
        """
        self._append(layer, new)
        rows, scales = self._rows(layer, self.lengths[layer])
        return rows if scales is None else rows * scales.to(self.dtype)

    def update_rows(self, layer: int, new: torch.Tensor,
                    cast: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Append new [B, T, width]; return all stored rows [B, S, width] and their scales [B, S, 1].

        Without int8 the rows are the stored values and the scales None. With int8 they are the int8
        values, still to be multiplied by their scales: a decode step folds the S scales into its
        scores and probabilities instead of dequantising S x width values. `cast` hands them over in
        `dtype`, copied into one scratch buffer shared by the layers (valid until the next call):
        reusing it spares a fresh S x width allocation per layer and step; `cast=False` hands over the
        int8 storage itself (a CPU decode step scores it with integer products, model.latent_quant).
        """
        self._append(layer, new)
        return self._rows(layer, self.lengths[layer], cast)

    def _append(self, layer: int, new: torch.Tensor) -> None:
        start, t = self.lengths[layer], new.shape[1]
        if self.max_len is not None and start + t > self.max_len:
            raise ValueError(f"latent cache full: {start + t} tokens > max_len {self.max_len}")
        self._write(layer, start, new)
        self.lengths[layer] = start + t

    def _write(self, layer: int, start: int | torch.Tensor, new: torch.Tensor) -> None:
        """Store new [B, T, width] from `start` on (int8 rows and their scales, or values in `dtype`)."""
        if self.int8:
            q, s = quantize_rows(new)
            self._put(self.data, layer, start, q)
            self._put(self.scales, layer, start, s)
        else:
            self._put(self.data, layer, start, new.to(self.dtype))

    def _rows(self, layer: int, end: int, cast: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The first `end` stored rows (int8 ones cast into the scratch buffer unless not `cast`) and their scales."""
        rows = self._stored(layer, end)
        if not self.int8:
            return rows, None
        return self._cast_rows(rows) if cast else rows, self.scales[layer][:, :end]

    def _stored(self, layer: int, end: int) -> torch.Tensor:
        """The first `end` stored rows [B, end, width] as a view (of a column-layout store: a transposed one)."""
        return self.data[layer][:, :, :end].transpose(1, 2) if self.columns else self.data[layer][:, :end]

    def hidden_rows(self) -> torch.Tensor | None:
        """Which rows the last one-token update_rows returned are not tokens ([S] bool, True: hide); None: none."""
        return None

    def _cast_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """int8 rows [B, S, W] (W up to the widest row) copied into the shared `dtype` scratch buffer (grown
        as needed): valid until the next cast."""
        b, n, w = rows.shape
        if self._scratch.shape[1] < n or self._scratch.shape[2] < w:
            cap = self.max_len or max(n, 2 * self._scratch.shape[1])
            self._scratch = torch.empty(self.batch, cap, max(self.widths), dtype=self.dtype, device=self.device)
        return self._scratch[:b, :n, :w].copy_(rows)

    def _put(self, store: list[torch.Tensor], layer: int, start: int | torch.Tensor, rows: torch.Tensor) -> None:
        dim = 1
        if self.columns and store is self.data:
            rows, dim = rows.transpose(1, 2), 2
        if isinstance(start, torch.Tensor):  # a device-side position [1] (StaticLatentKVCache's one-token step)
            store[layer].index_copy_(dim, start, rows)
        elif self.max_len is None:
            store[layer] = torch.cat((store[layer], rows), dim=dim)
        else:
            store[layer].narrow(dim, start, rows.shape[dim]).copy_(rows)

    def crop(self, length: int) -> None:
        """Forget every token from `length` on (e.g. to re-use a shared prompt prefix)."""
        for i in range(self.layers):
            self.lengths[i] = min(self.lengths[i], length)
            if self.max_len is None:
                self.data[i] = self.data[i].narrow(2 if self.columns else 1, 0, self.lengths[i])
                if self.int8:
                    self.scales[i] = self.scales[i][:, : self.lengths[i]]

    def _row_bytes(self, width: int) -> int:
        """Bytes of one stored row of `width` values: 2/4-byte values, or int8 values and their scale."""
        if self.int8:
            return width + SCALE_BYTES
        return width * torch.empty(0, dtype=self.dtype).element_size()

    def bytes_per_token(self) -> int:
        """Bytes one token occupies across all layers (x batch rows = 1).

        sum(r + d_rope) x bytes per value, plus one 2-byte scale per layer with int8.
        """
        return sum(self._row_bytes(w) for w in self.widths)

    @property
    def nbytes(self) -> int:
        """Bytes of the tokens stored now (all rows of the batch)."""
        return sum(n * self._row_bytes(w) for n, w in zip(self.lengths, self.widths)) * self.batch

    @property
    def capacity_nbytes(self) -> int:
        """Bytes allocated (equals nbytes when growing; the full max_len when preallocated).

        A CPU int8 cache pads its preallocated token slots (column_capacity: up to 127 more than max_len).
        An int8 cache's scratch buffer (S x the widest row, in `dtype`, one for all layers) is working
        memory for a decode step and is not counted: 6 MB at 8K tokens and r + d_rope = 184 in fp32.
        """
        return sum(d.numel() * d.element_size() for d in self.data + self.scales)


class StaticLatentKVCache(LatentKVCache):
    """A preallocated latent cache whose one-token step has the same shapes at every position.

    A CUDA graph (model.graph_decode) replays one captured decode step, so that step cannot depend on
    Python-side lengths: the new row is written at a device-side `index`, and attention reads all
    `max_len` rows with `hidden_rows()` masking those not yet written (zero-initialised, so an int8
    row's scale is 0, never garbage). Multi-token updates (prefill) take the ordinary path and move
    the index; after each one-token step, `advance()` moves it on.
    """

    def __init__(self, layers: int, width: int | list[int], batch: int = 1, max_len: int | None = None,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu", int8: bool = False) -> None:
        if max_len is None:
            raise ValueError("a static latent cache needs max_len")
        super().__init__(layers, width, batch, max_len, dtype, device, int8)
        for t in self.data + self.scales:
            t.zero_()
        self.index = torch.zeros(1, dtype=torch.long, device=self.device)  # where the next token's row goes
        self._slots = torch.arange(max_len, device=self.device)
        self._hidden = self._slots > self.index

    def _append(self, layer: int, new: torch.Tensor) -> None:
        super()._append(layer, new)
        self.index.fill_(self.lengths[layer])

    def update_rows(self, layer: int, new: torch.Tensor,
                    cast: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A decode step's update: one token's row [B, 1, width] written at `index`; all max_len rows back
        (with their scales), `hidden_rows()` masking those after it. Call `advance()` once every layer has
        its row. Longer updates take the ordinary path."""
        if new.shape[1] != 1:
            return super().update_rows(layer, new, cast)
        if self.lengths[layer] >= self.max_len:  # Python-side count: a replayed graph checks before it replays
            raise ValueError(f"latent cache full: {self.lengths[layer] + 1} tokens > max_len {self.max_len}")
        self._write(layer, self.index, new)
        self._hidden = self._slots > self.index  # [max_len]: every row after this token's
        return self._rows(layer, self.max_len, cast)

    def hidden_rows(self) -> torch.Tensor:
        return self._hidden

    def advance(self) -> None:
        """Count the token the last one-token step wrote (its row is in every layer)."""
        self.index += 1
        self.lengths = [n + 1 for n in self.lengths]
