"""``unlearnkit bench scale``'s report logic on made-up measurements (the benchmark itself is not a test): the
forgets split by what their commit did to the write-ahead log, the targets judged, the Markdown rows."""

from __future__ import annotations

import pytest

from unlearnkit.bench.scale import host_reference_ms, steal_pct, wal_regimes
from unlearnkit.bench.scale_report import markdown, verdicts
from unlearnkit.errors import ConfigError


def test_forgets_split_by_whether_their_commit_grew_the_write_ahead_log():
    lat = [9.0, 3.0, 2.5, 1.5, 1.4, 2.6, 1.6]
    wal = [4096, 8192, 12288, 12288, 12288, 16384, 16384]  # grows ×3, rewritten from its start ×2, grows, rewritten
    out = wal_regimes(lat, wal)
    assert (out["forget_wal_grew"], out["forget_wal_reused"]) == (4, 3)
    assert out["forget_wal_grew_p50_ms"] == 2.8 and out["forget_wal_reused_p50_ms"] == 1.5
    assert wal_regimes([], [])["forget_wal_grew_p50_ms"] is None


def _results(p50_10k: float, p50_1m: float, one_row: float) -> dict:
    def s3t(p50: float) -> dict:
        return {
            "forget_p50_ms": p50,
            "forget_cpu_p50_ms": p50 * 0.8,
            "cli_forget_median_s": 1.3,
            "ingest_rows_per_s": 70_000.0,
            "rss_growth_over_data": 1.9,
            "predict_batch_ratio": 1.05,
            "predict_one_row_ratio": one_row,
            "forget_wal_grew": 60,
            "forget_wal_grew_p50_ms": p50 * 1.1,
            "forget_wal_reused": 40,
            "forget_wal_reused_p50_ms": p50 * 0.9,
            "host_reference_ms": 20.0 * p50,  # a slower host: a slower reference and a slower forget
        }

    cfg = dict(features=32, classes=6, seed=0, shards=3, slices=4, budget=4, epochs=1, predict_rows=1000)
    return {
        "config": cfg,
        "machine": {"cpus": 2, "load_at_start": [0.1, 0.1, 0.1]},
        "sizes": {"10000": {"s3t": s3t(p50_10k)}, "1000000": {"s3t": s3t(p50_1m)}},
    }


def test_every_forget_is_judged_and_the_log_regimes_are_reported_beside_it():
    verdict = {v["target"]: v["pass"] for v in verdicts(_results(1.9, 1.8, 1.1))}
    assert verdict["s3t_p50"] and verdict["s3t_flat"] and verdict["predict"] and verdict["ingest"]
    missed = {v["target"]: v["pass"] for v in verdicts(_results(1.9, 2.1, 1.25))}
    assert missed["s3t_p50"] is False and missed["predict"] is False
    text = markdown(_results(1.9, 2.1, 1.25))
    assert "| …of those, commits that grew the write-ahead log (count) | 60 | 60 |" in text
    assert "| …their p50 (ms) | 2.09 | 2.31 |" in text and "**miss**" in text
    assert "| fixed reference workload around the forgets, CPU (ms; higher = slower host) | 38.00 | 42.00 |" in text


def test_host_steal_is_the_share_of_the_machine_given_to_other_guests():
    before = [100, 0, 50, 800, 0, 0, 0, 50, 0, 0]
    after = [200, 0, 60, 900, 0, 0, 0, 90, 0, 0]  # 100 user, 10 system, 100 idle, 40 steal
    assert steal_pct(before, after) == 100.0 * 40 / 250
    assert steal_pct(None, after) is None and steal_pct(before, before) is None


def test_the_host_reference_is_cpu_time_of_fixed_work():
    small, large = host_reference_ms(repeats=3, records=200), host_reference_ms(repeats=3, records=4000)
    assert 0 < small < large  # the same work every time: it grows with the records, not with anything measured


def _with_interleaved(results: dict, p50s: dict[int, float]) -> dict:
    sizes = {
        str(n): {"forget_p50_ms": v, "forget_cpu_p50_ms": v * 0.8, "round_p50_ms": [v, v]} for n, v in p50s.items()
    }
    rounds = {"rounds": 2, "round_forgets": 5, "host_reference_ms": [20.0, 30.0]}
    return {**results, "interleaved": {**rounds, "sizes": sizes}}


def test_the_forget_targets_are_judged_on_the_interleaved_rounds_when_every_size_has_them():
    one_after_another = _results(1.9, 2.6, 1.1)  # a slow minute on the largest size
    assert {v["target"]: v["pass"] for v in verdicts(one_after_another)}["s3t_p50"] is False
    both = _with_interleaved(one_after_another, {10_000: 1.7, 1_000_000: 1.6})
    judged = {v["target"]: v for v in verdicts(both)}
    assert judged["s3t_p50"]["pass"] and judged["s3t_flat"]["pass"]
    assert judged["s3t_p50"]["measured"].startswith("sizes interleaved, 2 rounds × 5 forgets: 10k: 1.70 ms")
    assert "one size after another: 10k: 1.90 ms, 1M: 2.60 ms" in judged["s3t_p50"]["measured"]
    slow = _with_interleaved(one_after_another, {10_000: 1.7, 1_000_000: 2.2})
    assert {v["target"]: v["pass"] for v in verdicts(slow)}["s3t_p50"] is False
    partial = _with_interleaved(one_after_another, {10_000: 1.7})  # a size without rounds: the parts decide
    assert {v["target"]: v["pass"] for v in verdicts(partial)}["s3t_p50"] is False
    text = markdown(both)
    assert "| S3T `forget` 1 id, sizes interleaved in rounds: p50 (ms) | 1.70 | 1.60 |" in text
    assert "the reference workload before each round: 20.00–30.00 ms CPU" in text
    failed = markdown({**one_after_another, "interleaved": {"error": "boom"}})
    assert "- interleaved forgets: boom" in failed


def test_interleaved_forgets_alternate_the_sizes_on_fresh_ids(tmp_path):
    from unlearnkit.bench.scale import ScaleConfig, _load, _params, measure_interleaved, write_data
    from unlearnkit.exact import S3T, load_strategy

    cfg = ScaleConfig(forgets=3, cli_forgets=0, service_requests=0, rounds=2, round_forgets=3, public=200)
    models = {}
    for n in (300, 600):
        train, public, _ = _load(write_data(tmp_path / f"data-{n}", n, cfg), cfg)
        d = tmp_path / f"s3t-{n}"
        S3T(shards=cfg.shards, slices=cfg.slices, budget=cfg.budget, **_params(cfg)).fit(train, public, directory=d)
        models[n] = d
    out = measure_interleaved(models, cfg)
    assert out["rounds"] == 2 and len(out["host_reference_ms"]) == 2
    for n, d in models.items():
        got = out["sizes"][str(n)]
        assert len(got["forget_ms"]) == 6 and len(got["round_p50_ms"]) == 2 and got["forget_p50_ms"] > 0
        m = load_strategy(d)
        try:
            assert len(m.store.deleted_ids()) == 6 and not m.pending_retrain()  # every one on the fast path
        finally:
            m.close()
    with pytest.raises(ConfigError, match="interleaved forgets; lower --rounds"):
        measure_interleaved(models, ScaleConfig(rounds=50, round_forgets=50, public=200))
