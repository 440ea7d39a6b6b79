"""Run one stage's compute in a child process with a time limit and a memory limit.

A user's file may hang or crash a decoder, and a model may run out of memory; either must fail
that job with one clear line, never take the app down. The child is forked from a clean fork
server (no inherited threads, CUDA state or open database; heavy imports done once), caps its
address space with RLIMIT_AS, and reports progress and its result through a queue.

A killed indexer must not leave work behind: the fork server and the resource tracker start with
their standard streams on /dev/null (so a caller waiting for the indexer's pipes to close is not
kept waiting by them), and each child dies with its parent (Linux's parent-death signal) and with
the indexer (a thread waiting on a pidfd of the indexer's process).
"""
from __future__ import annotations

import ctypes
import importlib
import logging
import multiprocessing as mp
import multiprocessing.forkserver
import os
import queue as queue_mod
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assets.errors import UserError

if TYPE_CHECKING:
    from memory.stages import StageContext

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # prctl option: the signal this process gets when its parent thread exits


class WorkerError(UserError, RuntimeError):
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
# (unpickling a StageContext alone imports memory.stages and sqlite-utils: 0.45 s per stage).
PRELOAD = ("memory.forkserver_watch", "numpy", "av", "PIL.Image", "scenedetect", "torch", "transformers", "memory.stages",
           "memory.stages.probe", "memory.stages.shots", "memory.stages.keyframes", "memory.stages.image_vectors")
_context: mp.context.BaseContext | None = None


def _mp_context() -> mp.context.BaseContext:
    """A fork server with the heavy modules preloaded (spawn where fork servers do not exist)."""
    global _context
    if _context is None:
        if "forkserver" in mp.get_all_start_methods():
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(list(PRELOAD))
            _start_quietly(multiprocessing.forkserver.ensure_running)
            _context = ctx
        else:
            _context = mp.get_context("spawn")
    return _context


def _start_quietly(start: Callable[[], None]) -> None:
    """Run `start` (which launches helper processes) with fds 1 and 2 on /dev/null, so that the
    helpers, and the workers forked from them, never hold this process's stdout and stderr."""
    for f in (sys.stdout, sys.stderr):
        if f is not None:
            f.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        start()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _die_with(indexer_pid: int) -> None:
    """In a worker: be killed when the fork server exits, and kill itself when the indexer does."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    try:
        pidfd = os.pidfd_open(indexer_pid)
    except ProcessLookupError:
        os.kill(os.getpid(), signal.SIGKILL)  # the indexer is already gone
        return
    except (OSError, AttributeError):
        return  # no pidfds here: the parent-death signal alone

    def watch() -> None:
        select.select([pidfd], [], [])  # readable once the indexer has exited
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="citeclip-watchdog", daemon=True).start()


def user_line(exc: BaseException) -> str:
    """One plain line about a failure: a UserError's own message, else no internal text."""
    if isinstance(exc, UserError):
        return " ".join(str(exc).split()) or type(exc).__name__
    if getattr(exc, "strerror", None) and type(exc).__module__.startswith("av"):
        return f"the file could not be decoded ({exc.strerror})"
    return f"the file could not be processed (internal {type(exc).__name__})"


def _child(module: str, ctx: StageContext, q: Any, mem_limit: int | None, indexer_pid: int = 0) -> None:
    if indexer_pid:
        _die_with(indexer_pid)
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
        q.put(("error", user_line(exc), traceback.format_exc()))
    # Flush the queue, then leave without the interpreter's teardown (torch's takes ~0.5 s).
    q.close()
    q.join_thread()
    os._exit(code)


def run_stage(module: str, ctx: StageContext, config: WorkerConfig = WorkerConfig(),
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
            raise WorkerError(f"{stage}: {user_line(exc)}") from exc
    mp_ctx = _mp_context()
    q = mp_ctx.Queue()
    proc = mp_ctx.Process(target=_child, args=(module, ctx, q, config.memory_limit_bytes, os.getpid()), daemon=True,
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
                if len(msg) > 2:
                    log.debug("%s failed in its worker:\n%s", stage, msg[2])  # for a developer, not the user
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
