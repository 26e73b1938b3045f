"""Budget allocation across clusters: proportional to a score, largest-remainder rounding, capped by capacity.

PASER's Eq. 6 is n_k = ⌊B · CDS_k / Σ_j CDS_j⌋ (the official code truncates with ``int()`` and never hands the
remainder back, and never caps at the cluster's size). Here the shares are computed over the clusters that
still have room; a cluster whose share exceeds its capacity gets its capacity and the rest is re-shared among
the others (repeated until no share exceeds its room); then the floors are taken and the remaining units go to
the largest fractional parts (Hamilton's method; ties to the lower cluster index). The result sums to
min(B, Σ capacity) exactly. Clusters whose scores are all zero share uniformly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unlearnkit.errors import ConfigError


def allocate(scores: Sequence[float], capacity: Sequence[int], budget: int) -> np.ndarray:
    """Integer allocation per cluster: sums to ``min(budget, sum(capacity))``, each ≤ its capacity."""
    s = np.asarray(scores, dtype=float)
    cap = np.asarray(capacity, dtype=np.int64)
    if s.shape != cap.shape or s.ndim != 1:
        raise ConfigError(f"scores and capacity must be 1-D of one length, got {s.shape} and {cap.shape}")
    if (cap < 0).any() or budget < 0 or not np.isfinite(s).all() or (s < 0).any():
        raise ConfigError("allocation needs non-negative finite scores, capacities and budget")
    total = int(min(budget, int(cap.sum())))
    alloc = np.zeros_like(cap)
    active = cap > 0
    remaining = total
    while remaining > 0 and active.any():
        w = np.where(active, s, 0.0)
        if w.sum() <= 0:  # only zero-score clusters have room left: share uniformly
            w = active.astype(float)
        share = remaining * w / w.sum()
        over = active & (share >= cap - alloc)
        if over.any():  # fill capped clusters and re-share the rest
            remaining -= int((cap - alloc)[over].sum())
            alloc[over] = cap[over]
            active &= ~over
            continue
        base = np.floor(share).astype(np.int64)
        alloc += base
        left = remaining - int(base.sum())
        frac = np.where(active, share - base, -1.0)
        order = np.lexsort((np.arange(len(frac)), -frac))
        for k in order[:left]:
            alloc[k] += 1
        remaining = 0
    return alloc


__all__ = ["allocate"]
