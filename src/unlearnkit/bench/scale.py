"""``unlearnkit bench scale``: what a deletion costs as the training set grows (10k → 1M samples).

For each size N (synthetic, ``features`` float32 columns, ``classes`` Gaussian clusters, seed stated) the data
is written once as Parquet, then every strategy runs in its own Python process, so the peak RSS reported is
that strategy's at that size:

- **S3T** (shards × slices, budget B, 1 epoch per stage): streaming file read, fit (with the lineage ingest
  timed inside it), peak RSS, bytes on disk, load time, ``predict_proba`` against the plain ensemble of the
  same served modules (``served_ensemble()``, eval mode, inference mode), single-id ``forget`` latencies
  in-process, ``unlearnkit forget`` as a process, and deletions/s through the deletion service's worker with
  group commit on and off (requests submitted through the HTTP API, the worker drained);
- **SISA** (same shards/slices, retrain on deletion): fit and single-id ``forget`` (retrains the hit shard);
- **Retrain** (one model): fit and single-id ``forget`` (a full retrain) — the Retrain ÷ S3T ratio;
- then, with every size's S3T model open in one process, rounds of single-id forgets with the sizes interleaved
  (:func:`measure_interleaved`), on which the forget targets are judged: a slow minute of a shared host then
  lands on every size alike. A fixed reference workload (:func:`host_reference_ms`) gauges the host beside them.

Deleted ids are drawn from one (shard, last slice) cell per shard, so S3T keeps serving (no shard dies) and
every S3T deletion is its no-retrain fast path. Costs are compared with the issue's targets and printed as
pass/miss; a log-log figure fits the exponent of each cost in N. Everything is a ratio or a rate measured in the
same run on the same machine; nothing here is a test.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from unlearnkit.bench.scale_report import markdown, plot, verdicts
from unlearnkit.runtime.memory import resident_bytes

PARTS = ("s3t", "sisa", "retrain")


@dataclass(frozen=True)
class ScaleConfig:
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    features: int = 32
    classes: int = 6
    public: int = 2_000  # never-deletable samples the backbone is pretrained on
    shards: int = 3
    slices: int = 4
    budget: int = 4
    epochs: int = 1
    forgets: int = 100  # in-process S3T single-id forgets per size (the first few are cold: a stable p50)
    rounds: int = 8  # then every size's S3T model open in one process, forgets interleaved: rounds ×
    round_forgets: int = 15  # this many per size and round (rounds=0: not measured)
    cli_forgets: int = 3  # `unlearnkit forget` processes per size
    sisa_forgets: int = 2
    service_requests: int = 24  # per service mode (group commit on / off)
    predict_rows: int = 1_000
    predict_repeats: int = 101  # interleaved pairs; the ratio is the median of the pairs' ratios
    parts: tuple[str, ...] = PARTS
    seed: int = 0
    timeout_s: float = 3600.0  # per part and size

    def validate(self) -> None:
        from unlearnkit.errors import ConfigError

        if not self.sizes or any(n < 100 for n in self.sizes):
            raise ConfigError(f"--sizes must be integers of at least 100, got {self.sizes}")
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise ConfigError(f"unknown parts {sorted(unknown)}: choose from {', '.join(PARTS)}")
        if self.rounds < 0 or self.round_forgets < 1:
            raise ConfigError(f"rounds must be ≥ 0 and round_forgets ≥ 1, got {self.rounds} and {self.round_forgets}")


# -- data ------------------------------------------------------------------------------------------------------
def write_data(directory: Path, n: int, cfg: ScaleConfig) -> dict[str, Any]:
    """Train (ids 0..n-1) and public (ids n..) Parquet files of Gaussian clusters, written in chunks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    centers = (rng.standard_normal((cfg.classes, cfg.features)) * 1.2).astype(np.float32)

    def chunks(start: int, count: int, part: str) -> Path:
        path = directory / f"{part}.parquet"
        names = ["id", "label", *(f"f{k}" for k in range(cfg.features))]
        writer = None
        gen = np.random.default_rng([cfg.seed, start])
        for lo in range(0, count, 100_000):
            m = min(100_000, count - lo)
            y = gen.integers(cfg.classes, size=m)
            x = gen.standard_normal((m, cfg.features), dtype=np.float32)
            x += centers[y]
            cols = [pa.array(np.arange(start + lo, start + lo + m, dtype=np.int64)), pa.array(y.astype(np.int64))]
            cols += [pa.array(x[:, k]) for k in range(cfg.features)]
            table = pa.Table.from_arrays(cols, names=names)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
        assert writer is not None
        writer.close()
        return path

    t0 = time.perf_counter()
    train = chunks(0, n, "train")
    public = chunks(n, cfg.public, "public")
    return {"train": str(train), "public": str(public), "seconds": time.perf_counter() - t0}


