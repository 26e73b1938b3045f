"""Deletions you can trust, with real processes: concurrent ``unlearnkit forget`` writers on one directory, a
server that must see every other process's change before it answers again, and a ``kill -9`` in the middle of
a background retrain."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from svc_helpers import CLI, Proc, Server, auth, harmless_ids, shard_killing_ids, wait_state

from unlearnkit.exact import load_strategy

SLOW_REFRESH = {"UNLEARNKIT_REFRESH_SECONDS": "60"}  # only the per-request check can explain a fresh answer


def _predict_version(c: httpx.Client) -> int:
    r = c.post("/v1/predict", json={"instances": [[0.5] * 64]}, headers=auth("predict"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["guarantee"]
    return body["model_version"]


def test_concurrent_cli_writers_serialise(model_dir: Path, tmp_path: Path):
    import subprocess
    import sys

    ids = [shard_killing_ids(model_dir, shard=0)[0], *harmless_ids(model_dir, 2)]
    v0 = 1
    # every process loads version 1, then waits a second before its commit: without serialisation each would
    # write serving rows planned from version 1
    env = {**__import__("os").environ, "UNLEARNKIT_FAULT": "before_commit=sleep:1", "PYTHONUNBUFFERED": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLI, "forget", str(model_dir), "--ids", str(i), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        for i in ids
    ]
    outs = [p.communicate(timeout=180)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    receipts = [json.loads(o)["receipt"] for o in outs]
    after = sorted(r["model"]["version_after"] for r in receipts)
    assert after == list(range(v0 + 1, v0 + 1 + len(ids)))  # one commit each, none lost
    m = load_strategy(model_dir)  # the directory still loads ("no active checkpoint for prefix" before the fix)
    try:
        assert set(ids) <= m.store.deleted_ids()
        report = m.verify()
        assert report.ok, report.problems
    finally:
        m.close()


def test_server_answers_from_changes_made_by_other_processes(model_dir: Path, tokens_file: Path, tmp_path: Path, procs):
    srv = Server(model_dir, tokens_file, tmp_path / "server.log", env=SLOW_REFRESH)  # worker thread on
    procs.append(srv)
    srv.wait_ready(timeout=180)  # a loaded 2-core machine can take a while to import torch
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        v0 = _predict_version(c)
        cli = Proc(["forget", str(model_dir), "--ids", str(harmless_ids(model_dir, 1)[0]), "--json"], tmp_path / "f")
        assert cli.p.wait(120) == 0, cli.tail()
        cli.stop()
        after = json.loads(cli.log.read_text())["receipt"]["model"]["version_after"]
        assert after > v0
        assert _predict_version(c) == after  # the very next answer, not 60 s later
        ready = c.get("/readyz").json()
        assert ready == {"status": "ready", "checks": {}}
    srv.stop()


def test_kill9_mid_retrain_leaves_no_orphans_and_is_served_at_once(
    model_dir: Path, tokens_file: Path, tmp_path: Path, procs
):
    srv = Server(model_dir, tokens_file, tmp_path / "server.log", env=SLOW_REFRESH, extra=["--no-worker"])
    procs.append(srv)
    srv.wait_ready(timeout=180)  # a loaded 2-core machine can take a while to import torch
    wlog = tmp_path / "worker.log"
    worker = Proc(["worker", str(model_dir)], wlog, env={"UNLEARNKIT_FAULT": "mid_retrain=exit"})
    procs.append(worker)
    registered = {p.name for p in (model_dir / "checkpoints").glob("*.safetensors")}
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        rid = c.post("/v1/deletion-requests", json={"ids": shard_killing_ids(model_dir)}, headers=auth("alice")).json()[
            "id"
        ]
        done = wait_state(c, rid, who="alice", timeout=90)
        assert _predict_version(c) >= done["model_version_after"]  # a separate worker's change, served at once
        deadline = time.monotonic() + 90
        while worker.p.poll() is None:  # the worker dies with retrained files written but not committed
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.2)
        orphans = {p.name for p in (model_dir / "checkpoints").glob("*.safetensors")} - registered
        assert orphans, "the crash should have left unregistered checkpoint files"
        worker = Proc(["worker", str(model_dir)], wlog)
        procs.append(worker)
        deadline = time.monotonic() + 90
        while c.get("/v1/models/current", headers=auth("predict")).json()["pending_retrain"]:
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.2)
        audit = c.get("/v1/audit/verify", headers=auth("admin")).json()
        assert audit["ok"], audit["problems"]
    m = load_strategy(model_dir)
    try:
        listed = {c.key for c in m.store.checkpoints(None) if c.status in ("active", "retired")}
        on_disk = {p.name.removesuffix(".safetensors") for p in (model_dir / "checkpoints").glob("*.safetensors")}
        assert on_disk <= listed  # no file the store does not name
        assert m.verify().ok
    finally:
        m.close()
    worker.stop()
    srv.stop()
