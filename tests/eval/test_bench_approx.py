"""The approximate benchmark's claims are computed from the numbers, and a tiny run writes every output."""

from __future__ import annotations

from pathlib import Path

import pytest

from unlearnkit.bench.approx import BenchConfig, evaluate_claims, make_split, resolve_setup, run_benchmark
from unlearnkit.errors import ConfigError
from unlearnkit.eval.report import ResultRecord


def _rec(method: str, seed: int, **m: float) -> ResultRecord:
    return ResultRecord(
        method=method, dataset="digits", scenario="class", seed=seed, config={}, metrics=m, git_revision=None
    )


def test_claims_follow_the_numbers() -> None:
    recs = [_rec("retrain", s, ua=100.0, avg_gap=0.0, rte=2.0) for s in (0, 1)]
    recs += [_rec("ft", s, ua=10.0, avg_gap=40.0, rte=0.1) for s in (0, 1)]
    claims = {c["method"]: c for c in evaluate_claims(recs, {})}
    assert claims["ft"]["reproduced"] is True
    recs_fail = [r for r in recs if r.method == "retrain"] + [_rec("ft", s, ua=90.0, avg_gap=2.0) for s in (0, 1)]
    assert {c["method"]: c for c in evaluate_claims(recs_fail, {})}["ft"]["reproduced"] is False
    # an invalid scenario makes every claim undecidable
    assert all(c["reproduced"] is None for c in evaluate_claims(recs, {("digits", "class"): False}))


def test_std_claims_need_two_seeds() -> None:
    recs = [_rec("retrain", 0, ua=100.0, avg_gap=0.0), _rec("ft", 0, ua=0.0, avg_gap=50.0)]
    recs += [_rec("ga", 0, ua=60.0, avg_gap=30.0)]
    ga = next(c for c in evaluate_claims(recs, {}) if c["method"] == "ga")
    assert ga["reproduced"] is None


def test_tiny_run_writes_outputs(tmp_path: Path) -> None:
    cfg = BenchConfig(datasets=("digits",), scenarios=("class",), seeds=(0,), methods=("ft",), tune=False, sweeps=False)
    cfg.calibrate = False
    cfg.overrides = {"ft": {"epochs": 1}}
    summary = run_benchmark(tmp_path, cfg)
    assert (tmp_path / "results.json").is_file() and (tmp_path / "results.md").is_file()
    assert (tmp_path / "pareto_digits_class.png").is_file() and (tmp_path / "pareto_digits_class.pdf").is_file()
    methods = {r["method"] for r in summary["records"]}
    assert methods == {"original", "retrain", "ft"}
    assert summary["scenario_checks"][0]["ok"] and not summary["failures"]
    assert "| ft |" in summary["markdown"] and "FT fails to forget classes" in summary["markdown"]
    rec = next(r for r in summary["records"] if r["method"] == "ft")
    assert rec["config"]["epochs"] == 1 and rec["forget_ids_hash"] and rec["versions"]["torch"]


def test_a_verdict_needs_a_majority_of_seeds() -> None:
    recs = [_rec("retrain", s, ua=100.0) for s in (0, 1, 2)]
    two = [*recs, _rec("ft", 0, ua=10.0), _rec("ft", 1, ua=20.0), _rec("ft", 2, ua=90.0)]
    ft = next(c for c in evaluate_claims(two, {}) if c["method"] == "ft")
    assert ft["reproduced"] is True and (ft["agreed"], ft["seeds"]) == (2, 3) and ft["basis"] == "2/3 seeds"
    one = [*recs, _rec("ft", 0, ua=10.0), _rec("ft", 1, ua=80.0), _rec("ft", 2, ua=90.0)]
    ft = next(c for c in evaluate_claims(one, {}) if c["method"] == "ft")
    assert ft["reproduced"] is False and ft["agreed"] == 1
    assert evaluate_claims(one, {}) == evaluate_claims(one, {})  # same numbers, same counts


def test_time_claims_use_repeated_timings() -> None:
    recs = [_rec("retrain", s, ua=100.0, avg_gap=0.0, rte=1.0) for s in (0, 1)]
    recs += [_rec("iau", s, ua=100.0, avg_gap=1.0, rte=0.001) for s in (0, 1)]
    iau = next(c for c in evaluate_claims(recs, {}) if c["method"] == "iau")
    assert iau["reproduced"] is None  # a single RTE per seed is never enough
    few = {("digits", "class"): {"retrain": [1.0] * 4, "iau": [0.01] * 4}}
    assert next(c for c in evaluate_claims(recs, {}, few) if c["method"] == "iau")["reproduced"] is None
    fast = {("digits", "class"): {"retrain": [1.0, 1.1, 0.9, 1.0, 5.0], "iau": [0.01, 0.02, 0.01, 0.9, 0.01]}}
    iau = next(c for c in evaluate_claims(recs, {}, fast) if c["method"] == "iau")
    assert iau["reproduced"] is True and "median of 5" in iau["basis"]  # medians are robust to one outlier
    slow = {("digits", "class"): {"retrain": [1.0] * 5, "iau": [0.1] * 5}}
    assert next(c for c in evaluate_claims(recs, {}, slow) if c["method"] == "iau")["reproduced"] is False


def test_a_users_csv_is_a_benchmark_dataset(tmp_path: Path) -> None:
    from unlearnkit.data import load_synthetic, write_csv

    path = tmp_path / "mine.csv"
    write_csv(load_synthetic(0).train, path)
    setup = resolve_setup(str(path))
    bundle = setup.loader(0)
    assert setup.name == "mine" and bundle.test is not None and bundle.num_classes == 6
    split = make_split(bundle, setup, "class", 0, 0)  # class 3 exists among 6
    assert split.forget_class == 3 and len(split.forget) > 0
    with pytest.raises(ConfigError, match="superclass"):
        make_split(bundle, setup, "subclass", 0, 0)
    with pytest.raises(ConfigError, match="no such data file"):
        resolve_setup(str(tmp_path / "missing.csv"))
    with pytest.raises(ConfigError, match="unknown benchmark dataset"):
        resolve_setup("cifar10")
