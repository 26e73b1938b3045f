"""The owner-deletion study of ``bench exact``: owner-aware placement cuts one slice per data subject."""

from __future__ import annotations

import json

from unlearnkit.bench.owner_sharding import OwnerStudyConfig, owner_study, run_owner_bench


def test_owner_aware_placement_survives_more_owner_deletions(tmp_path):
    study = owner_study(OwnerStudyConfig(budgets=(1, 4), placements=3, orders=10))
    for row in study["rows"]:
        assert row["owner"]["cells_per_owner"] == 1.0 and row["id"]["cells_per_owner"] > 1.0
        assert row["owner"]["requests_until_dead"] > row["id"]["requests_until_dead"]
    by_b = {(r["population"], r["budget"]): r for r in study["rows"]}
    assert (
        by_b[("digits-owners", 4)]["owner"]["requests_until_dead"]
        > by_b[("digits-owners", 1)]["owner"]["requests_until_dead"]
    )
    written = run_owner_bench(tmp_path, OwnerStudyConfig(budgets=(1,), placements=2, orders=3))
    assert {p.rsplit("/", 1)[-1] for p in written["files"]} == {
        "owner_deletions.json",
        "owner_deletions.md",
        "owner_deletions.png",
        "owner_deletions.pdf",
    }
    assert json.loads((tmp_path / "owner_deletions.json").read_text())["rows"]


def test_capacity_of_a_shard_that_cannot_die_is_unbounded():
    import math

    import numpy as np

    from unlearnkit.exact.sequences import SequenceBook, expected_requests_until_dead

    books = [SequenceBook([(0, 1), (1, 0)]), SequenceBook([(0, 1), (1, 0)])]
    weights = np.array([[3.0, 2.0], [0.0, 4.0]])  # shard 1's slice 0 is empty: its order (0, 1) never dies
    assert math.isinf(expected_requests_until_dead(books, weights, streams=5)[0])
    mean, _ = expected_requests_until_dead(books, np.array([[3.0, 2.0], [1.0, 4.0]]), streams=50)
    assert 2 <= mean < 100