# -- helpers ---------------------------------------------------------------------------------------------------
def _rss_mib() -> float:
    """Peak resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    return resident_bytes() / 2**20


def durable_commit_times(directory: Path, commits: int = 100) -> list[float]:
    """Times (ms) of one-row SQLite transactions in WAL mode with ``synchronous=FULL`` (the store's settings) in
    a scratch database under ``directory``: one durable commit on that disk, the deletion's floor."""
    import sqlite3

    path = directory / "commit-baseline.db"
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        times = []
        for k in range(commits):
            t0 = time.perf_counter()
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO t VALUES (?, ?)", (k, "x" * 200))
            con.execute("COMMIT")
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        con.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return times


def _timed_forget(model: Any, sample_id: int, lat: list[float], cpu: list[float]) -> None:
    """One single-id fast-path forget, its wall and CPU time (ms) appended to ``lat`` and ``cpu``."""
    t0, c0 = time.perf_counter(), time.process_time()
    r = model.forget([sample_id])
    lat.append((time.perf_counter() - t0) * 1000)
    cpu.append((time.process_time() - c0) * 1000)
    assert r.count == 1 and not r.retrained, r


def host_reference_ms(repeats: int = 5, records: int = 4000) -> float:
    """CPU time (ms, median of ``repeats``) of a fixed workload like a deletion's own Python work: ``records``
    small dicts encoded as sorted JSON and hashed with SHA-256. The same work at every size and in every run, so
    it gauges the host at that moment: a shared virtual machine's CPU speed varies by 1.5–2× from minute to
    minute without any steal being counted, and a slower reference next to a slower deletion is the host."""
    times = []
    for _ in range(repeats):
        c0 = time.process_time()
        for i in range(records):
            text = json.dumps({"id": i, "cells": [i % 3, i % 4], "state": "deleted"}, sort_keys=True)
            hashlib.sha256(text.encode()).hexdigest()
        times.append((time.process_time() - c0) * 1000)
    return statistics.median(times)


def _cpu_ticks() -> list[int] | None:
    """The machine's CPU time counters (``/proc/stat``: user nice system idle iowait irq softirq steal …)."""
    try:
        with open("/proc/stat") as fh:
            return [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def steal_pct(before: list[int] | None, after: list[int] | None) -> float | None:
    """Share of the machine's CPU time between two :func:`_cpu_ticks` readings that the hypervisor gave to other
    guests (``steal``), in %; None where the counters are unavailable or did not move."""
    if before is None or after is None or len(before) < 8 or len(after) < 8:
        return None
    delta = [b - a for a, b in zip(before[:8], after[:8], strict=True)]
    return 100.0 * delta[7] / sum(delta) if sum(delta) > 0 else None


def _wal_path(model: Any) -> Path | None:
    url = model.store.engine.url
    return Path(f"{url.database}-wal") if url.get_backend_name() == "sqlite" and url.database else None


def wal_regimes(lat_ms: list[float], wal_bytes: list[int]) -> dict[str, Any]:
    """The forgets split by what their commit did to SQLite's write-ahead log: *grew* it (a fresh log after the
    model was opened: the file's size changes, so the sync also commits the file system's journal) or *reused* it
    (after the first checkpoint the log is rewritten from its start, same size). Reported, not judged: the
    target is on every forget."""
    grew, reused, biggest = [], [], 0
    for ms, size in zip(lat_ms, wal_bytes, strict=True):
        (grew if size > biggest else reused).append(ms)
        biggest = max(biggest, size)
    return {
        "forget_wal_grew": len(grew),
        "forget_wal_grew_p50_ms": statistics.median(grew) if grew else None,
        "forget_wal_reused": len(reused),
        "forget_wal_reused_p50_ms": statistics.median(reused) if reused else None,
    }


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def _cells(model: Any, n: int, per_shard: int, skip: int = 0) -> list[int]:
    """Ids of the last slice of each shard, round-robin over shards (S3T keeps serving: no shard dies)."""
    from unlearnkit.exact.base import shard_slice_of

    salt, shards, slices = model.config_["salt"], model.shards, model.slices
    wanted: dict[int, list[int]] = {sh: [] for sh in range(shards)}
    need = per_shard + skip
    for i in range(n):
        sh, sl = shard_slice_of(i, salt, shards, slices)
        if sl == slices - 1 and len(wanted[sh]) < need:
            wanted[sh].append(i)
            if all(len(v) >= need for v in wanted.values()):
                break
    out = []
    for k in range(skip, need):
        out += [wanted[sh][k] for sh in range(shards) if k < len(wanted[sh])]
    return out


def _timed_ingest() -> dict[str, float]:
    """Time every ``LineageStore.ingest*`` call made in this process (the bulk ingest inside fit)."""
    from unlearnkit.lineage.store import LineageStore

    spent = {"seconds": 0.0, "calls": 0}
    for name in [n for n in dir(LineageStore) if n.startswith("ingest")]:
        real = getattr(LineageStore, name)

        def wrapper(self: Any, *a: Any, _real: Any = real, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _real(self, *a, **kw)
            finally:
                spent["seconds"] += time.perf_counter() - t0
                spent["calls"] += 1

        setattr(LineageStore, name, wrapper)
    return spent


def _load(paths: dict[str, str], cfg: ScaleConfig) -> tuple[Any, Any, float]:
    from unlearnkit.data.tables import load_table

    t0 = time.perf_counter()
    train = load_table(paths["train"], num_classes=cfg.classes)
    read_s = time.perf_counter() - t0
    public = load_table(paths["public"], num_classes=cfg.classes)
    return train, public, read_s


def _warm_up(work: Path, cfg: ScaleConfig, make: Callable[[], Any]) -> None:
    """Fit the same strategy on 300 samples first, so the libraries a fit imports (pyarrow, safetensors,
    peft → transformers; torch's allocators) are loaded before the RSS baseline: the growth measured after it is
    what the data costs, not one-time code."""
    scratch = work / "warm-up"
    try:
        train, public, _ = _load(write_data(scratch / "data", 300, cfg), cfg)
        model = make()
        model.fit(train, public, directory=scratch / "model")
        model.predict_proba(public.x[:8].numpy())
        model.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _params(cfg: ScaleConfig) -> dict[str, Any]:
    return {"epochs": cfg.epochs, "seed": cfg.seed, "salt": "bench-scale", "num_classes": cfg.classes}


# -- one part, in its own process ------------------------------------------------------------------------------
def measure_s3t(n: int, paths: dict[str, str], work: Path, cfg: ScaleConfig) -> dict[str, Any]:
    import torch

    from unlearnkit.context import RunContext
    from unlearnkit.exact import S3T, load_strategy

    RunContext()  # one torch thread, as every training/predicting path
    before = _current_rss_mib()
    _warm_up(work, cfg, lambda: S3T(shards=cfg.shards, slices=cfg.slices, budget=cfg.budget, **_params(cfg)))
    baseline = _current_rss_mib()  # code and libraries loaded: what grows from here is data
    ingest = _timed_ingest()
    train, public, read_s = _load(paths, cfg)
    data_bytes = train.x.numel() * 4
    directory = work / f"s3t-{n}"
    t0 = time.perf_counter()
    model = S3T(shards=cfg.shards, slices=cfg.slices, budget=cfg.budget, **_params(cfg))
    model.fit(train, public, directory=directory)
    fit_s = time.perf_counter() - t0
    peak = _rss_mib()
    test_x = public.x[: cfg.predict_rows].numpy()
    del train
    model.close()
    disk = _du(directory)
    t0 = time.perf_counter()
    model = load_strategy(directory)
    load_s = time.perf_counter() - t0
    out: dict[str, Any] = {
        "n": n,
        "file_read_s": read_s,
        "file_read_rows_per_s": n / read_s,
        "fit_s": fit_s,
        "ingest_s": ingest["seconds"] or None,
        "ingest_rows_per_s": n / ingest["seconds"] if ingest["seconds"] else None,
        "peak_rss_mib": peak,
        "baseline_rss_mib": baseline,
        "import_rss_mib": baseline - before,
        "data_mib": data_bytes / 2**20,
        "rss_growth_over_data": (peak - baseline) / (data_bytes / 2**20),
        "disk_bytes": disk,
        "load_s": load_s,
    }
    out.update(_predict_ratio(model, test_x, cfg))
    ids = _cells(model, n, per_shard=math.ceil(cfg.forgets / cfg.shards) + cfg.cli_forgets + 2 * cfg.service_requests)
    forget_ids, cli_ids = ids[: cfg.forgets], ids[cfg.forgets : cfg.forgets + cfg.cli_forgets]
    start = cfg.forgets + cfg.cli_forgets
    service_ids = ids[start : start + 2 * cfg.service_requests]
    lat, cpu, wal_sizes = [], [], []
    wal = _wal_path(model)
    os.sync()  # the data and model files this run just wrote: flushed now, not in writeback during the timings
    floor_before = durable_commit_times(work)  # the floor, sampled right before and right after the forgets
    reference_before = host_reference_ms()
    ticks = _cpu_ticks()
    for i in forget_ids:
        _timed_forget(model, i, lat, cpu)
        wal_sizes.append(wal.stat().st_size if wal is not None and wal.exists() else 0)
    out.update({"forget_ms": lat, "forget_p50_ms": statistics.median(lat), "forget_p90_ms": _pct(lat, 0.9)})
    out["forget_cpu_p50_ms"] = statistics.median(cpu)  # CPU time: what the deletion costs on an idle machine
    out.update(wal_regimes(lat, wal_sizes))
    out["host_steal_pct"] = steal_pct(ticks, _cpu_ticks())  # CPU time the hypervisor gave to others meanwhile
    out["host_reference_before_ms"], out["host_reference_after_ms"] = reference_before, host_reference_ms()
    out["host_reference_ms"] = (reference_before + out["host_reference_after_ms"]) / 2
    floor_after = durable_commit_times(work)
    out["durable_commit_before_ms"] = statistics.median(floor_before)
    out["durable_commit_after_ms"] = statistics.median(floor_after)
    out["durable_commit_ms"] = statistics.median(floor_before + floor_after)  # one synced commit, same disk
    out["forget_over_commit"] = out["forget_p50_ms"] / out["durable_commit_ms"]
    model.close()
    del model
    torch.set_num_threads(1)
    cli, cli_cpu = [], []
    for i in cli_ids:
        t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(
            [sys.executable, "-m", "unlearnkit.cli", "forget", str(directory), "--ids", str(i), "--json"],
            capture_output=True,
            text=True,
            timeout=cfg.timeout_s,
        )
        cli.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli_cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if proc.returncode != 0:
            raise RuntimeError(f"unlearnkit forget failed: {proc.stderr.strip()[-500:]}")
    out.update({"cli_forget_s": cli, "cli_forget_median_s": statistics.median(cli)})
    out["cli_forget_cpu_median_s"] = statistics.median(cli_cpu)  # user + system CPU of the process
    out.update(_service(directory, service_ids, cfg))
    out["final_peak_rss_mib"] = _rss_mib()
    return out


def _predict_ratio(model: Any, x: Any, cfg: ScaleConfig) -> dict[str, Any]:
    import torch

    _, ens = model.served_ensemble()
    ens.eval()
    xt = torch.as_tensor(x)

    def plain(rows: Any) -> Any:
        with torch.inference_mode():
            return ens(rows)

    res: dict[str, Any] = {}
    for label, rows_np, rows_t in (("batch", x, xt), ("one_row", x[:1], xt[:1])):
        calls = (lambda r=rows_np: model.predict_proba(r), lambda r=rows_t: plain(r))
        a, b = [], []
        for k in range(cfg.predict_repeats):  # interleaved, the order alternating: a drift in the machine's speed
            took = {i: _time(calls[i]) for i in ((0, 1) if k % 2 == 0 else (1, 0))}  # hits both alike
            a.append(took[0])
            b.append(took[1])
        res[f"predict_{label}_ms"] = statistics.median(a) * 1000
        res[f"plain_{label}_ms"] = statistics.median(b) * 1000
        res[f"predict_{label}_ratio"] = statistics.median(ta / tb for ta, tb in zip(a, b, strict=True))
    same = torch.allclose(torch.as_tensor(model.predict_proba(x)), plain(xt), atol=1e-5)
    res["predict_matches_plain"] = bool(same)
    return res


def _time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _service(directory: Path, ids: list[int], cfg: ScaleConfig) -> dict[str, Any]:
    """Deletions/s through the service worker: requests submitted through the HTTP API, then the worker drained,
    with group commit on (the default) and off, on disjoint ids; the time of retrain jobs the deletions queued is
    not counted."""
    try:
        from fastapi.testclient import TestClient
        from sqlalchemy import select

        from unlearnkit.lineage.store import utcnow
        from unlearnkit.service.app import create_app
        from unlearnkit.service.models import Job
        from unlearnkit.service.settings import Settings
        from unlearnkit.service.worker import Worker
    except ImportError as exc:
        return {"service_skipped": f"needs the service extra ({exc.name})"}
    tokens = directory.parent / f"{directory.name}.tokens"
    token = "bench-scale-delete-token-0123456789"
    tokens.write_text(f"delete:{token}:bench\n")
    half = len(ids) // 2
    res: dict[str, Any] = {}
    for mode, group, chunk in (("group", 64, ids[:half]), ("single", 1, ids[half:])):
        app = create_app(Settings(model_dir=directory, tokens_file=tokens, run_worker=False, group_commit=group))
        with TestClient(app) as client:
            svc = client.app.state.svc  # type: ignore[attr-defined]
            for i in chunk:
                r = client.post(
                    "/v1/deletion-requests", json={"ids": [i]}, headers={"Authorization": f"Bearer {token}"}
                )
                if r.status_code != 202:
                    raise RuntimeError(f"service refused a deletion: {r.status_code} {r.text}")
            since = utcnow()
            t0 = time.perf_counter()
            ran = Worker(svc).drain()
            seconds = time.perf_counter() - t0
            # S3T queues a retrain for a shard whose slice order died (it runs first, as a job of its own): its
            # time is not deletion time
            with svc.store.session() as s:
                retrains = s.execute(
                    select(Job.started_at, Job.finished_at).where(
                        Job.kind == "retrain", Job.state == "done", Job.started_at >= since
                    )
                ).all()
        retrain_s = sum((b - a).total_seconds() for a, b in retrains)
        forgets = ran - len(retrains)
        res[f"service_{mode}_deletions_per_s"] = forgets / max(1e-9, seconds - retrain_s)
        res[f"service_{mode}_requests"] = forgets
        res[f"service_{mode}_retrain_jobs"] = len(retrains)
    res["service_group_speedup"] = res["service_group_deletions_per_s"] / res["service_single_deletions_per_s"]
    return res


def measure_retraining(kind: str, n: int, paths: dict[str, str], work: Path, cfg: ScaleConfig) -> dict[str, Any]:
    from unlearnkit.context import RunContext
    from unlearnkit.exact import SISA, Retrain

    RunContext()
    make = (lambda: SISA(shards=cfg.shards, slices=cfg.slices, **_params(cfg))) if kind == "sisa" else None
    _warm_up(work, cfg, make or (lambda: Retrain(**_params(cfg))))
    baseline = _current_rss_mib()
    train, public, _ = _load(paths, cfg)
    data_mib = train.x.numel() * 4 / 2**20
    strategy = SISA(shards=cfg.shards, slices=cfg.slices, **_params(cfg)) if kind == "sisa" else None
    model = strategy if strategy is not None else Retrain(**_params(cfg))
    t0 = time.perf_counter()
    model.fit(train, public, directory=work / f"{kind}-{n}")
    fit_s = time.perf_counter() - t0
    peak = _rss_mib()
    del train
    lat = []
    count = cfg.sisa_forgets if kind == "sisa" else 1
    for k in range(count):
        t0 = time.perf_counter()
        r = model.forget([(k * 7919 + 13) % n])
        lat.append(time.perf_counter() - t0)
        assert r.retrained, r  # both retrain what saw the deleted row
    model.close()
    return {
        "n": n,
        "fit_s": fit_s,
        "peak_rss_mib": peak,
        "rss_growth_over_data": (peak - baseline) / data_mib,
        "forget_s": lat,
        "forget_median_s": statistics.median(lat),
    }


def measure_interleaved(models: dict[int, Path], cfg: ScaleConfig) -> dict[str, Any]:
    """Single-id S3T forgets with the sizes interleaved: every size's model (as its own part left it) open in one
    process, ``rounds`` rounds of ``round_forgets`` forgets per size, the order of the sizes rotated each round,
    the reference workload (:func:`host_reference_ms`) measured before each round.

    The host's speed drifts from minute to minute; measured one size after another (:func:`measure_s3t`), a slow
    minute lands on one size and looks like a cost of N. Interleaved, every size meets the same host, so the
    comparison across N is fair and each p50 pools every round. The ids are fresh (after those the parts used),
    from the same cells as :func:`measure_s3t`'s, and the first forget of each model (cold) is counted too.
    """
    from unlearnkit.context import RunContext
    from unlearnkit.errors import ConfigError
    from unlearnkit.exact import load_strategy

    RunContext()
    used = math.ceil(cfg.forgets / cfg.shards) + cfg.cli_forgets + 2 * cfg.service_requests  # per shard, by the parts
    opened = {n: load_strategy(d) for n, d in sorted(models.items())}
    need = math.ceil(cfg.rounds * cfg.round_forgets / cfg.shards)
    lat: dict[int, list[float]] = {n: [] for n in opened}
    cpu: dict[int, list[float]] = {n: [] for n in opened}
    per_round: dict[int, list[float]] = {n: [] for n in opened}
    refs, order = [], sorted(opened)
    try:
        queue = {n: _cells(m, n, per_shard=need, skip=used)[::-1] for n, m in opened.items()}  # popped from the end
        for n, q in queue.items():
            if len(q) < cfg.rounds * cfg.round_forgets:
                raise ConfigError(
                    f"N={n}: {len(q)} fresh ids in the deleted cells for {cfg.rounds} × {cfg.round_forgets} "
                    "interleaved forgets; lower --rounds or --round-forgets"
                )
        for r in range(cfg.rounds):
            refs.append(host_reference_ms(repeats=3))
            for n in order[r % len(order) :] + order[: r % len(order)]:
                this: list[float] = []
                for _ in range(cfg.round_forgets):
                    _timed_forget(opened[n], queue[n].pop(), this, cpu[n])
                lat[n] += this
                per_round[n].append(statistics.median(this))
    finally:
        for m in opened.values():
            m.close()
    sizes = {
        str(n): {
            "forget_ms": lat[n],
            "forget_p50_ms": statistics.median(lat[n]),
            "forget_p90_ms": _pct(lat[n], 0.9),
            "forget_cpu_p50_ms": statistics.median(cpu[n]),
            "round_p50_ms": per_round[n],
        }
        for n in order
    }
    return {"rounds": cfg.rounds, "round_forgets": cfg.round_forgets, "host_reference_ms": refs, "sizes": sizes}


def _child(part: str, n: int, paths: dict[str, str], work: Path, cfg: ScaleConfig) -> dict[str, Any]:
    if part == "interleaved":
        return measure_interleaved({int(k): Path(v) for k, v in paths.items()}, cfg)
    if part == "s3t":
        return measure_s3t(n, paths, work, cfg)
    return measure_retraining(part, n, paths, work, cfg)


# -- the run ---------------------------------------------------------------------------------------------------
def run_scale_bench(out: Path, cfg: ScaleConfig, work: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """Every size and part in its own process; results.json, results.md and scale.png/pdf in ``out``."""
    import tempfile

    cfg.validate()
    out.mkdir(parents=True, exist_ok=True)
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="unlearnkit-scale.", dir=work))
    started = time.perf_counter()
    results: dict[str, Any] = {"config": asdict(cfg), "sizes": {}, "machine": _machine()}
    kept: dict[int, str] = {}  # size → its S3T model directory
    try:
        for n in cfg.sizes:
            size_dir = scratch / f"n{n}"
            log(f"N={n}: writing data")
            paths = write_data(size_dir / "data", n, cfg)
            row: dict[str, Any] = {"data_write_s": paths.pop("seconds")}
            for part in cfg.parts:
                log(f"N={n}: {part}")
                row[part] = _run_child(part, n, paths, size_dir, cfg)
                _save(out, results | {"sizes": {**results["sizes"], str(n): row}}, cfg, partial=True)
            results["sizes"][str(n)] = row
            if cfg.rounds and "error" not in row.get("s3t", {"error": "not run"}):  # kept for the interleaved part
                (scratch / "kept").mkdir(exist_ok=True)
                kept[n] = str(shutil.move(size_dir / f"s3t-{n}", scratch / "kept" / f"s3t-{n}"))
            shutil.rmtree(size_dir, ignore_errors=True)
        if kept:
            log(f"all sizes: {cfg.rounds} rounds of interleaved S3T forgets")
            results["interleaved"] = _run_child("interleaved", 0, {str(n): d for n, d in kept.items()}, scratch, cfg)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["wall_seconds"] = time.perf_counter() - started
    return _save(out, results, cfg, partial=False)


def _run_child(part: str, n: int, paths: dict[str, str], work: Path, cfg: ScaleConfig) -> dict[str, Any]:
    payload = json.dumps({"part": part, "n": n, "paths": paths, "work": str(work), "config": asdict(cfg)})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "unlearnkit.bench.scale", payload],
            capture_output=True,
            text=True,
            timeout=cfg.timeout_s,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {cfg.timeout_s:.0f} s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-2000:] or f"exit {proc.returncode}"}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


def _machine() -> dict[str, Any]:
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "load_at_start": [round(x, 2) for x in load]}


def _save(out: Path, results: dict, cfg: ScaleConfig, partial: bool) -> dict:
    results = {**results, "targets": verdicts(results), "partial": partial}
    (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True, default=str))
    md = markdown(results)
    (out / "results.md").write_text(md)
    files = [str(out / "results.json"), str(out / "results.md")]
    if not partial:
        png = plot(results, out / "scale.png")
        if png is not None:
            files += [str(png), str(png.with_suffix(".pdf"))]
    return {**results, "markdown": md, "files": files}


def main(argv: list[str] | None = None) -> None:
    """Child entry point: ``python -m unlearnkit.bench.scale '<json payload>'`` prints one JSON line."""
    args = json.loads((argv or sys.argv[1:])[0])
    raw = args["config"]
    cfg = ScaleConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    res = _child(args["part"], int(args["n"]), args["paths"], Path(args["work"]), cfg)
    print(json.dumps(res, default=float))


if __name__ == "__main__":
    main()


__all__ = ["ScaleConfig", "run_scale_bench", "write_data"]
