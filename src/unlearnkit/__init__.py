"""unlearnkit: machine unlearning, exact where it can be and measured where it can't.

``import unlearnkit`` imports neither torch nor numpy: the names below are loaded on first use, and strategies
import their dependencies when a path needs them (a deletion that only moves pointers never imports torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unlearnkit._lazy import lazy_exports
from unlearnkit.context import RunContext
from unlearnkit.errors import (
    ConfigError,
    DataError,
    RetrainRequiredError,
    TaintedCheckpointError,
    UnknownIdError,
)
from unlearnkit.types import DeletionReceipt, ForgetSplit, UnlearnResult

__version__ = "0.1.0"

_LAZY = {
    "S3T": "unlearnkit.exact",
    "SISA": "unlearnkit.exact",
    "Retrain": "unlearnkit.exact",
    "load_strategy": "unlearnkit.exact",
    "LineageStore": "unlearnkit.lineage",
    "IdDataset": "unlearnkit.data",
    "load_digits": "unlearnkit.data",
    "load_mnist1d": "unlearnkit.data",
    "load_synthetic": "unlearnkit.data",
    "load_table": "unlearnkit.data",
}

if TYPE_CHECKING:
    from unlearnkit.data import IdDataset, load_digits, load_mnist1d, load_synthetic, load_table
    from unlearnkit.exact import S3T, SISA, Retrain, load_strategy
    from unlearnkit.lineage import LineageStore


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "S3T",
    "SISA",
    "ConfigError",
    "DataError",
    "DeletionReceipt",
    "ForgetSplit",
    "IdDataset",
    "LineageStore",
    "Retrain",
    "RetrainRequiredError",
    "RunContext",
    "TaintedCheckpointError",
    "UnknownIdError",
    "UnlearnResult",
    "__version__",
    "load_digits",
    "load_mnist1d",
    "load_strategy",
    "load_synthetic",
    "load_table",
]
