"""The LM benchmark's plumbing on the tiny world (one method, one seed): tables, figures, directions."""

from __future__ import annotations

import json

from tests.llm.conftest import TINY_MODEL, TINY_TRAIN, TINY_WORLD
from unlearnkit.bench.llm import LMBenchConfig, run_benchmark


def test_bench_writes_report(tmp_path, tiny, tiny_cache) -> None:
    cfg = LMBenchConfig(
        seeds=(0,),
        methods=("ga",),
        every=4,
        world=TINY_WORLD,
        model=TINY_MODEL,
        train=TINY_TRAIN,
        overrides={"llm_ga": {"epochs": 4}},
    )
    summary = run_benchmark(tmp_path, cfg, echo=lambda _: None)
    results = json.loads((tmp_path / "results.json").read_text())
    rows = {r["method"] for r in results["seeds"][0]["rows"]}
    assert {"Target", "Retrain", "GA"} <= rows
    assert results["seeds"][0]["failures"] == []
    md = (tmp_path / "results.md").read_text()
    assert "| GA |" in md and "Directions MUSE reports" in md
    for stem in ("curves", "scalability", "sustainability"):
        assert (tmp_path / f"{stem}.png").is_file() and (tmp_path / f"{stem}.pdf").is_file()
    claims = {d["direction"] for d in summary["directions"]}
    assert any("Target PrivLeak" in c for c in claims)
