"""The fused CPU decode-attention kernel (attend_kernel.cpp): built once per machine, loaded with ctypes.

A CPU decode step over an int8 latent cache otherwise runs its attention as about twenty torch ops a
layer (model/latent_quant.py: two integer GEMMs that re-pack the cache on every call, the softmax and the
splits around them). The kernel does the same arithmetic in one pass per phase, reading the cache's
column store as it lies.

It is compiled with the machine's own g++ (`-march=native`: it needs AVX-512 VNNI) into the kernel
cache (`$CITECLIP_KERNELS`, else `~/.cache/citeclip/kernels`), named by a hash of its source, the
compiler and the CPU's flags, so a copied cache never runs code built for another CPU. It links the OpenMP
runtime torch has already loaded (same soname), so its threads are torch's: `torch.set_num_threads`
applies. Where g++ is missing, the build fails or the CPU lacks VNNI, `available()` is False and the
torch ops run instead (one line on stderr says why); `CITECLIP_ATTEND_KERNEL=0` turns it off.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("attend_kernel.cpp")
FLAGS = ("-std=c++17", "-O3", "-march=native", "-fopenmp", "-fPIC", "-shared")
MAX_WIDTH = 512  # latent row width the kernel's per-thread block buffer holds
MAX_TOKENS = 65_535  # int32 sums of 255 x 127 products stay exact below 66,000 tokens
ENV_SWITCH = "CITECLIP_ATTEND_KERNEL"  # "0": never use the kernel


def kernel_dir() -> Path:
    """$CITECLIP_KERNELS, else the platform's user cache dir + /kernels (a per-machine build, not user data:
    it stays out of the data dir)."""
    override = os.environ.get("CITECLIP_KERNELS")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("citeclip")) / "kernels"


def _cpu_flags() -> str:
    """The CPU's feature flags (what -march=native compiles for)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def _compiler() -> str:
    return os.environ.get("CXX", "g++")


def library_path() -> Path:
    """Where this machine's build of the kernel lives (a hash of source, compiler, flags and CPU)."""
    version = subprocess.run([_compiler(), "--version"], capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), version, *FLAGS, _cpu_flags()]).encode()).hexdigest()[:16]
    return kernel_dir() / f"attend_kernel-{key}.so"


def build(out: Path) -> Path:
    """Compile the kernel to `out` (atomically: concurrent builders each rename a whole file into place) and
    remove the builds of other versions beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    try:
        res = subprocess.run([_compiler(), *FLAGS, str(SOURCE), "-o", tmp], capture_output=True, text=True)
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"{_compiler()} failed: {last}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    for old in out.parent.glob("attend_kernel-*.so"):  # builds of other sources or CPUs: never loaded again here
        if old != out:
            old.unlink(missing_ok=True)  # a process that has one loaded keeps its mapping
    return out


@cache
def _library() -> ctypes.CDLL | None:
    """The loaded kernel, building it first if needed; None (and one line on stderr) where it cannot be."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return None
    try:
        path = library_path()
        lib = ctypes.CDLL(str(path if path.exists() else build(path)))
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        print(f"citeclip: fused CPU attention kernel unavailable ({str(e).splitlines()[0]}); "
              "using torch ops", file=sys.stderr)
        return None
    p, i, long_ = ctypes.c_void_p, ctypes.c_int, ctypes.c_long
    lib.cc_latent_attend.argtypes = [i, i, i, i, i, long_, long_, p, p, p, long_, p]
    lib.cc_latent_attend.restype = i
    return lib


def available() -> bool:
    """Whether the kernel is built and loaded (see the module docstring for when it is not)."""
    return _library() is not None


def applies(rows: torch.Tensor, scales: torch.Tensor | None) -> bool:
    """Whether latent_attend can take these cached rows [B, S, W] and scales [B, S, 1]: int8 rows of a CPU
    column store (tokens contiguous), fp16 scales, a width and length the kernel holds."""
    return (rows.dtype == torch.int8 and rows.device.type == "cpu" and rows.stride(1) == 1
            and scales is not None and scales.dtype == torch.float16 and scales.stride(1) == 1
            and rows.shape[2] <= MAX_WIDTH and 0 < rows.shape[1] <= MAX_TOKENS and available())


def latent_attend(q: torch.Tensor, rows: torch.Tensor, scales: torch.Tensor, r: int) -> torch.Tensor:
    """One decode step's attention over a CPU int8 column store: query rows q [B, H, W] (carrying the
    softmax scale), cached rows [B, S, W] (int8, tokens contiguous: `applies`), their scales [B, S, 1];
    returns sum_s softmax_s(q . rows_s scale_s) scale_s rows_s[:r] as [B, H, r] fp32."""
    lib = _library()
    if lib is None or not applies(rows, scales):
        raise ValueError("latent_attend: the kernel is not available for these rows (check applies())")
    (b, s, w), h = rows.shape, q.shape[1]
    q = q.float().contiguous()
    out = torch.empty(b, h, r, dtype=torch.float32)
    status = lib.cc_latent_attend(b, h, w, r, s, rows.stride(2), rows.stride(0), q.data_ptr(), rows.data_ptr(),
                                  scales.data_ptr(), scales.stride(0), out.data_ptr())
    if status != 0:
        raise MemoryError(f"latent_attend: no working memory for {h} heads x {s} tokens")
    return out
