"""PASER selection: budget, determinism, strategies, the manifest (keyed hashes only)."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest

from unlearnkit.errors import ConfigError
from unlearnkit.recovery import SelectConfig, build_manifest, resolve_budget, select


def test_budget_resolution() -> None:
    assert resolve_budget(0.05, 1000) == 50
    assert resolve_budget(0.0001, 10) == 1
    assert resolve_budget(60, 1000) == 60
    for bad in (0, -1, 2.5):
        with pytest.raises(ConfigError):
            resolve_budget(bad, 100)


@pytest.mark.parametrize("strategy", ["paser", "uniform", "random"])
def test_selection_respects_the_budget_and_is_deterministic(digits, strategy: str) -> None:
    cfg = SelectConfig(strategy=strategy, filters=())
    args = (digits.subject, digits.reference, digits.damaged, digits.candidates, 40)
    a, b = select(*args, config=cfg, seed=3), select(*args, config=cfg, seed=3)
    assert len(a.ids) == 40 == len(set(a.ids)) and a.ids == b.ids
    if strategy != "random":
        assert sum(c["allocated"] for c in a.clusters) == 40
        assert all(c["selected"] <= c["kept"] for c in a.clusters)


def test_cds_allocation_chases_the_planted_cluster_and_filters_stop_it(digits) -> None:
    """The planted duplicates are the most 'degraded' rows (the model forgot them on purpose): unfiltered CDS
    allocation pours budget into them — the relearning failure — and the filters leave none in."""
    args = (digits.subject, digits.reference, digits.damaged, digits.candidates, 40)
    raw = select(*args, forget=digits.forget, config=SelectConfig(filters=()), seed=0)
    safe = select(*args, forget=digits.forget, config=SelectConfig(), seed=0)
    assert len(set(raw.ids) & digits.planted) >= 5
    assert not set(safe.ids) & digits.planted and len(safe.ids) == 40
    assert safe.filters["duplicate"]["rejected"] == len(digits.planted)


def test_manifest_holds_keyed_hashes_only(digits) -> None:
    key = b"k" * 32
    res = select(digits.subject, digits.reference, digits.damaged, digits.candidates, 30, forget=digits.forget)
    man = build_manifest(res, digits.candidates, key)
    expect = sorted(hmac.new(key, f"recovery-id:{i}".encode(), hashlib.sha256).hexdigest() for i in res.ids)
    assert man["selected_id_hashes"] == expect
    assert len(man["filters"]["duplicate"]["rejected_id_hashes"]) == len(digits.planted)
    text = str(man)
    assert not any(f"'{i}'" in text for i in digits.candidates.ids)  # no raw id anywhere
    unkeyed = build_manifest(res, digits.candidates, None)
    assert unkeyed["selected_id_hashes"] != expect and "sha256" in unkeyed["id_hash"]


@pytest.mark.parametrize("within", ["weighted", "top"])
def test_within_cluster_rules(digits, within: str) -> None:
    cfg = SelectConfig(within=within, filters=())
    args = (digits.subject, digits.reference, digits.damaged, digits.candidates, 40)
    a, b = select(*args, config=cfg, seed=1), select(*args, config=cfg, seed=1)
    assert a.ids == b.ids and len(a.ids) == 40
    if within == "top":  # the greedy rule takes each cluster's highest-JSD rows (rows cost the same)
        jsd = digits.subject.divergence(digits.reference, digits.damaged, digits.candidates)
        labels = np.asarray(a.labels)
        for c in set(labels[a.positions].tolist()):
            members = np.flatnonzero(labels == c)
            chosen = [p for p in a.positions if labels[p] == c]
            assert jsd[chosen].min() >= np.sort(jsd[members])[::-1][len(chosen) - 1] - 1e-12
