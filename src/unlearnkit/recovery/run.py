"""``recover``: select → fine-tune → guard → manifest, on a copy of the damaged model.

The manifest lists the selected ids and every filter's rejected ids as keyed hashes — HMAC-SHA256 under the
model's secret (the pepper its lineage uses) when it has one, plain SHA-256 of the id otherwise — never raw
ids or content, so an auditor holding the key can check that no record linked to a deletion request was used to
recover, and nobody else can read the records from it.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from unlearnkit.approx._common import config_to_dict
from unlearnkit.recovery.candidates import Candidates
from unlearnkit.recovery.guard import GuardConfig, GuardDecision, decide
from unlearnkit.recovery.prune.base import sparsity_of
from unlearnkit.recovery.select import SelectConfig, SelectionResult, select
from unlearnkit.recovery.subject import RecoveryTrainConfig, Subject


def id_hashes(ids: Iterable[str], key: bytes | None, purpose: str = "recovery-id") -> list[str]:
    """HMAC-SHA256 of ``purpose:id`` under ``key`` (or SHA-256 without a key), sorted."""
    out = []
    for i in ids:
        msg = f"{purpose}:{i}".encode()
        out.append(hmac.new(key, msg, hashlib.sha256).hexdigest() if key else hashlib.sha256(msg).hexdigest())
    return sorted(out)


def set_hash(ids: Iterable[str], key: bytes | None) -> str:
    """One keyed hash of a set of ids (e.g. a calibration set), order-independent."""
    msg = ("id-set:" + "\n".join(sorted(ids))).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest() if key else hashlib.sha256(msg).hexdigest()


def build_manifest(selection: SelectionResult, candidates: Candidates, key: bytes | None) -> dict[str, Any]:
    return {
        "id_hash": "hmac-sha256 under the model's secret" if key else "sha256 (the model has no secret)",
        "candidates": len(candidates),
        "selected": len(selection.ids),
        "selected_id_hashes": id_hashes(selection.ids, key),
        "filters": {
            name: {
                "settings": out["settings"],
                "rejected": out["rejected"],
                "reasons": out["reasons"],
                "rejected_id_hashes": id_hashes([candidates.ids[i] for i in out["rejected_positions"]], key),
            }
            for name, out in selection.filters.items()
        },
    }


@dataclass
class RecoveryResult:
    """The model to serve (the recovered copy if the guard accepted it, else the input), and the evidence."""

    model: nn.Module
    accepted: bool
    selection: SelectionResult
    guard: GuardDecision | None
    manifest: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)


def recover(
    subject: Subject,
    model: nn.Module,
    reference: nn.Module,
    candidates: Candidates,
    budget: float,
    *,
    forget: Candidates | None = None,
    select_config: SelectConfig | None = None,
    train_config: RecoveryTrainConfig | None = None,
    guard_config: GuardConfig | None = None,
    utility_data: Any = None,
    deny: tuple[str, ...] = (),
    key: bytes | None = None,
    seed: int = 0,
    enforce_guard: bool = True,
) -> RecoveryResult:
    """Recover ``model`` (damaged by pruning or unlearning) towards ``reference`` on a selected few candidates.

    ``model`` is never changed. With a ``forget`` set the forget-aware filters run and the guard compares the
    forget metrics before and after; a rejected recovery returns ``model`` itself (rolled back).
    ``enforce_guard=False`` (benchmarks) records the guard's decision but returns the recovered model anyway.
    """
    torch.set_num_threads(1)
    scfg, tcfg, gcfg = (
        select_config or SelectConfig(),
        train_config or RecoveryTrainConfig(),
        guard_config or GuardConfig(),
    )
    t0 = time.perf_counter()
    selection = select(subject, reference, model, candidates, budget, forget=forget, config=scfg, deny=deny, seed=seed)
    t1 = time.perf_counter()
    trained = subject.train(copy.deepcopy(model), candidates.take(selection.positions), tcfg, seed)
    t2 = time.perf_counter()
    decision = None
    accepted = True
    if forget is not None and len(forget):
        ub = subject.utility(model, utility_data) if utility_data is not None else None
        ua = subject.utility(trained, utility_data) if utility_data is not None else None
        decision = decide(subject.forget_metrics(model, forget), subject.forget_metrics(trained, forget), gcfg, ub, ua)
        accepted = decision.accepted
    manifest = build_manifest(selection, candidates, key)
    seconds = {"select": t1 - t0, "train": t2 - t1, "guard": time.perf_counter() - t2}
    record = {
        "selection": selection.record(),
        "select_config": config_to_dict(scfg),
        "train_config": config_to_dict(tcfg),
        "guard_config": config_to_dict(gcfg),
        "guard": decision.record() if decision is not None else None,
        "accepted": accepted,
        "sparsity": {"before": sparsity_of(model), "after": sparsity_of(trained)},
        "seconds": seconds,
        "seed": seed,
    }
    served = trained if accepted or not enforce_guard else model
    return RecoveryResult(served, accepted, selection, decision, manifest, seconds, record)


__all__ = ["RecoveryResult", "build_manifest", "id_hashes", "recover", "set_hash"]
