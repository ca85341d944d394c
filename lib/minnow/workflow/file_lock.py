"""An exclusive lock between processes, on a file beside what it guards.

MLflow's SQLite store races when several jobs create it at once, and concurrent
steps of one model must find or create one parent run: both take this lock. It
works between processes on one machine and on a shared filesystem with flock.
"""

import fcntl
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(path: Path):
    """Hold an exclusive flock on `path` (created with its folder if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
