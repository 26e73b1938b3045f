"""Freed memory handed back to the system between the phases of a fit (glibc's heap keeps it otherwise)."""

from __future__ import annotations

import numpy as np
import pytest

from unlearnkit.runtime import memory
from unlearnkit.runtime.memory import release_free_memory, resident_bytes

MiB = 1 << 20


def test_release_runs_anywhere():
    release_free_memory()  # no pyarrow imported, or no glibc: nothing to do, no error
    release_free_memory()


@pytest.mark.skipif(memory._malloc_trim() is None, reason="needs glibc's malloc_trim")
def test_freed_heap_blocks_go_back_to_the_system():
    start = resident_bytes()
    big = np.ones(16 * MiB, dtype=np.uint8)
    del big  # freeing a 16 MiB mapping raises glibc's mmap threshold: 1 MiB blocks now come from the heap
    blocks = [np.ones(MiB, dtype=np.uint8) for _ in range(64)]
    keep = blocks.pop()  # allocated last: pins the heap's top, so free() cannot shrink the heap by itself
    del blocks
    retained = resident_bytes() - start
    if retained < 32 * MiB:
        pytest.skip(f"this C heap returned the freed blocks by itself ({retained / MiB:.0f} MiB kept)")
    release_free_memory()
    assert resident_bytes() - start < retained - 32 * MiB  # most of the 63 freed MiB are no longer resident
    assert keep[0] == 1  # the live block is untouched
