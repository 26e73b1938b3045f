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
