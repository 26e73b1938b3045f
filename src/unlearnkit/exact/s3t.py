"""S3T: Sequence-aware Sharded Sliced Training (Chowdhury et al., ICLR 2025, arXiv 2406.16257).

Each shard keeps a frozen backbone and L LoRA blocks numbered from the top. Along a slice order σ, stage i
trains block i and the head on the cumulative slices σ1..σi (Alg. 3; Fig. 2), so block i depends only on
those slices. B orders per shard are chosen by iterative cyclic rotation (Alg. 1) or BMS (Alg. 2, Eq. 24).
A deletion in slice j cuts every order before j's position and restores that stage's head (Alg. 4):
bookkeeping only, so the served model is compliant at once and retraining can wait. Each shard serves its
longest alive prefix; shards are combined by averaging logits; a dead shard leaves the ensemble. Expected
requests until every shard is dead: δ = m·L·H_{mB'} (Lemma 1).

Departures from the official code (brcsomnath/S3T): layers are matched by exact index (its substring test
makes ``layer.1`` match ``layer.10``); shared prefixes are trained once; BMS keeps the *best* B orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from unlearnkit.errors import ConfigError
from unlearnkit.exact.base import ExactStrategy, Prefix, _hits, _Plan
from unlearnkit.exact.sequences import SELECTIONS, select_sequences
from unlearnkit.models.lora import layer_blocks


class S3T(ExactStrategy):
    """``S3T(shards=3, slices=4, budget=4, selection="cyclic").fit(data)``, then ``.forget([17, 42])``.

    Args:
        shards: m, independent shard models.
        slices: L, slices per shard = LoRA blocks (the model needs at least L layers).
        budget: B, slice orders trained per shard (storage grows linearly in B; δ grows as log(mB') up to B=L).
        selection: ``cyclic`` (uniform deletion prior), ``bms`` (non-uniform ``prior``) or ``random``.
        prior: per-slice deletion probabilities for BMS (uniform if omitted).
        bms_t: BMS's anticipated number of deletions t in Eq. 24 (official default 100).
        epochs: epochs per stage (the CPU reproduction uses 20 with Adam lr 1e-2, batch 64, rank 4).
    """

    kind: ClassVar[str] = "s3t"
    guarantee_on_forget: ClassVar[str] = "exact-deactivate"
    chain_may_skip: ClassVar[bool] = False  # every block up to the served depth must exist
    variants: ClassVar[dict[str, dict[str, Any]]] = {"cyclic": {"selection": "cyclic"}, "bms": {"selection": "bms"}}

    def __init__(
        self,
        *,
        shards: int = 3,
        slices: int = 4,
        budget: int = 4,
        selection: str = "cyclic",
        prior: Sequence[float] | None = None,
        bms_t: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(shards=shards, slices=slices, **kwargs)
        self.budget = budget
        self.selection = selection
        self.prior = list(prior) if prior is not None else None
        self.bms_t = bms_t

    def _validate(self, data: Any) -> None:
        super()._validate(data)
        if not isinstance(self.budget, int) or self.budget < 1:
            raise ConfigError(f"budget must be a positive integer, got {self.budget!r}")
        if self.selection not in SELECTIONS:
            raise ConfigError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
        self._orders(0)  # validates budget vs L! and the prior

    def _orders(self, shard: int) -> list[Prefix]:
        return select_sequences(
            self.selection, self.slices, self.budget, prior=self.prior, t=self.bms_t, seed=self.seed + shard
        )

    def _node_layers(self, depth: int) -> tuple[list[int], bool]:
        return layer_blocks(self.depth_, self.slices)[depth - 1], True

    def _retrain_on_forget(self) -> bool:
        return False  # deactivation is exact; retraining a dead shard waits for retrain()

    def _choose_served(self, rows: list[tuple[int, int, Prefix, int, str]]) -> list[tuple[int, int, Prefix, int]]:
        self._rows_ = rows
        out = []
        for sh, (seqs, book) in sorted(self._books(copy=False).items()):
            b, depth = book.best()
            if depth > 0:
                out.append((sh, seqs[b], book.orders[b], depth))
        return out

    def _plan_deletion(self, ids: list[int], assignment: dict[int, tuple[int, int]]) -> _Plan:
        hits = _hits(ids, assignment)
        plan = _Plan([], self._retire(hits))
        books = self._books()
        now = {(sh, sq): (d, st) for sh, sq, _, d, st in self._rows_ if sh in hits}
        for sh in sorted(hits):
            seqs, book = books[sh]
            before = list(book.alive)
            for sl in sorted(hits[sh]):
                book.hit(sl)
            for b, sq in enumerate(seqs):
                if now.get((sh, sq)) != (book.alive[b], "serving"):  # only the rows the deletion changes
                    plan.serving.append((sh, sq, book.orders[b], book.alive[b], "serving"))
                if book.alive[b] != before[b]:
                    plan.deactivated.append(
                        {
                            "shard": sh,
                            "sequence": sq,
                            "order": list(book.orders[b]),
                            "depth_before": before[b],
                            "depth_after": book.alive[b],
                        }
                    )
            if book.dead:
                plan.pending.append(sh)
        return plan
