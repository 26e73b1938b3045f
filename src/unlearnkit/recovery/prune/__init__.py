"""Pruners for language models and classifiers (one file each, registered in :data:`PRUNERS`)."""

from unlearnkit.recovery.prune.base import (
    PATTERNS,
    PRUNERS,
    PruneConfig,
    Pruner,
    PruneResult,
    apply_masks,
    get_pruner,
    masks_of,
    prunable,
    register_pruner,
    sparsity_of,
)
from unlearnkit.recovery.prune.magnitude import MagnitudePruner
from unlearnkit.recovery.prune.wanda import WandaPruner, activation_norms

__all__ = [
    "PATTERNS",
    "PRUNERS",
    "MagnitudePruner",
    "PruneConfig",
    "PruneResult",
    "Pruner",
    "WandaPruner",
    "activation_norms",
    "apply_masks",
    "get_pruner",
    "masks_of",
    "prunable",
    "register_pruner",
    "sparsity_of",
]
