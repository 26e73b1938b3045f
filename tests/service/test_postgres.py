"""The whole service on PostgreSQL (marker ``postgres``): lineage, service tables and queue on one server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from svc_helpers import auth, wait_state

from unlearnkit.data import load_digits

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_model(pg_fresh: str, tmp_path: Path) -> tuple[Path, str]:
    from unlearnkit.exact import S3T

    torch.set_num_threads(1)
    bundle = load_digits(seed=0)
    d = tmp_path / "model"
    s = S3T(shards=2, slices=2, budget=2, epochs=1, batch_size=32, width=32, backbone_epochs=2, lora_rank=2, seed=0)
    s.fit(bundle.train.take(list(range(120))), public=bundle.public, directory=d, db_url=pg_fresh)
    s.close()
    return d, pg_fresh


def test_service_on_postgres(pg_model: tuple[Path, str], make_client):
    model_dir, url = pg_model
    c = make_client(model_dir, db_url=url)
    svc = c.app.state.svc
    assert svc.store.engine.dialect.name == "postgresql"
    assignment = svc.store.assignment()
    killers = sorted({sl: i for i, (sh, sl) in sorted(assignment.items(), reverse=True) if sh == 0}.values())
    ids = [i for i in sorted(assignment) if i not in killers][:2]
    # concurrent retries with one Idempotency-Key make one request
    results: list[str] = []

    def submit() -> None:
        r = c.post("/v1/deletion-requests", json={"ids": ids[:2]}, headers={**auth("alice"), "Idempotency-Key": "k"})
        results.append(r.json()["id"])

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    rids = [results[0]]
    rids.append(c.post("/v1/deletion-requests", json={"ids": killers}, headers=auth("bob")).json()["id"])
    for rid in rids:
        assert wait_state(c, rid, timeout=60)["state"] == "completed"
    assert (
        c.get(f"/v1/deletion-requests/{rids[1]}/receipt", headers=auth("bob")).json()["receipt"]["model"][
            "retrain_pending"
        ]
        or c.get("/v1/models/current", headers=auth("predict")).json()["model_version"] > 3
    )
    audit = c.get("/v1/audit/verify", headers=auth("admin")).json()
    assert audit["ok"] and audit["receipts_checked"] == 2, audit
    assert c.get("/readyz").status_code == 200


def test_openapi_fuzz_on_postgres(pg_model: tuple[Path, str], make_client):
    """The schemathesis run against a PostgreSQL-backed service (NUL bytes, huge ids, … must stay 4xx there too)."""
    pytest.importorskip("schemathesis")
    from test_schemathesis import fuzz_openapi

    model_dir, url = pg_model
    c = make_client(model_dir, db_url=url, run_worker=False, max_ids=50, max_instances=16)
    statuses = fuzz_openapi(c.app, max_examples=15)
    assert statuses[200] > 10 and set(statuses) < set(range(200, 500)), statuses


def test_commit_lineage_guard_on_postgres(pg_model: tuple[Path, str]):
    """The guard inside a deletion's commit, in its PostgreSQL form (the Core join, not SQLite's spelled-out
    order): a plan that leaves a checkpoint trained on the id active is refused and writes nothing."""
    from tests.lineage_guard import refused_by_commit_guard
    from unlearnkit.exact import load_strategy

    model_dir, url = pg_model
    m = load_strategy(model_dir, db_url=url)
    try:
        assert m.store.engine.dialect.name == "postgresql"
        refused_by_commit_guard(m.store, sorted(m.assignment_)[0])
        assert m.forget([sorted(m.assignment_)[0]]).count == 1  # the real plan retires them: accepted
    finally:
        m.close()
