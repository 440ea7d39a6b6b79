"""Imported only inside the fork server (it is in `memory.worker.PRELOAD`): exit the moment the
process that started it is gone.

The fork server notices its parent's death by itself only after a full interpreter teardown with
torch loaded, which can take seconds, and all that time the resource tracker waits for it. A pidfd
of the parent turns readable when the parent exits; a daemon thread waiting on it ends the fork
server at once (workers it forked die with it: they carry a parent-death signal).
"""
from __future__ import annotations

import os
import select
import sys
import threading


def watch_parent() -> bool:
    """Start the watchdog thread; False where pidfds do not exist (the fork server's own check remains)."""
    try:
        fd = os.pidfd_open(os.getppid())
    except (OSError, AttributeError):
        return False

    def wait() -> None:
        select.select([fd], [], [])
        os._exit(0)

    threading.Thread(target=wait, name="citeclip-forkserver-watchdog", daemon=True).start()
    return True


# Only in the fork server itself (started as `python -c "from multiprocessing.forkserver import main; ..."`).
if sys.argv[:1] == ["-c"] and "multiprocessing.forkserver" in sys.modules:
    watch_parent()
