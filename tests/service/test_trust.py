"""Deletions you can trust (in-process): reused request keys, stale writers, a keyed and signed audit trail,
signed files, orphan checkpoints, public receipts, strict receipt checks, no membership oracle, quiet probes.

Each test reproduces an attack or a failure and checks it is refused or detected."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from svc_helpers import auth, harmless_ids, shard_killing_ids, wait_state
from typer.testing import CliRunner

from unlearnkit.cli import _load_commands, app
from unlearnkit.errors import IntegrityError, RequestConflictError
from unlearnkit.exact import load_strategy
from unlearnkit.lineage.signing import load_public_key, verify_envelope

_load_commands()
runner = CliRunner()


def cli(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _sql(model_dir: Path, *statements: str) -> list:
    con = sqlite3.connect(str(model_dir / "lineage.db"))
    try:
        out = [con.execute(q).fetchall() for q in statements]
        con.commit()
    finally:
        con.close()
    return out


# -- 1: a reused key with another body is refused everywhere -------------------------------------------------
def test_reused_external_ref_or_request_id_with_other_ids_is_refused(model_dir: Path, make_client, s3t_data):
    a, b, c_ = s3t_data.id_list()[:3]
    m = load_strategy(model_dir)
    try:
        first = m.forget([a], external_ref="ticket-2041")
        with pytest.raises(RequestConflictError, match="different deletion"):
            m.forget([b, c_], external_ref="ticket-2041")
        assert m.forget([a], external_ref="ticket-2041").request_id == first.request_id  # same body: replay
        m.forget([b], request_id="r1")
        with pytest.raises(RequestConflictError):
            m.forget([c_], request_id="r1")
        assert {a, b} == m.store.deleted_ids()  # c was never treated as done
    finally:
        m.close()
    r = cli("forget", model_dir, "--ids", c_, "--request-id", "r1")
    assert r.exit_code == 1 and "already used" in r.output and "Traceback" not in r.output
    # the service's own reference space is per submitter: the engine's "ticket-2041" cannot swallow this request
    client = make_client(model_dir)
    rid = client.post(
        "/v1/deletion-requests", json={"ids": [c_], "external_ref": "ticket-2041"}, headers=auth("alice")
    ).json()["id"]
    assert wait_state(client, rid, who="alice")["state"] == "completed"
    assert c_ in client.app.state.svc.store.deleted_ids()


# -- 3: a writer that planned against an old version never commits that plan ------------------------------------
def test_stale_writer_replans_instead_of_bricking_the_model(model_dir: Path):
    x, y = shard_killing_ids(model_dir)[0], harmless_ids(model_dir, 1)[0]
    writer_a, writer_b = load_strategy(model_dir), load_strategy(model_dir)  # two processes' views of version v
    try:
        writer_a.forget([x])
        writer_b.forget([shard_killing_ids(model_dir)[1], y])  # planned from B's stale state before the fix
        assert writer_b.model_version == writer_a.store.model_version
    finally:
        writer_a.close()
        writer_b.close()
    m = load_strategy(model_dir)  # the directory still loads, and is consistent
    try:
        report = m.verify()
        assert report.ok, report.problems
        assert m.store.checkpoints_seeing(m.store.deleted_ids()) == []
    finally:
        m.close()


def test_commit_against_a_moved_version_is_refused(model_dir: Path):
    from unlearnkit.errors import StalePlanError

    m = load_strategy(model_dir)
    try:
        v = m.model_version
        m.forget(harmless_ids(model_dir, 1))
        other = harmless_ids(model_dir, 2)[1:]
        rid, _, _ = m.store.begin_request(other, request_id=None, external_ref=None, owner=None)
        with pytest.raises(StalePlanError):
            m.store.commit_deletion(rid, [], retire=[], serving=[], plan={}, expected_version=v)
    finally:
        m.close()


def _writers_on_two_hosts(model_dir: Path, url: str | None, tmp_path: Path) -> None:
    """Two writers that share the database but not the directory's file lock (as on two hosts), each planning
    from the same version and pausing before its commit: the store's version check must make one re-plan."""
    import threading

    from unlearnkit.exact.locking import WriterLock

    a, b = load_strategy(model_dir, url), load_strategy(model_dir, url)
    b._writer = WriterLock(tmp_path)  # another host: its own lock file
    barrier = threading.Barrier(2, timeout=30)

    files = threading.Lock()  # hosts sharing a directory share its file lock for the files (NFSv4 locks)

    def pause_once(step: str, seen: list[str]) -> None:
        if step == "after_plan" and not seen:  # both have planned from version 1 before either commits
            seen.append(step)
            barrier.wait()
        elif step == "before_purge":
            files.acquire()
        elif step == "after_purge":
            files.release()

    for w in (a, b):
        w.fault_injector = lambda step, seen=[]: pause_once(step, seen)  # a new list per writer
    assignment = a.assignment_
    shard0 = sorted(i for i, (sh, _) in assignment.items() if sh == 0)
    errors: list[BaseException] = []

    def run(w, ids) -> None:
        try:
            w.forget(ids)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w, [i])) for w, i in ((a, shard0[0]), (b, shard0[-1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for w in (a, b):
        w.close()
    assert not errors, errors
    m = load_strategy(model_dir, url)
    try:
        assert {shard0[0], shard0[-1]} <= m.store.deleted_ids() and m.model_version == 3
        report = m.verify()
        assert report.ok, report.problems
    finally:
        m.close()


def test_writers_on_two_hosts_sqlite(model_dir: Path, tmp_path: Path):
    _writers_on_two_hosts(model_dir, None, tmp_path)


@pytest.mark.postgres
def test_writers_on_two_hosts_postgres(pg_fresh: str, tmp_path: Path, s3t_data):
    from unlearnkit.exact import S3T

    d = tmp_path / "pg-model"
    S3T(shards=2, slices=2, budget=2, epochs=1, batch_size=32, width=32, backbone_epochs=2, lora_rank=2, seed=0).fit(
        s3t_data.take(list(range(120))), directory=d, db_url=pg_fresh
    ).close()
    _writers_on_two_hosts(d, pg_fresh, tmp_path / "other-host")


# -- 6: the audit trail cannot be rewritten, truncated, undone or replaced unnoticed ------------------------------
def _audit(model_dir: Path, *extra: object):
    return cli("audit", model_dir, *extra)


def test_rewritten_chain_is_detected_even_when_rehashed(model_dir: Path):
    cli("forget", model_dir, "--ids", harmless_ids(model_dir, 1)[0])
    (seq, prev, at, et, payload), *_ = _sql(
        model_dir, "SELECT seq, prev_hash, at, event_type, payload_json FROM audit_events ORDER BY seq DESC LIMIT 1"
    )[0]
    forged = json.dumps({**json.loads(payload), "count": 0})
    row = json.dumps(
        {"seq": seq, "at": at, "event_type": et, "payload": json.loads(forged)}, sort_keys=True, separators=(",", ":")
    )
    h = hashlib.sha256((prev + row).encode()).hexdigest()  # what an unkeyed chain would accept
    _sql(
        model_dir,
        f"UPDATE audit_events SET payload_json = '{forged}', hash = '{h}' WHERE seq = {seq}",
        f"UPDATE meta SET value = '{json.dumps({'seq': seq, 'hash': h})}' WHERE key = 'audit_head'",
    )
    r = _audit(model_dir)
    assert r.exit_code == 1 and "rewritten" in r.output, r.output  # the signed head no longer matches
    from unlearnkit.lineage import LineageStore

    store = LineageStore(f"sqlite:///{model_dir / 'lineage.db'}", (model_dir / "secret.key").read_bytes())
    try:  # and the keyed chain alone catches it: the link is an HMAC, not a plain sha256
        assert any("hash mismatch" in p for p in store.verify().problems)
    finally:
        store.close()


def test_truncated_undeleted_and_rolled_back_stores_are_detected(model_dir: Path, tmp_path: Path):
    x = harmless_ids(model_dir, 1)[0]
    before = tmp_path / "before"
    shutil.copytree(model_dir, before)  # an old backup of the whole directory
    r = cli("forget", model_dir, "--ids", x, "--json")
    (tmp_path / "receipt.json").write_text(r.output)  # the subject keeps it: off the machine
    assert _audit(model_dir, "--head", tmp_path / "receipt.json").exit_code == 0
    # undelete: the row is active again, the chain says deleted
    _sql(model_dir, f"UPDATE samples SET status = 'active' WHERE id = {x}")
    r = _audit(model_dir)
    assert r.exit_code == 1 and "records as deleted are not deleted" in r.output, r.output
    _sql(model_dir, f"UPDATE samples SET status = 'deleted' WHERE id = {x}")
    # truncate the tail and move the head back: the signed audit-head.json still names the lost event
    (n,), *_ = _sql(model_dir, "SELECT MAX(seq) FROM audit_events")[0]
    (prev,), *_ = _sql(model_dir, f"SELECT hash FROM audit_events WHERE seq = {n - 1}")[0]
    _sql(
        model_dir,
        f"DELETE FROM audit_events WHERE seq = {n}",
        f"UPDATE meta SET value = '{json.dumps({'seq': n - 1, 'hash': prev})}' WHERE key = 'audit_head'",
    )
    with pytest.raises(IntegrityError, match="truncated, rolled back or replaced"):
        load_strategy(model_dir)
    # restore the old backup wholesale (database, head file, data, manifest): it is self-consistent, and only
    # the receipt kept elsewhere can tell that a deletion was rolled back
    assert _audit(before).exit_code == 0
    r = _audit(before, "--head", tmp_path / "receipt.json")
    assert r.exit_code == 1 and "truncated, rolled back or replaced" in r.output, r.output


def test_missing_store_is_an_error_not_an_empty_ok(model_dir: Path):
    (model_dir / "lineage.db").unlink()
    r = _audit(model_dir)
    assert r.exit_code == 1 and "lineage.db is missing" in r.output, r.output
    assert not (model_dir / "lineage.db").exists()


def test_audit_head_endpoint_is_signed(model_dir: Path, make_client):
    c = make_client(model_dir, run_worker=False)
    head = c.get("/v1/audit/head", headers=auth("predict")).json()
    key = load_public_key(c.get("/v1/keys").json()["keys"][0]["public_key_pem"])
    body = verify_envelope(head, key, kind="head")
    assert body["seq"] > 0 and body["model_version"] == 1
    assert c.get("/v1/audit/head").status_code == 401


# -- 7: checkpoint files a crash left behind -------------------------------------------------------------------
def test_orphan_checkpoint_files_are_reported_then_removed(model_dir: Path):
    ckpt = model_dir / "checkpoints"
    victim = sorted(ckpt.glob("*.safetensors"))[0]
    orphan = ckpt / ("f" * 64 + ".safetensors")
    shutil.copy(victim, orphan)  # as a crash between writing and registering a retrain leaves it
    r = _audit(model_dir)
    assert r.exit_code == 1 and "no store row names" in r.output, r.output
    assert cli("forget", model_dir, "--ids", harmless_ids(model_dir, 1)[0]).exit_code == 0
    assert not orphan.exists() and _audit(model_dir).exit_code == 0


# -- 8: every file that shapes the model is signed --------------------------------------------------------------
@pytest.mark.parametrize("name", ["backbone.safetensors", "secret.key", "strategy.json"])
def test_changed_model_files_are_refused(model_dir: Path, name: str):
    p = model_dir / name
    if name == "strategy.json":
        cfg = json.loads(p.read_text())
        cfg["salt"] = "0" * 32  # re-aim the slice assignment
        p.write_text(json.dumps(cfg))
    else:
        data = bytearray(p.read_bytes())
        data[-1] ^= 1
        p.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=name):
        load_strategy(model_dir)
    r = _audit(model_dir)
    assert r.exit_code == 1 and name in r.output


def test_changed_held_rows_are_refused_by_audit_and_retraining(model_dir: Path):
    """The held data changes at every deletion, so it is checked row by row (tags), not by the manifest."""
    victim = sorted((model_dir / "held").glob("*.rows"))[0]
    shard, sl = (int(v) for v in victim.stem.split("-"))
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1  # one feature byte of the cell's last row
    victim.write_bytes(bytes(data))
    r = _audit(model_dir)
    assert r.exit_code == 1 and "does not match its tag" in r.output, r.output
    m = load_strategy(model_dir)
    try:
        other = sorted(i for i, cell in m.assignment_.items() if cell == (shard, sl))[0]  # not the changed row
        m.forget([other])
        with pytest.raises(IntegrityError, match="tag"):
            m.retrain([shard])  # re-reads the cell's remaining rows, the changed one among them
    finally:
        m.close()


def test_interrupted_held_purge_is_finished_on_open(model_dir: Path):
    m = load_strategy(model_dir)
    ids = harmless_ids(model_dir, 2)

    def die(step: str) -> None:
        if step == "before_purge":
            raise KeyboardInterrupt  # the process dies between the commit and the overwrite

    m.fault_injector = die
    with pytest.raises(KeyboardInterrupt):
        m.forget(ids)
    assert set(ids) <= set(m.held_ids())  # committed, not yet overwritten
    m.close()
    m = load_strategy(model_dir)  # the queued purge is finished on open
    try:
        assert not set(ids) & set(m.held_ids()) and m.verify().ok
    finally:
        m.close()


# -- 10, 11: public receipts; strict verification ----------------------------------------------------------------
def test_cli_receipt_is_signed_minimal_and_strictly_checked(model_dir: Path, tmp_path: Path):
    r = cli("forget", model_dir, "--ids", ",".join(map(str, shard_killing_ids(model_dir))), "--json")
    env = json.loads(r.output)
    text = json.dumps(env["receipt"])
    assert "content_hash" not in text and "shard" not in text and "slice" not in text and "sequence" not in text
    pub = model_dir / "signing" / "ed25519.pub.pem"
    good = tmp_path / "good.json"
    good.write_text(r.output)
    assert cli("verify-receipt", good, "--key", pub).exit_code == 0
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({**env, "note": "erased everything, honest"}))
    out = cli("verify-receipt", extra, "--key", pub)
    assert out.exit_code == 1 and "unsigned envelope member" in out.output
    raw = r.output.rstrip()
    dup = tmp_path / "dup.json"
    dup.write_text(raw[:-1] + ', "receipt": {"statement": "nothing"}}')  # a second "receipt" key
    out = cli("verify-receipt", dup, "--key", pub)
    assert out.exit_code == 1 and "duplicate JSON key" in out.output
    listed = cli("receipts", model_dir, "--show", env["receipt"]["request"]["id"])
    assert listed.exit_code == 0 and json.loads(listed.output) == env


# -- 12, 13: no membership oracle, quiet probes -----------------------------------------------------------------
def test_delete_role_learns_nothing_about_membership(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir)
    known = s3t_data.id_list()[0]
    unknown = max(s3t_data.id_list()) + 12345
    rk = c.post("/v1/deletion-requests", json={"ids": [known]}, headers=auth("alice"))
    ru = c.post("/v1/deletion-requests", json={"ids": [unknown]}, headers=auth("alice"))
    ro = c.post("/v1/deletion-requests", json={"owner": "nobody-at-all"}, headers=auth("alice"))
    assert rk.status_code == ru.status_code == ro.status_code == 202
    for r in (rk, ru, ro):
        assert wait_state(c, r.json()["id"], who="alice")["state"] == "completed"
    recs = [c.get(f"/v1/deletion-requests/{r.json()['id']}/receipt", headers=auth("alice")).json() for r in (rk, ru)]
    assert set(recs[0]["receipt"]["erased"]) == set(recs[1]["receipt"]["erased"])
    assert recs[0]["receipt"]["erased"]["count"] == recs[1]["receipt"]["erased"]["count"] == 1
    assert known in c.app.state.svc.store.deleted_ids()
    # an admin still gets the precise answer
    assert c.post("/v1/deletion-requests", json={"ids": [unknown]}, headers=auth("admin")).status_code == 422


def test_readyz_without_token_reveals_no_state(model_dir: Path, make_client):
    c = make_client(model_dir, run_worker=False)
    anon = c.get("/readyz").json()
    assert anon == {"status": "ready", "checks": {}}
    admin = c.get("/readyz", headers=auth("admin")).json()
    assert "model_version" in admin["checks"] and "worker_lease_held" in admin["checks"]
    assert c.app.state.svc.settings.token_cache_seconds <= 1.0


# -- 5: a deletion storm that kills every shard still gets exact answers --------------------------------------
def test_all_shards_dead_serves_the_public_fallback(model_dir: Path, make_client, s3t_data):
    c = make_client(model_dir, run_worker=False)
    x = s3t_data.x[:3].tolist()
    m = load_strategy(model_dir)  # another process kills every shard
    try:
        m.forget([*shard_killing_ids(model_dir, 0), *shard_killing_ids(model_dir, 1)])
        assert m.pending_retrain() == [0, 1]
        proba, version, guarantee = m.predict_served(x)
        assert guarantee == "exact:public-fallback" and version == m.model_version
        with pytest.raises(Exception, match="retrain required"):
            m.predict_served(x, fallback=False)
    finally:
        m.close()
    r = c.post("/v1/predict", json={"instances": x}, headers=auth("predict"))
    assert r.status_code == 200, r.text  # not 503
    body = r.json()
    assert body["guarantee"] == "exact:public-fallback" and body["model_version"] == version
    assert body["predictions"] == proba.argmax(axis=1).tolist()
