"""SISA: Sharded, Isolated, Sliced, Aggregated training (Bourtoule et al., IEEE S&P 2021, arXiv 1912.03817).

m shards × L slices. Stage r trains on slices 1..r starting from checkpoint r−1, for e' = 2e/(L+1) epochs per
stage (the reference code's schedule, so the total equals e epochs over the shard), with a fresh optimizer
each stage; a checkpoint follows every stage, named by the hash of (shard, prefix, sorted ids it saw) — the
reference code's getShardHash names it by the ids alone, which lets two shards with empty first slices share
one checkpoint. Here every shard model is the same frozen backbone with all LoRA blocks and the head
trainable (PEFT-SISA).

Two serving modes after a deletion in slice j:
- ``retrain``: the shard leaves the vote, then stages j..L are retrained without the ids from checkpoint j−1;
  the result is bitwise equal to a fresh SISA run on the data without them (same assignment and seeds).
- ``rollback``: serve checkpoint j−1, no retraining (S3T's "SISA" baseline: S3T with B = 1).
Aggregation: majority vote (the reference code's default) or logit average.
"""

from __future__ import annotations

from typing import Any, ClassVar

from unlearnkit.errors import ConfigError
from unlearnkit.exact.base import ExactStrategy

MODES = ("retrain", "rollback")


class SISA(ExactStrategy):
    """``SISA(shards=3, slices=4, mode="retrain").fit(data)``."""

    kind: ClassVar[str] = "sisa"
    default_aggregation: ClassVar[str] = "vote"
    variants: ClassVar[dict[str, dict[str, Any]]] = {m: {"mode": m} for m in MODES}

    def __init__(self, *, shards: int = 3, slices: int = 4, mode: str = "retrain", **kwargs: Any) -> None:
        super().__init__(shards=shards, slices=slices, **kwargs)
        self.mode = mode

    def _validate(self, data: Any) -> None:
        super()._validate(data)
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")

    @property
    def guarantee_on_forget(self) -> str:  # type: ignore[override]
        return "exact-rollback"

    def _node_epochs(self) -> int:
        return max(1, round(2 * self.epochs / (self.slices + 1)))

    def _after_rollback(self, depth: int) -> str:
        return "serving" if self.mode == "rollback" else "excluded"

    def _retrain_on_forget(self) -> bool:
        return self.mode == "retrain"
