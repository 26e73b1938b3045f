"""Where each sample lives: a fixed (shard, slice) from a keyed hash of its id, or of its owner."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from unlearnkit.data.dataset import IdDataset

SHARDINGS = ("auto", "owner", "id")


def shard_slice_of(sample_id: int, salt: str, shards: int, slices: int) -> tuple[int, int]:
    """A fixed, content-independent assignment from a keyed hash of the id alone.

    Deleting or changing one sample never moves another, which the counterfactual exactness tests rely on;
    the salt is secret so requesters cannot aim deletions at a slice (SISA's adaptive-deletion caveat).
    """
    h = int.from_bytes(hashlib.sha256(f"{salt}:{int(sample_id)}".encode()).digest()[:8], "big")
    cell = h % (shards * slices)
    return cell // slices, cell % slices


def owner_shard_slice_of(owner: str, salt: str, shards: int, slices: int) -> tuple[int, int]:
    """Owner-aware placement: every sample of ``owner`` in one (shard, slice), from HMAC(salt, owner).

    Forgetting a data subject then cuts at most one slice instead of one per sample (see ``bench exact``).
    """
    h = int.from_bytes(hmac.new(salt.encode(), f"owner:{owner}".encode(), hashlib.sha256).digest()[:8], "big")
    cell = h % (shards * slices)
    return cell // slices, cell % slices


def assign_arrays(data: IdDataset, salt: str, shards: int, slices: int, sharding: str) -> tuple[np.ndarray, np.ndarray]:
    """``(shard, slice)`` arrays aligned with ``data``'s rows: by owner where samples have one
    (``owner``/``auto``), else by id."""
    ids = data.ids.numpy()
    shard = np.empty(len(ids), dtype=np.int32)
    sl = np.empty(len(ids), dtype=np.int32)
    owners = data.owners if sharding != "id" and data.owners is not None else None
    by_owner: dict[str, tuple[int, int]] = {}
    prefix = f"{salt}:".encode()
    cells = shards * slices
    out = np.empty(len(ids), dtype=np.int32)  # a cell number (shards × slices is small)
    for start in range(0, len(ids), 65536):  # a chunk of Python ints at a time
        for k, i in enumerate(ids[start : start + 65536].tolist(), start):
            o = owners[k] if owners is not None else None
            if o is not None:
                if o not in by_owner:
                    sh, s = owner_shard_slice_of(o, salt, shards, slices)
                    by_owner[o] = sh * slices + s
                out[k] = by_owner[o]
            else:
                out[k] = int.from_bytes(hashlib.sha256(prefix + str(i).encode()).digest()[:8], "big") % cells
    np.floor_divide(out, slices, out=shard)
    np.remainder(out, slices, out=sl)
    return shard, sl


def assign_cells(data: IdDataset, salt: str, shards: int, slices: int, sharding: str) -> dict[int, tuple[int, int]]:
    """``{id: (shard, slice)}``: by owner where samples have one (``owner``/``auto``), else by id."""
    shard, sl = assign_arrays(data, salt, shards, slices, sharding)
    return {int(i): (int(a), int(b)) for i, a, b in zip(data.ids.tolist(), shard, sl, strict=True)}


__all__ = ["SHARDINGS", "assign_arrays", "assign_cells", "owner_shard_slice_of", "shard_slice_of"]
