"""Where an exact model stands: version, alive depths, pending retrains, deletions, remaining capacity.

The capacity is the expected number of further random single-sample deletion requests before every shard is
dead (the S3T paper's system failure, which forces a retrain), from the model's current
:class:`~unlearnkit.exact.sequences.SequenceBook` alive depths — the same bookkeeping S3T serves from and the
Lemma 1 deletion-rate simulation runs — with requests drawn in proportion to the samples each (shard, slice)
still holds. Strategies that retrain on every deletion (SISA-retrain, Retrain) have no such limit.

This is operator information: alive depths say which slices were hit, so do not publish them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sqlalchemy import func, select

from unlearnkit.exact.base import ExactStrategy
from unlearnkit.exact.sequences import SequenceBook, expected_requests_until_dead
from unlearnkit.lineage.schema import DeletionRequest

#: ``forget`` warns when the expected remaining capacity falls below this share of the capacity at fit
LOW_CAPACITY = 0.25


def capacity(model: ExactStrategy, streams: int = 400, seed: int = 0) -> dict[str, Any]:
    """Expected remaining deletion requests (mean, std) now and at fit time, and their ratio."""
    if model._retrain_on_forget():
        return {
            "bounded": False,
            "why": "every deletion retrains the shards it hit, so the model never runs out of deletions",
        }
    store = model._require_store()
    deleted = store.deleted_ids()
    books = model._books()
    shards = sorted(books)
    weights_now = np.zeros((len(shards), model.slices))
    weights_fit = np.zeros_like(weights_now)
    for i, (sh, sl) in model.assignment_.items():
        weights_fit[sh, sl] += 1
        if i not in deleted:
            weights_now[sh, sl] += 1
    now_books = [books[sh][1] for sh in shards]
    fresh = [SequenceBook(b.orders) for b in now_books]
    mean, std = expected_requests_until_dead(now_books, weights_now, streams=streams, seed=seed)
    at_fit, _ = expected_requests_until_dead(fresh, weights_fit, streams=streams, seed=seed)
    if math.isinf(mean) or math.isinf(at_fit):
        return {
            "bounded": False,
            "why": "a shard serves an order whose first slice holds no samples, so deletions can never kill it",
        }
    return {
        "bounded": True,
        "expected_requests": round(mean, 2),
        "std": round(std, 2),
        "at_fit": round(at_fit, 2),
        "fraction_left": round(mean / at_fit, 4) if at_fit else 0.0,
        "streams": streams,
        "model": "random single-sample deletions, each cell hit in proportion to the samples it still holds",
    }


def model_status(model: ExactStrategy, streams: int = 400) -> dict[str, Any]:
    """Everything ``unlearnkit status`` prints (JSON-serialisable)."""
    model._check_fitted()
    store = model._require_store()
    with store.session() as s:
        by_state = dict(s.execute(select(DeletionRequest.state, func.count()).group_by(DeletionRequest.state)).all())
    deleted = store.deleted_ids()
    config = model.config_
    scaling = config.get("public_fit", {}).get("scaling", {"kind": "identity", "why": "recorded before scaling"})
    return {
        "directory": str(model.directory),
        "strategy": model.kind,
        "model_version": model.model_version,
        "shards": model.shards,
        "slices": model.slices,
        "sharding": config.get("sharding", "id"),
        "label_set": config.get("public_fit", {}).get("label_set", {"num_classes": config.get("num_classes")}),
        "scaling": {k: v for k, v in scaling.items() if k not in ("mean", "std")},
        "sequences": [
            {"shard": sh, "sequence": sq, "order": list(order), "alive_depth": depth, "state": state}
            for sh, sq, order, depth, state in model._rows_
        ],
        "serving_shards": sorted({m.shard for m in model._snapshot.members}),  # type: ignore[union-attr]
        "pending_retrain": model.pending_retrain(),
        "deletions": {
            "samples_deleted": len(deleted),
            "samples_held": len(model.assignment_) - len(deleted),
            "requests_completed": int(by_state.get("completed", 0)),
            "requests_unfinished": int(sum(v for k, v in by_state.items() if k != "completed")),
        },
        "capacity": capacity(model, streams=streams),
    }


def capacity_warning(status: dict[str, Any]) -> str | None:
    """A one-line warning when the model is close to (or at) needing a retrain; else None."""
    cap = status["capacity"]
    pending = status["pending_retrain"]
    if pending and not status["serving_shards"]:
        return "every shard is dead: nothing is served until `unlearnkit retrain` rebuilds them"
    if not cap.get("bounded"):
        return f"shard(s) {pending} wait for a retrain (`unlearnkit retrain`)" if pending else None
    if cap["fraction_left"] < LOW_CAPACITY or pending:
        return (
            f"deletion capacity nearly gone: about {cap['expected_requests']:.0f} more random deletions before "
            f"every shard is dead ({cap['fraction_left']:.0%} of the capacity at fit"
            + (f"; shard(s) {pending} already dead" if pending else "")
            + "); run `unlearnkit retrain DIR` to rebuild"
        )
    return None


__all__ = ["LOW_CAPACITY", "capacity", "capacity_warning", "model_status"]
