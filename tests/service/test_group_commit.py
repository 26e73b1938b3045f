"""Group commit: K deletion requests queued while the worker is away are committed together — one call of the
backend's ``forget_many`` (one lineage transaction when the strategy has it) — and each gets its own signed
receipt; the deletions/s gauge sees them."""

from __future__ import annotations

from pathlib import Path

from svc_helpers import auth, harmless_ids

from unlearnkit.service.signing import load_public_key, verify_envelope
from unlearnkit.service.worker import Worker


def test_queued_requests_commit_together_with_one_receipt_each(model_dir: Path, make_client):
    c = make_client(model_dir, run_worker=False, metrics_public=True)
    svc = c.app.state.svc
    ids = harmless_ids(model_dir, 4)
    v0 = svc.backend.model_version
    rids = [
        c.post("/v1/deletion-requests", json={"ids": [i]}, headers=auth("alice" if k % 2 else "bob")).json()["id"]
        for k, i in enumerate(ids)
    ]
    real, groups = svc.backend.forget_many, []

    def spy(calls):
        groups.append([call.request_id for call in calls])
        return real(calls)

    svc.backend.forget_many = spy
    assert Worker(svc).drain() == len(rids)
    assert groups == [rids]  # one group, in arrival order
    key = load_public_key(c.get("/v1/keys").json()["keys"][0]["public_key_pem"])
    versions = []
    for rid, k in zip(rids, range(len(rids)), strict=True):
        who = "alice" if k % 2 else "bob"
        body = c.get(f"/v1/deletion-requests/{rid}", headers=auth(who)).json()
        assert body["state"] == "completed" and body["count"] == 1
        envelope = c.get(f"/v1/deletion-requests/{rid}/receipt", headers=auth(who)).json()
        verify_envelope(envelope, key)
        assert envelope["receipt"]["request"]["id"] == rid
        versions.append((body["model_version_before"], body["model_version_after"]))
    assert versions[0][0] == v0 and all(a < b for a, b in versions)  # each request its own version step
    assert svc.backend.unknown_ids(ids) == [] and set(ids) <= svc.store.deleted_ids()
    metrics = c.get("/metrics").text
    assert "unlearnkit_deletions_completed_total 4.0" in metrics
    assert 'unlearnkit_deletions_per_second{window="60s"}' in metrics


def test_group_commit_off_runs_one_request_per_call(model_dir: Path, make_client):
    c = make_client(model_dir, run_worker=False, group_commit=1)
    svc = c.app.state.svc
    rids = [
        c.post("/v1/deletion-requests", json={"ids": [i]}, headers=auth("alice")).json()["id"]
        for i in harmless_ids(model_dir, 2)
    ]
    real, groups = svc.backend.forget_many, []
    svc.backend.forget_many = lambda calls: groups.append(len(calls)) or real(calls)
    assert Worker(svc).drain() == 2 and groups == [1, 1]
    assert all(c.get(f"/v1/deletion-requests/{r}", headers=auth("alice")).json()["state"] == "completed" for r in rids)
