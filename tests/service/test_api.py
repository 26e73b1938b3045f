"""The HTTP API in-process (TestClient, real tiny S3T model): auth, lifecycle, idempotency, bad input, admin."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from svc_helpers import auth, shard_killing_ids, wait_state

from unlearnkit.lineage.store import utcnow
from unlearnkit.service.backends import forget_each
from unlearnkit.service.models import Job, ServiceRequest
from unlearnkit.service.signing import load_public_key, verify_envelope


def _count(client, model=ServiceRequest) -> int:
    svc = client.app.state.svc
    with svc.store.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_submit_complete_receipt_and_retrain_followup(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir)
    ids = [*shard_killing_ids(model_dir), s3t_data.id_list()[-1]]
    before = c.get("/v1/models/current", headers=auth("predict")).json()
    r = c.post("/v1/deletion-requests", json={"ids": ids}, headers=auth("alice"))
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == {"id", "state", "due_at"} and body["state"] == "received"
    assert r.headers["location"] == f"/v1/deletion-requests/{body['id']}"
    done = wait_state(c, body["id"], who="alice")
    assert done["guarantee"] == "exact-deactivate" and done["model_version_after"] > before["model_version"]
    assert done["count"] == 3 and done["submitter"] == "alice" and not done["overdue"]
    env = c.get(f"/v1/deletion-requests/{body['id']}/receipt", headers=auth("alice")).json()
    key = c.get("/v1/keys").json()["keys"][0]
    verify_envelope(env, load_public_key(key["public_key_pem"]))
    rec = env["receipt"]
    assert rec["request"]["id"] == body["id"] and rec["guarantee"]["level"] == "exact"
    assert rec["erased"]["count"] == 3 and len(rec["erased"]["id_hashes"]) == 3
    assert all(len(h) == 64 and h not in {str(i) for i in ids} for h in rec["erased"]["id_hashes"])
    assert rec["request"]["due_at"] == body["due_at"]
    # shard 0 serves nothing until retrained: pending in revision 1, or already retrained (revision 2)
    assert rec["model"]["retrain_pending"] or len(rec["followups"]) == 1
    # no layout, no plain content hashes, no external reference in clear (the receipt is public)
    text = json.dumps(rec)
    assert "shard" not in text and "content_hash" not in text and "slice" not in text
    assert rec["audit_head"]["seq"] > 0 and len(rec["audit_head"]["hash"]) == 64
    # the dead shard is retrained in the background; the receipt gains a signed follow-up
    deadline = time.monotonic() + 30
    while c.get("/v1/models/current", headers=auth("predict")).json()["pending_retrain"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    deadline = time.monotonic() + 10
    while not (env := c.get(f"/v1/deletion-requests/{body['id']}/receipt", headers=auth("alice")).json())["receipt"][
        "followups"
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    verify_envelope(env, load_public_key(key["public_key"]))
    assert env["receipt"]["revision"] == 2 and env["receipt"]["model"]["retrain_pending"] is False
    audit = c.get("/v1/audit/verify", headers=auth("admin")).json()
    assert audit["ok"], audit["problems"]
    assert audit["receipts_checked"] == 1
    p = c.post("/v1/predict", json={"instances": s3t_data.x[:2].tolist()}, headers=auth("predict")).json()
    assert p["model_version"] == env["receipt"]["followups"][0]["model_version"]
    assert len(p["predictions"]) == 2 and all(abs(sum(row) - 1) < 1e-4 for row in p["probabilities"])


def test_auth_roles_and_isolation(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir, run_worker=False)
    x = {"instances": s3t_data.x[:1].tolist()}
    assert c.post("/v1/predict", json=x).status_code == 401
    assert c.post("/v1/predict", json=x, headers={"Authorization": "Bearer nope-nope-nope-nope"}).status_code == 401
    assert c.post("/v1/predict", json=x, headers={"Authorization": "Basic abc"}).status_code == 401
    assert c.post("/v1/predict", json=x, headers=auth("predict")).status_code == 200
    assert (
        c.post("/v1/deletion-requests", json={"ids": [s3t_data.id_list()[0]]}, headers=auth("predict")).status_code
        == 403
    )
    assert c.get("/v1/audit/verify", headers=auth("alice")).status_code == 403
    r = c.post("/v1/deletion-requests", json={"ids": [s3t_data.id_list()[0]]}, headers=auth("alice"))
    rid = r.json()["id"]
    assert c.get(f"/v1/deletion-requests/{rid}", headers=auth("alice")).status_code == 200
    assert c.get(f"/v1/deletion-requests/{rid}", headers=auth("bob")).status_code == 404
    assert c.get(f"/v1/deletion-requests/{rid}/receipt", headers=auth("bob")).status_code == 404
    assert c.get(f"/v1/deletion-requests/{rid}", headers=auth("admin")).status_code == 200
    assert c.get("/v1/deletion-requests", headers=auth("bob")).json()["total"] == 0
    assert c.get("/v1/deletion-requests", headers=auth("alice")).json()["total"] == 1
    assert c.get(f"/v1/deletion-requests/{rid}/receipt", headers=auth("alice")).status_code == 409  # not done
    assert c.get("/v1/keys").status_code == 200 and c.get("/healthz").json()["status"] == "ok"


def test_idempotency_key_and_external_ref(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir, run_worker=False)
    a, b = s3t_data.id_list()[:2]
    h = {**auth("alice"), "Idempotency-Key": "k-1"}
    r1 = c.post("/v1/deletion-requests", json={"ids": [a, b]}, headers=h)
    r2 = c.post("/v1/deletion-requests", json={"ids": [b, a, a]}, headers=h)  # same request, other spelling
    assert r1.status_code == r2.status_code == 202 and r1.json()["id"] == r2.json()["id"]
    assert r2.headers["idempotent-replayed"] == "true"
    assert c.post("/v1/deletion-requests", json={"ids": [a]}, headers=h).status_code == 409
    # the same key from another submitter is another request
    r3 = c.post("/v1/deletion-requests", json={"ids": [a, b]}, headers={**auth("bob"), "Idempotency-Key": "k-1"})
    assert r3.status_code == 202 and r3.json()["id"] != r1.json()["id"]
    e1 = c.post("/v1/deletion-requests", json={"ids": [a], "external_ref": "case-7"}, headers=auth("alice"))
    e2 = c.post("/v1/deletion-requests", json={"ids": [a], "external_ref": "case-7"}, headers=auth("alice"))
    assert e1.json()["id"] == e2.json()["id"]
    assert (
        c.post("/v1/deletion-requests", json={"ids": [b], "external_ref": "case-7"}, headers=auth("alice")).status_code
        == 409
    )
    # references are scoped to their submitter: bob's "case-7" is his own request, alice's stays hers
    e3 = c.post("/v1/deletion-requests", json={"ids": [b], "external_ref": "case-7"}, headers=auth("bob"))
    assert e3.status_code == 202 and e3.json()["id"] != e1.json()["id"]
    assert _count(c) == 4 and _count(c, Job) == 4


def test_bad_input_is_4xx_and_writes_nothing(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir, run_worker=False, max_body_bytes=4096, max_ids=5, max_instances=3)
    h = auth("admin")
    known = s3t_data.id_list()
    unknown = max(known) + 10_000
    cases = [
        ({"ids": [known[0], unknown]}, 422, "unknown sample id"),
        ({"owner": "nobody-at-all"}, 422, "unknown owner"),
        ({"ids": [known[0]], "owner": s3t_data.owners[0]}, 422, "exactly one"),
        ({}, 422, "exactly one"),
        ({"ids": []}, 422, None),
        ({"ids": ["1"]}, 422, None),
        ({"ids": [1.5]}, 422, None),
        ({"ids": [2**64]}, 422, None),
        ({"ids": known[:6]}, 422, "at most 5 ids"),
        ({"owner": "a\x00b"}, 422, None),
        ({"ids": [known[0]], "extra": 1}, 422, None),
    ]
    for body, code, text in cases:
        r = c.post("/v1/deletion-requests", json=body, headers=h)
        assert r.status_code == code, (body, r.text)
        if text:
            assert text in r.text, r.text
    r = c.post("/v1/deletion-requests", content=b"{not json", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422
    r = c.post("/v1/deletion-requests", json={"ids": list(range(2000))}, headers=h)
    assert r.status_code == 413
    chunks = (b'{"ids": [' + b"1," * 3000 + b"1]}",)
    r = c.post("/v1/deletion-requests", content=iter(chunks), headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert (
        c.post(
            "/v1/deletion-requests", json={"ids": [known[0]]}, headers={**h, "Idempotency-Key": "bad\x01key"}
        ).status_code
        == 422
    )
    assert _count(c) == 0 and _count(c, Job) == 0  # nothing was written
    # predict
    ok = s3t_data.x[:1].tolist()
    assert c.post("/v1/predict", json={"instances": ok * 4}, headers=h).status_code == 422
    assert "features" in c.post("/v1/predict", json={"instances": [[0.0] * 3]}, headers=h).text
    assert c.post("/v1/predict", json={"instances": []}, headers=h).status_code == 422
    assert c.post("/v1/predict", json={"instances": [[1e300] * 64]}, headers=h).status_code == 422
    nan = b'{"instances": [[' + b",".join([b"NaN"] * 64) + b"]]}"
    assert c.post("/v1/predict", content=nan, headers={**h, "Content-Type": "application/json"}).status_code == 422
    assert c.post("/v1/predict", json={"instances": [["x"] * 64]}, headers=h).status_code == 422
    assert c.post("/v1/predict", json={"instances": ok}, headers=h).status_code == 200


def test_owner_request_and_already_forgotten(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir)
    owner = s3t_data.owners[0]
    mine = [i for i, o in zip(s3t_data.id_list(), s3t_data.owners, strict=True) if o == owner]
    r = c.post("/v1/deletion-requests", json={"owner": owner}, headers=auth("alice"))
    assert r.status_code == 202
    done = wait_state(c, r.json()["id"], who="alice")
    assert done["kind"] == "owner" and done["count"] == len(mine)
    svc = c.app.state.svc
    with svc.store.session() as s:
        assert s.get(ServiceRequest, done["id"]).owner is None  # the subject's identifier is erased
    assert set(mine) <= svc.store.deleted_ids()
    again = c.post("/v1/deletion-requests", json={"ids": mine[:1]}, headers=auth("alice")).json()
    done2 = wait_state(c, again["id"], who="alice")
    rec = c.get(f"/v1/deletion-requests/{again['id']}/receipt", headers=auth("alice")).json()["receipt"]
    assert rec["erased"]["count"] == 1 and rec["model"]["version_before"] == rec["model"]["version_after"]
    assert "already_forgotten" not in rec["erased"]  # erased now, earlier or never held: not told apart
    assert done2["state"] == "completed"


def test_admin_extend_reject_and_overdue(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir, run_worker=False)
    ids = s3t_data.id_list()
    r1 = c.post("/v1/deletion-requests", json={"ids": ids[:1]}, headers=auth("alice")).json()
    r2 = c.post("/v1/deletion-requests", json={"ids": ids[1:2]}, headers=auth("alice")).json()
    base = f"/v1/admin/deletion-requests/{r1['id']}"
    assert c.post(f"{base}/extend", json={"months": 1, "reason": "x"}, headers=auth("alice")).status_code == 403
    assert c.post(f"{base}/extend", json={"months": 3, "reason": "x"}, headers=auth("admin")).status_code == 422
    assert c.post(f"{base}/extend", json={"months": 1, "reason": ""}, headers=auth("admin")).status_code == 422
    e = c.post(f"{base}/extend", json={"months": 1, "reason": "numerous requests"}, headers=auth("admin"))
    assert e.status_code == 200 and e.json()["extended_until"] > e.json()["due_at"]
    e = c.post(f"{base}/extend", json={"months": 1, "reason": "still complex"}, headers=auth("admin")).json()
    assert e["deadline"] == e["extended_until"] and "still complex" in e["extension_reason"]
    assert c.post(f"{base}/extend", json={"months": 1, "reason": "more"}, headers=auth("admin")).status_code == 409
    assert (
        c.post(
            "/v1/admin/deletion-requests/nope/extend", json={"months": 1, "reason": "r"}, headers=auth("admin")
        ).status_code
        == 404
    )
    rej = c.post(
        f"/v1/admin/deletion-requests/{r2['id']}/reject",
        json={"reason": "Art. 17(3)(b) legal obligation"},
        headers=auth("admin"),
    )
    assert rej.status_code == 200 and rej.json()["state"] == "rejected"
    assert (
        c.post(
            f"/v1/admin/deletion-requests/{r2['id']}/reject", json={"reason": "again"}, headers=auth("admin")
        ).status_code
        == 409
    )
    assert (
        c.post(
            f"/v1/admin/deletion-requests/{r2['id']}/extend", json={"months": 1, "reason": "r"}, headers=auth("admin")
        ).status_code
        == 409
    )
    # make r1 overdue: its (extended) deadline passed
    svc = c.app.state.svc
    with svc.store.session() as s:
        s.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id == r1["id"])
            .values(due_at=utcnow() - timedelta(days=100), extended_until=utcnow() - timedelta(days=1))
        )
    late = c.get("/v1/deletion-requests?overdue=true", headers=auth("admin")).json()
    assert [i["id"] for i in late["items"]] == [r1["id"]] and late["items"][0]["overdue"]
    assert c.get("/v1/deletion-requests?state=rejected", headers=auth("admin")).json()["items"][0]["id"] == r2["id"]
    assert c.get("/v1/deletion-requests?state=bogus", headers=auth("admin")).status_code == 422
    assert c.post(f"{base}/extend", json={"months": 1, "reason": "late"}, headers=auth("admin")).status_code == 409
    events = [e["event_type"] for e in svc.store.audit_events()]
    assert events.count("service.request.extended") == 2 and events.count("service.request.rejected") == 1
    with svc.store.session() as s:
        assert s.execute(select(Job.state).where(Job.request_id == r2["id"])).scalar_one() == "cancelled"


def test_failures_retry_with_backoff_then_give_up(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir, max_attempts=2, backoff_seconds=0.2)
    svc = c.app.state.svc
    real = svc.backend.forget
    calls: list[int] = []

    def flaky(*args, **kwargs):
        calls.append(kwargs["attempt"])
        if len(calls) in (1, 2, 3):
            raise RuntimeError("transient storage error")
        return real(*args, **kwargs)

    svc.backend.forget = flaky
    svc.backend.forget_many = lambda calls: forget_each(svc.backend, calls)  # through `flaky`, one by one
    rid = c.post("/v1/deletion-requests", json={"ids": s3t_data.id_list()[:1]}, headers=auth("alice")).json()["id"]
    failed = wait_state(c, rid, ("failed",), who="alice")
    assert failed["last_error"].startswith("RuntimeError") and failed["attempts"] >= 1
    final = wait_state(c, rid, ("failed",), who="alice")
    deadline = time.monotonic() + 10
    # the last attempt has failed once the request is `failed` with no retry scheduled (between attempts it
    # passes through planned/unlearning with no next_attempt_at)
    while True:
        final = c.get(f"/v1/deletion-requests/{rid}", headers=auth("alice")).json()
        if final["state"] == "failed" and not final["next_attempt_at"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert final["state"] == "failed" and final["attempts"] == 2 and calls == [1, 2]
    r = c.post(f"/v1/admin/deletion-requests/{rid}/retry", headers=auth("admin"))
    assert r.status_code == 200
    wait_state(c, rid, ("failed",), who="alice")  # the third call fails too...
    done = wait_state(c, rid, who="alice")  # ...and the retried job's second attempt succeeds
    assert done["state"] == "completed" and len(calls) == 4
    assert c.post(f"/v1/admin/deletion-requests/{rid}/retry", headers=auth("admin")).status_code == 409
    audit = c.get("/v1/audit/verify", headers=auth("admin")).json()
    assert audit["ok"], audit["problems"]


@pytest.mark.parametrize("broken", ["tokens", "key"])
def test_startup_refuses_bad_config(model_dir: Path, tmp_path: Path, broken: str):
    from fastapi.testclient import TestClient

    from unlearnkit.errors import ConfigError
    from unlearnkit.service.app import create_app
    from unlearnkit.service.settings import Settings

    bad = tmp_path / "bad"
    if broken == "tokens":
        bad.write_text("root:tooshort\n")
        settings = Settings(model_dir=model_dir, tokens_file=bad)
    else:
        bad.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        bad.chmod(0o600)
        settings = Settings(model_dir=model_dir, key_path=bad)
    with pytest.raises(ConfigError), TestClient(create_app(settings)):
        pass


def test_sisa_shard_leaves_the_vote_until_retrained(sisa_template: Path, tmp_path: Path, make_client):
    import shutil

    d = tmp_path / "sisa"
    shutil.copytree(sisa_template, d)
    c = make_client(d)
    victim = shard_killing_ids(d, shard=1)[:1]
    rid = c.post("/v1/deletion-requests", json={"ids": victim}, headers=auth("alice")).json()["id"]
    wait_state(c, rid, who="alice")
    env = c.get(f"/v1/deletion-requests/{rid}/receipt", headers=auth("alice")).json()
    assert env["receipt"]["guarantee"]["level"] == "exact"
    deadline = time.monotonic() + 30
    while (
        not (env := c.get(f"/v1/deletion-requests/{rid}/receipt", headers=auth("alice")).json())["receipt"]["followups"]
        and env["receipt"]["model"]["retrain_pending"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # shard 1 was out of the vote (pending) and came back through the background retrain
    assert env["receipt"]["followups"][0]["model_version"] > env["receipt"]["model"]["version_after"]
    assert env["receipt"]["revision"] == 2
    assert c.get("/v1/models/current", headers=auth("predict")).json()["pending_retrain"] == []
    audit = c.get("/v1/audit/verify", headers=auth("admin")).json()
    assert audit["ok"], audit["problems"]
