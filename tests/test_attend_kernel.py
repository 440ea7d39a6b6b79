"""The fused CPU decode-attention kernel (model/kernels/attend_kernel.cpp): its arithmetic, its use, its build."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
import torch

from model.kernels import attend_kernel
from model.cache import LatentKVCache
from model.latent_quant import split_int8
from tests.fixtures.tiny_lm import tiny_m2la

needs_kernel = pytest.mark.skipif(not attend_kernel.available(),
                                  reason="the fused kernel does not build here (needs g++ and AVX-512 VNNI)")


def cached_rows(b: int, s: int, w: int, max_len: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 rows [B, S, W] and fp16 scales [B, S, 1] as a CPU int8 cache stores them (column layout),
    with a few tokens far larger than the rest (as an attention sink's latent is)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, s, w, generator=g) * torch.rand(b, s, 1, generator=g)
    x[:, : max(1, s // 50)] *= 30
    cache = LatentKVCache(1, w, batch=b, max_len=max_len, int8=True)
    rows, scales = cache.update_rows(0, x, cast=False)
    assert rows.dtype == torch.int8 and rows.stride(1) == 1  # the column store the kernel reads
    return rows, scales


def reference(q: torch.Tensor, rows: torch.Tensor, scales: torch.Tensor, r: int) -> torch.Tensor:
    """The attention in float64 over the dequantised rows, for the query as its two int8 parts give it
    (the kernel's one rounding of the query, which latent_quant's tests bound): [B, H, r]."""
    parts, step = split_int8(q, 2)
    h = q.shape[1]
    q2 = (parts[:, :h].double() + parts[:, h:].double() / 254) * step.double()
    sc = scales.double().transpose(1, 2)  # [B, 1, S]
    p = torch.softmax(torch.einsum("bhw,bsw->bhs", q2, rows.double()) * sc, -1) * sc
    return torch.einsum("bhs,bsr->bhr", p, rows[..., :r].double())


@needs_kernel
@pytest.mark.parametrize(("b", "h", "w", "r", "s", "max_len"), [
    (1, 9, 184, 120, 1, 16),  # one token
    (1, 9, 184, 120, 8190, 8192),  # the lite model's shape at the context limit, a padded store
    (2, 4, 22, 13, 65, None),  # a growing store (its rows end at S), widths not multiples of 4 or 3
    (1, 13, 40, 32, 200, 300),  # more heads than one register block (9) holds
    (2, 1, 8, 2, 64, 64),  # one head, exactly one score block
])
def test_kernel_attention_is_the_float_attention_within_the_probability_parts_bound(
        b: int, h: int, w: int, r: int, s: int, max_len: int | None) -> None:
    """Probabilities go through three uint8 floor parts, off by less than max(p) / (255 * 2^16) each: every
    output is within that times its column's sum of |value x scale| of the float64 attention (plus fp32
    rounding), and the padding past S is never read (growing stores end there)."""
    rows, scales = cached_rows(b, s, w, max_len, seed=s + h)
    q = torch.randn(b, h, w, generator=torch.Generator().manual_seed(h)) * 0.3
    got = attend_kernel.latent_attend(q, rows, scales, r)
    want = reference(q, rows, scales, r)
    assert got.shape == (b, h, r) and got.dtype == torch.float32
    col = (rows[..., :r].abs().double() * scales.double()).sum(1)[:, None]  # [B, 1, R]
    sc = scales.double().transpose(1, 2)
    pmax = (torch.softmax(torch.einsum("bhw,bsw->bhs", q.double(), rows.double()) * sc, -1) * sc).amax(-1)
    bound = pmax[..., None] / (255 * 2 ** 16) * col + 2e-6 * want.abs().amax()
    assert ((got.double() - want).abs() <= bound).all(), (got.double() - want).abs().max()


@needs_kernel
def test_kernel_gives_the_same_bits_on_one_thread_and_on_two() -> None:
    """Each output and each score has one owner thread summing in a fixed order: threads change nothing."""
    rows, scales = cached_rows(1, 3000, 184, 4096, seed=1)
    q = torch.randn(1, 9, 184)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = attend_kernel.latent_attend(q, rows, scales, 120)
        torch.set_num_threads(2)
        two = attend_kernel.latent_attend(q, rows, scales, 120)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two)


@needs_kernel
def test_cpu_int8_decode_runs_the_kernel_over_the_stored_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-token step hands every layer's int8 storage itself to the kernel, and its logits are the
    torch ops' (model.latent_quant) to within their roundings."""
    calls = []
    real = attend_kernel.latent_attend

    def counting(q: torch.Tensor, rows: torch.Tensor, scales: torch.Tensor, r: int) -> torch.Tensor:
        calls.append(rows.data_ptr())
        return real(q, rows, scales, r)

    model = tiny_m2la(int8=True)
    ids = torch.randint(0, 50, (1, 40))
    logits = {}
    for kernel in (True, False):
        calls.clear()
        monkeypatch.setattr(attend_kernel, "latent_attend", counting)
        if not kernel:
            monkeypatch.setattr(attend_kernel, "applies", lambda *a: False)
        cache = LatentKVCache.for_model(model, max_len=64)
        with torch.no_grad():
            model(ids[:, :-1], cache=cache)
            assert not calls  # prefill expands the latent (naive path)
            logits[kernel] = model(ids[:, -1:], cache=cache, mode="absorbed")
        assert calls == ([d.data_ptr() for d in cache.data] if kernel else [])  # else the torch ops ran
    scale = logits[False].abs().max()
    assert (logits[True] - logits[False]).abs().max() < 1e-4 * scale


