"""One writer at a time per model directory, across threads and processes.

Every change to a model directory (plan → commit → swap of a deletion, registering retrained checkpoints,
purging files, re-signing the file manifest) runs under :class:`WriterLock`: a thread lock plus an exclusive
``flock`` on ``DIR/.writer.lock``. The kernel drops a dead process's ``flock`` at once, so a ``kill -9`` never
leaves the directory locked. The lineage store adds its own guard for writers on other hosts (a deletion
commits only against the model version it was planned on), so the file lock is about files and throughput;
correctness of the store does not rest on it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:  # POSIX; elsewhere the store's version check alone serialises commits
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".writer.lock"


class WriterLock:
    """Re-entrant within a thread; exclusive across threads of this object and across processes.

    The lock file stays open between holds (a hold is then two ``flock`` calls, not an open and a close). It is
    opened again in a forked child (a shared open file would share the lock) and when the path names another
    file than the one held open (the directory was replaced).
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._owner = (0, 0)  # (pid, inode) the open descriptor belongs to

    def _descriptor(self) -> int:
        fd = self._fd
        if fd is not None:
            try:
                if self._owner == (os.getpid(), os.stat(self.path).st_ino):
                    return fd
            except FileNotFoundError:
                pass
            self.close()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._fd, self._owner = fd, (os.getpid(), os.fstat(fd).st_ino)
        return fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            locked = None
            if self._depth == 0 and fcntl is not None and self.path.parent.is_dir():
                locked = self._descriptor()
                fcntl.flock(locked, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if locked is not None:
                    fcntl.flock(locked, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the kept lock file (a later hold opens it again)."""
        with self._thread_lock:
            fd, self._fd = self._fd, None
            if fd is not None:  # in a forked child this closes the child's copy only
                os.close(fd)
