"""Run one stage's compute in a child process with a time limit and a memory limit.

A user's file may hang or crash a decoder, and a model may run out of memory; either must fail
that job with one clear line, never take the app down. The child is forked from a clean fork
server (no inherited threads, CUDA state or open database; heavy imports done once), caps its
address space with RLIMIT_AS, and reports progress and its result through a queue.
"""
from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import queue as queue_mod
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class WorkerError(RuntimeError):
    """A stage failed in its worker: an exception, a crash, a timeout or the memory limit."""


def _default_memory_limit() -> int | None:
    # CUDA maps far more virtual address space than it uses, so an RLIMIT_AS would break it.
    if os.environ.get("CITECLIP_WORKER_MEM_GB"):
        gb = float(os.environ["CITECLIP_WORKER_MEM_GB"])
        return int(gb * 2**30) if gb > 0 else None
    if os.path.exists("/proc/driver/nvidia/version"):
        return None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None
    # torch and CTranslate2 reserve several GB of address space they never touch; 16 GB or the
    # machine's RAM, whichever is larger, leaves them room while still stopping a runaway decoder.
    return max(16 * 2**30, total)


@dataclass(frozen=True)
class WorkerConfig:
    """Limits for one stage run."""

    time_limit_s: float = 3600.0                 # wall-clock limit for the stage; then the child is killed
    memory_limit_bytes: int | None = _default_memory_limit()  # RLIMIT_AS in the child; None = no limit
    poll_s: float = 0.2                           # how often the parent checks the child while it waits
    in_process: bool = False                      # run in this process (debugging); no limits apply


# Imported once in the fork server, so that each stage's worker starts without paying for them
# (unpickling a StageContext alone imports memory.indexer and sqlite-utils: 0.45 s per stage).
PRELOAD = ("numpy", "av", "PIL.Image", "scenedetect", "torch", "transformers", "memory.indexer",
           "memory.probe", "memory.shots", "memory.keyframes", "memory.image_vectors")
_context: mp.context.BaseContext | None = None


def _mp_context() -> mp.context.BaseContext:
    """A fork server with the heavy modules preloaded (spawn where fork servers do not exist)."""
    global _context
    if _context is None:
        if "forkserver" in mp.get_all_start_methods():
            _context = mp.get_context("forkserver")
            _context.set_forkserver_preload(list(PRELOAD))
        else:
            _context = mp.get_context("spawn")
    return _context


def _child(module: str, ctx: Any, q: Any, mem_limit: int | None) -> None:
    if mem_limit:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))
    code = 0
    try:
        mod = importlib.import_module(module)
        object.__setattr__(ctx, "_progress_queue", q)
        result = mod.compute(ctx)
        q.put(("result", result))
    except MemoryError:
        code = 1
        q.put(("error", f"out of memory (worker limit {mem_limit / 2**30:.1f} GiB)" if mem_limit
               else "out of memory"))
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent as one line
        code = 1
        msg = " ".join(str(exc).split()) or type(exc).__name__
        q.put(("error", msg, traceback.format_exc()))
    # Flush the queue, then leave without the interpreter's teardown (torch's takes ~0.5 s).
    q.close()
    q.join_thread()
    os._exit(code)


def run_stage(module: str, ctx: Any, config: WorkerConfig = WorkerConfig(),
              on_progress: Callable[[float, str], None] | None = None) -> Any:
    """Run `module.compute(ctx)` in a worker process; return its result or raise WorkerError.

    `ctx.report(fraction, message)` inside the stage arrives here as `on_progress(fraction, message)`.
    """
    stage = module.rsplit(".", 1)[-1]
    if config.in_process:
        object.__setattr__(ctx, "_progress_callback", on_progress)
        try:
            return importlib.import_module(module).compute(ctx)
        except Exception as exc:  # noqa: BLE001
            raise WorkerError(f"{stage}: {' '.join(str(exc).split()) or type(exc).__name__}") from exc
    mp_ctx = _mp_context()
    q = mp_ctx.Queue()
    proc = mp_ctx.Process(target=_child, args=(module, ctx, q, config.memory_limit_bytes), daemon=True,
                          name=f"citeclip-{stage}")
    proc.start()
    deadline = time.monotonic() + config.time_limit_s
    try:
        while True:
            if time.monotonic() > deadline:
                raise WorkerError(f"{stage}: timed out after {config.time_limit_s:.0f} s")
            try:
                msg = q.get(timeout=config.poll_s)
            except queue_mod.Empty:
                if not proc.is_alive():
                    # The child may have put its last message just before exiting.
                    try:
                        msg = q.get(timeout=1.0)
                    except queue_mod.Empty:
                        raise WorkerError(f"{stage}: worker crashed ({_exit_reason(proc.exitcode)})") from None
                else:
                    continue
            kind = msg[0]
            if kind == "progress":
                if on_progress is not None:
                    on_progress(msg[1], msg[2])
            elif kind == "result":
                return msg[1]
            elif kind == "error":
                raise WorkerError(f"{stage}: {msg[1]}")
    finally:
        if proc.is_alive():
            proc.join(timeout=2.0)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5.0)
        q.close()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        import signal
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
