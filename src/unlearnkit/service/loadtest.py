"""A bounded load test of the deletion service on loopback: predict latency idle vs during a deletion storm.

A real server (``unlearnkit serve``; the worker in its thread, or as its own process with
``worker_process``) runs in a subprocess on ``127.0.0.1``. Phase 1 ("idle"): ``clients`` threads each make
``predictions`` predict calls. Phase 2 ("storm"): the same predict load while one more thread submits
``deletions`` deletion requests of one id each, interleaved evenly with the predictions; the worker
deactivates (S3T) or drops shards from the vote (SISA) and retrains dead shards in the background meanwhile.

The storm's ids are drawn uniformly at random (seeded) from the training ids: nothing steers them away from the
slices that kill shards, so the storm does kill whole ensembles; predictions must keep coming (from the
public-data fallback while every shard awaits retraining). Reported: p50/p99 predict latency of both phases and
their ratio from this one run, the status of every predict (503s and other 5xx counted apart), which guarantee
answered, and how long the requests took to complete.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.errors import ConfigError

CLI = "import sys; from unlearnkit.cli import main; sys.argv[0] = 'unlearnkit'; main()"


@dataclass
class LoadConfig:
    clients: int = 4
    predictions: int = 500
    deletions: int = 200
    batch: int = 1
    strategy: str = "s3t"
    worker_process: bool = False
    seed: int = 0
    timeout_s: float = 600.0

    def validate(self) -> None:
        if not (1 <= self.clients <= 64 and 1 <= self.predictions <= 100_000 and 0 <= self.deletions <= 10_000):
            raise ConfigError("clients in [1, 64], predictions in [1, 100000], deletions in [0, 10000]")
        if self.strategy not in ("s3t", "sisa", "standard"):
            raise ConfigError(f"strategy must be s3t, sisa or standard, got {self.strategy!r}")


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms, dtype=np.float64)
    if not len(a):
        return {"n": 0}
    return {
        "n": len(a),
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "mean_ms": float(a.mean()),
        "max_ms": float(a.max()),
    }


def _train(strategy: str, directory: Path, seed: int) -> None:
    from unlearnkit.data import load_digits

    bundle = load_digits(seed=seed)
    if strategy == "standard":
        import torch

        from unlearnkit.models import ModelSpec, build_model
        from unlearnkit.models.io import save_model
        from unlearnkit.models.train import train_epochs

        spec = ModelSpec(arch="resmlp", in_features=bundle.num_features, num_classes=bundle.num_classes, width=64)
        model = build_model(spec, seed=seed)
        train_epochs(
            model,
            model.parameters(),
            bundle.train.x,
            bundle.train.y,
            epochs=10,
            lr=1e-2,
            batch_size=64,
            generator=torch.Generator().manual_seed(seed),
        )
        save_model(
            directory, model, spec, {"data": {"spec": "digits", "seed": seed, "public": None, "public_fraction": None}}
        )
        return
    from unlearnkit.exact import S3T, SISA

    cls, kwargs = (S3T, {"budget": 2}) if strategy == "s3t" else (SISA, {})
    model = cls(shards=4, slices=4, epochs=4, width=64, seed=seed, **kwargs)
    model.fit(bundle.train, public=bundle.public, directory=directory)
    model.close()


def _storm_ids(directory: Path, cfg: LoadConfig) -> list[list[int]]:
    """One id per storm request, uniformly at random (seeded) from the training ids."""
    from unlearnkit.lineage import LineageStore
    from unlearnkit.service.backends import model_secret

    store = LineageStore(f"sqlite:///{directory / 'lineage.db'}", model_secret(directory))
    try:
        ids = sorted(store.assignment())
    finally:
        store.close()
    rng = random.Random(cfg.seed)
    return [[i] for i in rng.sample(ids, min(cfg.deletions, len(ids)))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_load_test(
    out: str | Path, cfg: LoadConfig, *, model_dir: str | Path | None = None, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run both phases against a fresh server; writes ``results.json`` and ``results.md`` under ``out``."""
    import httpx

    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="unlearnkit-load-"))
    directory = work / "model"
    try:
        if model_dir is not None:
            shutil.copytree(model_dir, directory)
        else:
            echo(f"training a {cfg.strategy} model on digits ...")
            _train(cfg.strategy, directory, cfg.seed)
        token = "bench-admin-" + os.urandom(12).hex()
        (work / "tokens").write_text(f"admin:{token}:bench\n")
        port = _free_port()
        log = (work / "server.log").open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        serve = [sys.executable, "-c", CLI, "serve", str(directory), "--port", str(port)]
        serve += ["--tokens", str(work / "tokens"), "--log-level", "warning"]
        if cfg.worker_process:
            serve.append("--no-worker")
        server = subprocess.Popen(serve, stdout=log, stderr=subprocess.STDOUT, env=env)
        worker = None
        if cfg.worker_process:
            worker_cmd = [sys.executable, "-c", CLI, "worker", str(directory)]
            worker = subprocess.Popen(worker_cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        try:
            deadline = time.monotonic() + 180
            while True:
                if server.poll() is not None:
                    raise ConfigError(f"the server exited: {(work / 'server.log').read_text()[-2000:]}")
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ConfigError("the server did not become ready within 180 s")
                time.sleep(0.2)
            info = httpx.get(f"{base}/v1/models/current", headers=headers).json()
            from unlearnkit.data import load_digits

            pool = load_digits(seed=cfg.seed).test.x.numpy()
            storm_ids = _storm_ids(directory, cfg) if cfg.deletions else []
            result = _phases(base, headers, pool, storm_ids, cfg, echo)
        finally:
            for p in (server, worker):
                if p is None:
                    continue
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
            log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    idle, storm = result["idle"], result["storm"]
    result["ratio"] = {
        "p50": storm["p50_ms"] / idle["p50_ms"] if idle.get("n") and storm.get("n") else None,
        "p99": storm["p99_ms"] / idle["p99_ms"] if idle.get("n") and storm.get("n") else None,
    }
    result.update(config=asdict(cfg), model=info, cpu_count=os.cpu_count())
    result["markdown"] = _markdown(result)
    (out / "results.json").write_text(json.dumps({k: v for k, v in result.items() if k != "markdown"}, indent=2))
    (out / "results.md").write_text(result["markdown"] + "\n")
    return result


def _phases(
    base: str,
    headers: dict[str, str],
    pool: np.ndarray,
    storm_ids: list[list[int]],
    cfg: LoadConfig,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    import httpx

    def predict_load(phase: str, progress: list[int], lock: threading.Lock) -> dict[str, Any]:
        latencies: list[float] = []
        errors = [0]
        versions: set[int] = set()
        statuses: dict[str, int] = {}
        guarantees: dict[str, int] = {}

        def client(k: int) -> None:
            rng = np.random.default_rng([cfg.seed, k, len(phase)])
            with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
                for _ in range(cfg.predictions):
                    rows = pool[rng.integers(0, len(pool), cfg.batch)].tolist()
                    t = time.perf_counter()
                    try:
                        r = c.post("/v1/predict", json={"instances": rows})
                        code = str(r.status_code)
                    except httpx.HTTPError:
                        code = "transport"
                    dt = (time.perf_counter() - t) * 1e3
                    with lock:
                        progress[0] += 1
                        statuses[code] = statuses.get(code, 0) + 1
                        if code == "200":
                            latencies.append(dt)
                            body = r.json()
                            versions.add(body["model_version"])
                            guarantees[body["guarantee"]] = guarantees.get(body["guarantee"], 0) + 1
                        else:
                            errors[0] += 1

        threads = [threading.Thread(target=client, args=(k,)) for k in range(cfg.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {
            "ms": latencies,
            "errors": errors[0],
            "versions": versions,
            "statuses": statuses,
            "guarantees": guarantees,
            "503": statuses.get("503", 0),
            "5xx": sum(n for k, n in statuses.items() if k.startswith("5")),
        }

    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:  # warm-up
        for k in range(20):
            c.post("/v1/predict", json={"instances": pool[k : k + cfg.batch].tolist()})
    lock = threading.Lock()
    echo(f"idle phase: {cfg.clients} clients × {cfg.predictions} predictions")
    t0 = time.perf_counter()
    idle = predict_load("idle", [0], lock)
    idle_s = time.perf_counter() - t0

    echo(f"storm phase: the same load with {len(storm_ids)} deletion requests interleaved")
    progress = [0]
    submitted: list[tuple[str, float]] = []
    submit_errors = [0]
    stop = threading.Event()
    total = cfg.clients * cfg.predictions

    def deleter() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            for k, ids in enumerate(storm_ids):
                due = (k * total) // max(1, len(storm_ids))
                while progress[0] < due and not stop.is_set():
                    time.sleep(0.001)
                try:
                    r = c.post("/v1/deletion-requests", json={"ids": ids})
                    if r.status_code == 202:
                        submitted.append((r.json()["id"], time.time()))
                    else:
                        submit_errors[0] += 1
                except httpx.HTTPError:
                    submit_errors[0] += 1

    d = threading.Thread(target=deleter)
    t0 = time.perf_counter()
    d.start()
    storm = predict_load("storm", progress, lock)
    stop.set()
    d.join()
    storm_s = time.perf_counter() - t0

    echo("waiting for every request to complete ...")
    states: dict[str, int] = {}
    completion_ms: list[float] = []
    errors_seen: list[str] = []
    deadline = time.monotonic() + cfg.timeout_s
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        pending = {rid for rid, _ in submitted}
        while pending and time.monotonic() < deadline:
            for rid in sorted(pending):
                body = c.get(f"/v1/deletion-requests/{rid}").json()
                if body["state"] in ("completed", "rejected", "failed") and not body.get("next_attempt_at"):
                    pending.discard(rid)
                    states[body["state"]] = states.get(body["state"], 0) + 1
                    if body.get("last_error") and len(errors_seen) < 5:
                        errors_seen.append(body["last_error"])
                    if body["state"] == "completed":
                        from datetime import datetime

                        rec = datetime.fromisoformat(body["received_at"].replace("Z", "+00:00"))
                        done = datetime.fromisoformat(body["completed_at"].replace("Z", "+00:00"))
                        completion_ms.append((done - rec).total_seconds() * 1e3)
            if pending:
                time.sleep(0.2)
        states["unfinished"] = len(pending)
        audit = c.get("/v1/audit/verify").json()
        final = c.get("/v1/models/current").json()

    def phase(p: dict[str, Any], seconds: float) -> dict[str, Any]:
        return {
            **_percentiles(p["ms"]),
            "errors": p["errors"],
            "status_503": p["503"],
            "status_5xx": p["5xx"],
            "statuses": p["statuses"],
            "guarantees": p["guarantees"],
            "seconds": seconds,
            "throughput_rps": len(p["ms"]) / seconds if seconds else None,
            "model_versions_seen": len(p["versions"]),
        }

    return {
        "idle": phase(idle, idle_s),
        "storm": phase(storm, storm_s),
        "deletions": {
            "submitted": len(submitted),
            "submit_errors": submit_errors[0],
            "outcomes": states,
            "completion": _percentiles(completion_ms),
            "errors": errors_seen,
        },
        "final_model_version": final["model_version"],
        "audit_ok": audit["ok"],
        "audit_problems": audit["problems"][:5],
    }


def _markdown(r: dict[str, Any]) -> str:
    i, s, d = r["idle"], r["storm"], r["deletions"]
    ratio = r["ratio"]

    def f(x: Any) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    lines = [
        f"## Deletion service load test ({r['config']['strategy']}, {r['config']['clients']} clients × "
        f"{r['config']['predictions']} predictions per phase, {d['submitted']} deletions in the storm, "
        f"{r['cpu_count']} CPUs)",
        "",
        "| phase | predictions ok | 503 | other 5xx | other errors | p50 ms | p99 ms | mean ms | req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {name} | {p['n']} | {p['status_503']} | {p['status_5xx'] - p['status_503']} | "
            f"{p['errors'] - p['status_5xx']} | {f(p.get('p50_ms'))} | {f(p.get('p99_ms'))} | {f(p.get('mean_ms'))} "
            f"| {f(p.get('throughput_rps'))} |"
            for name, p in (("idle", i), ("storm", s))
        ],
        f"| storm / idle | | | | | {f(ratio['p50'])} | {f(ratio['p99'])} | | |",
        "",
        f"Targets: 0 × 503 in the storm (got {s['status_503']}), predict p99 storm/idle ≤ 1.5 (got {f(ratio['p99'])}). "
        f"Guarantees that answered during the storm: {s['guarantees']}.",
        "",
        f"Deletions: {d['submitted']} accepted, {d['submit_errors']} submit errors, outcomes {d['outcomes']}; "
        f"receipt-to-completion p50 {f(d['completion'].get('p50_ms'))} ms, p99 {f(d['completion'].get('p99_ms'))} ms. "
        f"Model versions seen by predictions during the storm: {s['model_versions_seen']}; final version "
        f"{r['final_model_version']}; audit chain and lineage {'verify' if r['audit_ok'] else 'FAIL'}.",
    ]
    return "\n".join(lines)
