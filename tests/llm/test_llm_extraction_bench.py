"""The extraction benchmark's plumbing on the tiny world (1 fact, 3 steps per edit): matrix, directions, figures."""

from __future__ import annotations

import json

from tests.llm.conftest import TINY_MODEL, TINY_TRAIN, TINY_WORLD
from unlearnkit.bench.llm_extraction import ExtractionBenchConfig, run_benchmark


def test_bench_writes_the_matrix(tmp_path, tiny, tiny_cache) -> None:
    fast = {"layer": 0, "steps": 3}
    cfg = ExtractionBenchConfig(
        seeds=(0,),
        editors=("rome",),
        facts=1,
        known_only=False,
        objectives=("fact_erasure", "max_entropy_defense"),
        world=TINY_WORLD,
        model=TINY_MODEL,
        train=TINY_TRAIN,
        cache_dir=tiny_cache,
        editor_overrides={"rome": fast},
        random_facts=2,
    )
    summary = run_benchmark(tmp_path, cfg, echo=lambda _: None)
    results = json.loads((tmp_path / "results.json").read_text())
    seed = results["seeds"][0]
    assert set(seed["cells"]) == {"rome/fact_erasure", "rome/max_entropy_defense"}
    assert all(len(c["rows"]) == 1 for c in seed["cells"].values())
    assert set(seed["floor"]) == {"head_projection", "probability_delta", "input_rephrasing", "union"}
    md = (tmp_path / "results.md").read_text()
    assert "| Fact Erasure |" in md and "Directions the paper reports" in md
    decided = {d["direction"] for d in summary["directions"]}
    assert any("Max-Entropy defense lowers whitebox" in d for d in decided)
    assert not any("Head-Projection" in d for d in decided)  # not run: not decided
    assert all(d["seeds"] == 1 and d["editor"] == "rome" for d in summary["directions"])
    assert (tmp_path / "answer_rank.png").is_file() and (tmp_path / "answer_rank.pdf").is_file()
