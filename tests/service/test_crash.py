"""Crash safety: ``kill -9`` the server (worker in its thread) or a separate worker process while requests are
queued and one is mid-way; after a restart every acknowledged request completes exactly once, the audit chain
verifies, and the served model holds no deleted id (lineage invariant)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from pathlib import Path

import httpx
from svc_helpers import Proc, Server, auth, harmless_ids, shard_killing_ids, wait_state

from unlearnkit.exact import load_strategy
from unlearnkit.service.signing import load_public_key, verify_envelope


def _lineage_state(model_dir: Path, rid: str) -> str | None:
    con = sqlite3.connect(str(model_dir / "lineage.db"), timeout=30)
    try:
        row = con.execute("SELECT state FROM deletion_requests WHERE id = ?", (rid,)).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def _wait(predicate, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _check_exactly_once(c: httpx.Client, model_dir: Path, rids: list[str]) -> None:
    key = load_public_key(c.get("/v1/keys").json()["keys"][0]["public_key_pem"])
    for rid in rids:
        assert wait_state(c, rid, timeout=90)["state"] == "completed"
        verify_envelope(c.get(f"/v1/deletion-requests/{rid}/receipt", headers=auth("admin")).json(), key)
    audit = c.get("/v1/audit/verify", headers=auth("admin")).json()
    assert audit["ok"], audit["problems"]  # includes: exactly one completion event per completed request
    strategy = load_strategy(model_dir)
    try:
        events = strategy.store.audit_events()
        service_done = Counter(
            e["payload"]["request_id"] for e in events if e["event_type"] == "service.request.completed"
        )
        lineage_done = Counter(e["payload"]["request_id"] for e in events if e["event_type"] == "request.completed")
        assert all(service_done[r] == 1 and lineage_done[r] == 1 for r in rids), (service_done, lineage_done)
        report = strategy.verify()  # hash chain + no active (served) checkpoint saw a deleted id
        assert report.ok, report.problems
        deleted = strategy.store.deleted_ids()
        assert deleted
        seeing = strategy.store.checkpoints_seeing(deleted)
        assert seeing == []
    finally:
        strategy.close()


def test_kill9_server_mid_deletion_then_restart(model_dir: Path, tokens_file: Path, tmp_path: Path, procs):
    log = tmp_path / "server.log"
    # 1) the worker thread stops right after the lineage commit of the first request (mid-way)
    srv = Server(model_dir, tokens_file, log, env={"UNLEARNKIT_FAULT": "after_commit=sleep:120"})
    procs.append(srv)
    srv.wait_ready()
    ids = harmless_ids(model_dir, 3)  # shard 1 keeps serving, whatever shard 0 does
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        first = c.post("/v1/deletion-requests", json={"ids": shard_killing_ids(model_dir)}, headers=auth("alice"))
        rids = [first.json()["id"]]
        _wait(lambda: _lineage_state(model_dir, rids[0]) in ("deactivated", "completed"), what="the first commit")
        for k in range(3):  # acknowledged while the worker is stuck: only queued
            r = c.post("/v1/deletion-requests", json={"ids": [ids[k]]}, headers=auth("bob"))
            assert r.status_code == 202
            rids.append(r.json()["id"])
        assert c.get(f"/v1/deletion-requests/{rids[1]}", headers=auth("bob")).json()["state"] == "received"
    srv.kill9()
    # 2) restart; this time the process dies (os._exit) between the strategy's completion and the service's
    srv = Server(model_dir, tokens_file, log, env={"UNLEARNKIT_FAULT": "after_forget=exit"})
    procs.append(srv)
    _wait(lambda: srv.p.poll() is not None, timeout=90, what="the injected exit")
    assert _lineage_state(model_dir, rids[0]) == "completed"  # the strategy finished, the service did not
    # 3) a clean restart finishes everything exactly once
    srv = Server(model_dir, tokens_file, log)
    procs.append(srv)
    srv.wait_ready()
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        _check_exactly_once(c, model_dir, rids)
    srv.stop()


def test_kill9_separate_worker_then_restart(model_dir: Path, tokens_file: Path, tmp_path: Path, procs):
    srv = Server(model_dir, tokens_file, tmp_path / "server.log", extra=["--no-worker"])
    procs.append(srv)
    srv.wait_ready()
    wlog = tmp_path / "worker.log"
    worker = Proc(["worker", str(model_dir)], wlog, env={"UNLEARNKIT_FAULT": "after_swap=sleep:120"})
    procs.append(worker)
    ids = harmless_ids(model_dir, 2)
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        v0 = c.get("/v1/models/current", headers=auth("predict")).json()["model_version"]
        rids = [
            c.post("/v1/deletion-requests", json={"ids": shard_killing_ids(model_dir)}, headers=auth("alice")).json()[
                "id"
            ]
        ]
        rids += [
            c.post("/v1/deletion-requests", json={"ids": [ids[k]]}, headers=auth("alice")).json()["id"]
            for k in range(2)
        ]
        _wait(
            lambda: _lineage_state(model_dir, rids[0]) in ("deactivated", "completed"),
            timeout=90,
            what="the worker's commit",
        )
        # the server (another process) picks up the deactivation by itself, within its refresh period
        _wait(
            lambda: c.get("/v1/models/current", headers=auth("predict")).json()["model_version"] > v0,
            timeout=10,
            what="the server to refresh",
        )
        worker.kill9()
        assert c.get(f"/v1/deletion-requests/{rids[0]}", headers=auth("alice")).json()["state"] == "unlearning"
        worker = Proc(["worker", str(model_dir)], wlog)
        procs.append(worker)
        _check_exactly_once(c, model_dir, rids)
        final = max(
            c.get(f"/v1/deletion-requests/{r}", headers=auth("alice")).json()["model_version_after"] for r in rids
        )

        def served_version() -> int:
            r = c.post("/v1/predict", json={"instances": [[0.5] * 64]}, headers=auth("predict"))
            assert r.status_code == 200, r.text  # shard 1 always serves: predictions never fail
            return r.json()["model_version"]

        _wait(lambda: served_version() >= final, timeout=10, what="predictions from the final version")
        receipt = c.get(f"/v1/deletion-requests/{rids[0]}/receipt", headers=auth("alice")).json()
        assert json.dumps(receipt)  # served as stored
    worker.stop()
    srv.stop()