def _fresh(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("CITECLIP_KERNELS", str(home / "kernels"))
    attend_kernel._library.cache_clear()


@pytest.fixture
def restore_library() -> None:
    yield
    attend_kernel._library.cache_clear()


@needs_kernel
def test_kernel_builds_once_into_the_kernel_dir_and_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              restore_library: None) -> None:
    stale = tmp_path / "kernels" / "attend_kernel-0123456789abcdef.so"  # an older source's build
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    _fresh(monkeypatch, tmp_path)
    assert attend_kernel.available()
    built = list((tmp_path / "kernels").iterdir())
    assert built == [attend_kernel.library_path()]  # no temp file left behind, the stale build removed
    mtime = built[0].stat().st_mtime_ns
    _fresh(monkeypatch, tmp_path)
    assert attend_kernel.available() and built[0].stat().st_mtime_ns == mtime


def test_a_failed_build_leaves_the_torch_ops_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture, restore_library: None) -> None:
    """A compiler that cannot build the source: one line on stderr, no library, decode still runs."""
    fake = tmp_path / "g++"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo fake 1.0; exit 0; fi\n"
                    "echo 'attend_kernel.cpp:1: error: no AVX-512 here' >&2; exit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CXX", str(fake))
    _fresh(monkeypatch, tmp_path)
    assert not attend_kernel.available()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no AVX-512 here" in err[0] and "using torch ops" in err[0]
    assert not any((tmp_path / "kernels").iterdir())  # the failed output was removed
    model = tiny_m2la(int8=True)
    cache = LatentKVCache.for_model(model)
    with torch.no_grad():
        model(torch.randint(0, 50, (1, 5)), cache=cache)
        out = model(torch.tensor([[3]]), cache=cache, mode="absorbed")
    assert out.shape[:2] == (1, 1) and torch.isfinite(out).all()


def test_the_switch_turns_the_kernel_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         restore_library: None) -> None:
    monkeypatch.setenv(attend_kernel.ENV_SWITCH, "0")
    _fresh(monkeypatch, tmp_path)
    assert not attend_kernel.available()
    assert not (tmp_path / "kernels").exists()  # nothing was built
    rows, scales = cached_rows(1, 10, 16, 16, seed=0)
    assert not attend_kernel.applies(rows, scales)
    with pytest.raises(ValueError, match="not available"):
        attend_kernel.latent_attend(torch.randn(1, 2, 16), rows, scales, 8)
