"""``unlearnkit bench scale``'s report logic on made-up measurements (the benchmark itself is not a test): the
forgets split by what their commit did to the write-ahead log, the targets judged, the Markdown rows."""

from __future__ import annotations

from unlearnkit.bench.scale import host_reference_ms, markdown, steal_pct, verdicts, wal_regimes


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
