"""Handing memory the process has freed back to the operating system, between the large phases of a fit.

Two allocators keep what a phase freed and count it in the process's resident size while the next phase
allocates on top: pyarrow's memory pool keeps blocks a file read released, and glibc's ``malloc`` keeps freed
chunks in its heap once its mmap threshold has risen (it starts at 128 KiB and follows the largest block freed,
up to 32 MiB, so after the first large arrays are freed, later ones of a few MiB come from the heap and stay
there). Measured on a 500,000-sample fit: 24 MiB held after the held rows were written and 10 MiB after the
store's ingest, on top of the data, until the training's peak.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["release_free_memory", "resident_bytes"]


@functools.cache
def _malloc_trim() -> Callable[[int], Any] | None:
    """glibc's ``malloc_trim`` (returns every free page of the heap, not only its top); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # a C library without it (musl)
        return None


def release_free_memory() -> None:
    """Return the freed blocks pyarrow's pool and the C heap keep to the system (a few milliseconds; call it
    after a phase that allocated and freed much, never on a per-deletion path)."""
    pa = sys.modules.get("pyarrow")  # never imported just for this
    if pa is not None:
        pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def resident_bytes() -> int:
    """This process's resident set size now (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
