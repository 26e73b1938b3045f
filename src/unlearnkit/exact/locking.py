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
    """Re-entrant within a thread; exclusive across threads of this object and across processes."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_FILE
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0 and fcntl is not None and self.path.parent.is_dir():
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None
