"""Exact unlearning: strategies whose deletions are provable by lineage.

``S3T`` deactivates the LoRA layers that saw a sample; ``SISA`` rolls back or retrains a shard from the
checkpoint before the sample's slice; ``Retrain`` retrains from scratch. All share one protocol: ``fit``,
``forget(ids | owner) -> DeletionReceipt``, ``forget_many([ForgetRequest, ...])`` (one commit for a group),
``predict``, ``predict_proba``, ``save``, ``load``.

Importing this package, loading a model and a deletion that only moves pointers import no torch (nor scipy);
training and predicting do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from unlearnkit._lazy import lazy_exports
from unlearnkit.errors import DataError
from unlearnkit.exact.base import ExactStrategy
from unlearnkit.exact.lifecycle import ForgetRequest
from unlearnkit.exact.retrain import Retrain
from unlearnkit.exact.s3t import S3T
from unlearnkit.exact.sisa import SISA

if TYPE_CHECKING:
    from unlearnkit.exact.generation import EnsembleLM

STRATEGIES: dict[str, type[ExactStrategy]] = {"s3t": S3T, "sisa": SISA, "retrain": Retrain}


def load_strategy(directory: str | Path, db_url: str | None = None, **kwargs: object) -> ExactStrategy:
    """Open any exact model directory (its kind is read from ``strategy.json``)."""
    d = Path(directory)
    f = d / "strategy.json"
    if not f.is_file():
        raise DataError(f"{d}: not an exact model directory (no strategy.json)")
    kind = json.loads(f.read_text()).get("kind")
    if kind not in STRATEGIES:
        raise DataError(f"{d}: unknown strategy kind {kind!r}")
    return STRATEGIES[kind].load(d, db_url, **kwargs)  # type: ignore[arg-type]


__getattr__ = lazy_exports(__name__, {"EnsembleLM": "unlearnkit.exact.generation"})  # text generation: torch


__all__ = ["S3T", "SISA", "STRATEGIES", "EnsembleLM", "ExactStrategy", "ForgetRequest", "Retrain", "load_strategy"]
