"""The deletion fast path's parts: statements run raw on SQLite write what SQLAlchemy writes, the signed head is
swapped into place (never half written, a torn one falls back to the previous head but a forged one is refused)
and its bytes, encoded once, are the envelope's canonical encoding, the writers' lock file kept open still
excludes a forked child, a purged held row keeps only its id, and served logits computed in inference mode reach
callers as ordinary tensors."""

from __future__ import annotations

import fcntl
import json
import os
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import bindparam, select, update

from tests.conftest import TINY
from unlearnkit.errors import IntegrityError
from unlearnkit.exact import S3T, load_strategy
from unlearnkit.exact.locking import WriterLock
from unlearnkit.lineage import LineageStore
from unlearnkit.lineage._prepared import Prepared
from unlearnkit.lineage._util import iso
from unlearnkit.lineage.audit import HEAD_FILE, SPARE_FILE, read_head_file, write_head
from unlearnkit.lineage.schema import DeletionRequest, Sample
from unlearnkit.lineage.signing import Signer

_req = DeletionRequest.__table__
_INSERT = Prepared(_req.insert())
_FINISH = Prepared(
    update(_req)
    .where(_req.c.id == bindparam("b_id"), _req.c.state == "received")
    .values(state="completed", completed_at=bindparam("b_at"))
)


def _row(rid: str, at: datetime) -> dict:
    return {"id": rid, "external_ref": None, "kind": "ids", "owner_hmac": None, "state": "received", "received_at": at}


def test_raw_sqlite_statements_store_what_core_stores(tmp_path: Path):
    store = LineageStore(f"sqlite:///{tmp_path / 'l.db'}", b"p" * 32)
    at = datetime(2026, 12, 1, 17, 50, 3, 120456)
    try:
        with store.hot_write() as tx:  # raw: the driver's cursor
            assert tx.raw is not None and tx.conn is None
            tx.run(_INSERT, [_row("raw", at)])
            tx.run(_FINISH, {"b_id": "raw", "b_at": at})
        with store.hot_write(core=True) as tx:  # the same statements through SQLAlchemy Core
            assert tx.conn is not None
            tx.raw = None
            tx.run(_INSERT, [_row("core", at)])
            tx.run(_FINISH, {"b_id": "core", "b_at": at})
        raw_text = store.engine.raw_connection()
        try:
            stored = raw_text.driver_connection.execute(
                "SELECT id, state, received_at, completed_at FROM deletion_requests ORDER BY id"
            ).fetchall()
        finally:
            raw_text.close()
        assert stored[0][1:] == stored[1][1:]  # byte for byte the same columns (datetimes as SQLAlchemy's text)
        for rid in ("raw", "core"):  # and the ORM reads them back as the datetimes written
            got = store.get_request(rid)
            assert got["state"] == "completed"
            assert got["received_at"] == got["completed_at"] == "2026-12-01T17:50:03.120456Z"
    finally:
        store.close()


def test_raw_transaction_rolls_back_on_error(tmp_path: Path):
    store = LineageStore(f"sqlite:///{tmp_path / 'l.db'}", b"p" * 32)
    try:
        with pytest.raises(RuntimeError), store.hot_write() as tx:
            tx.run(_INSERT, [_row("gone", datetime(2026, 1, 1))])
            raise RuntimeError("fails after a write")
        assert store.get_request("gone") is None
    finally:
        store.close()


def test_statement_with_an_expanding_parameter_is_refused_for_the_raw_path():
    from sqlalchemy.dialects import sqlite

    p = Prepared(select(Sample.id).where(Sample.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match="not a fixed statement"):
        p.sqlite(sqlite.dialect())


# -- the signed head -----------------------------------------------------------------------------------------
def _env(signer: Signer, seq: int) -> dict:
    return signer.sign({"type": "unlearnkit/audit-head", "seq": seq, "hash": "ab" * 32, "model_version": seq}, "head")


def test_head_is_swapped_in_and_the_previous_one_kept(tmp_path: Path):
    signer = Signer.load_or_create(tmp_path / "k.pem")
    write_head(tmp_path, _env(signer, 1))  # the first head: synced temporary file, renamed
    for seq in (2, 3):
        write_head(tmp_path, _env(signer, seq), sync=False)
    assert read_head_file(tmp_path, signer.public_key)["seq"] == 3
    assert json.loads((tmp_path / SPARE_FILE).read_text())["head"]["seq"] == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_torn_head_falls_back_to_the_previous_but_a_forged_one_is_refused(tmp_path: Path, caplog):
    signer = Signer.load_or_create(tmp_path / "k.pem")
    write_head(tmp_path, _env(signer, 4))
    write_head(tmp_path, _env(signer, 5), sync=False)
    good = (tmp_path / HEAD_FILE).read_bytes()
    (tmp_path / HEAD_FILE).write_bytes(good[: len(good) // 2])  # a power loss mid-write: not even JSON
    assert read_head_file(tmp_path, signer.public_key)["seq"] == 4
    assert "unreadable" in caplog.text
    forged = json.loads(good)
    forged["head"]["seq"] = 9  # parses, but the signature no longer matches: tampering, refused
    (tmp_path / HEAD_FILE).write_text(json.dumps(forged))
    with pytest.raises(ValueError, match="signature does not match"):
        read_head_file(tmp_path, signer.public_key)


def test_envelope_encoded_once_is_the_canonical_encoding_of_the_envelope(tmp_path: Path):
    signer = Signer.load_or_create(tmp_path / "k.pem")
    body = {"type": "unlearnkit/audit-head", "seq": 7, "hash": "ab" * 32, "note": "naïve → ✓", "z": [1, {"b": 2}]}
    for kind in ("head", "receipt"):
        env, data = signer.sign_encoded(body, kind)
        assert data == json.dumps(env, sort_keys=True, separators=(",", ":")).encode()
        assert env == signer.sign(body, kind)  # Ed25519 signatures are deterministic
    with pytest.raises(ValueError, match="sort before"):
        signer.sign_encoded(body, "zone")
    env, data = signer.sign_encoded(body, "head")
    write_head(tmp_path, env, encoded=data)
    assert (tmp_path / HEAD_FILE).read_bytes() == data + b"\n"
    assert read_head_file(tmp_path, signer.public_key)["seq"] == 7


@pytest.fixture(scope="module")
def model_dir(small_train, public, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fastpath") / "model"
    S3T(shards=2, slices=2, budget=2, **TINY).fit(small_train, public, directory=d).close()
    return d


def test_fast_path_head_names_the_newest_event_and_a_torn_one_still_opens(model_dir: Path, tmp_path: Path):
    m = load_strategy(load_strategy(model_dir).save(tmp_path / "m"))
    try:
        for i in sorted(m.assignment_)[:2]:
            m.forget([i])
        seq, h, version, _ = m.store.chain_state()
        head = read_head_file(m.directory, m.public_key())
        assert (head["seq"], head["hash"], head["model_version"]) == (seq, h, version)
        directory = m.directory
    finally:
        m.close()
    (directory / HEAD_FILE).write_bytes(b'{"head": {"seq"')  # torn: the previous signed head is the reference
    load_strategy(directory).close()
    (directory / SPARE_FILE).unlink()  # and without one, an unreadable head is refused
    with pytest.raises(IntegrityError, match=HEAD_FILE):
        load_strategy(directory)


def test_purged_row_keeps_only_its_id_and_a_second_purge_writes_nothing(model_dir: Path, tmp_path: Path):
    m = load_strategy(load_strategy(model_dir).save(tmp_path / "m"))
    try:
        victim = sorted(m.assignment_)[3]
        cell = m.assignment_[victim]
        m.forget([victim])
        rows = np.fromfile(m.held_.path(*cell), dtype=m.held_.spec.dtype)
        (gone,) = rows[rows["id"] == victim]
        assert gone.tobytes() == struct.pack("<q", victim) + bytes(len(gone.tobytes()) - 8)
        assert int(rows["live"].sum()) == len(rows) - 1  # every other row untouched
        assert m.held_.purge({victim: cell}) == set()  # idempotent: nothing left to overwrite
    finally:
        m.close()


def test_predict_logits_are_ordinary_tensors_and_match_the_served_probabilities(model_dir: Path, public):
    import torch

    m = load_strategy(model_dir)
    try:
        x = public.x[:5].numpy()
        logits = m.predict_logits(x)  # computed in inference mode, handed out as ordinary tensors
        assert not any(t.is_inference() for t in logits)
        logits[0].add_(1.0)  # a caller may change them (an inference tensor would refuse)
        again = torch.stack(m.predict_logits(x))
        assert torch.allclose(torch.softmax(again.mean(0), dim=1), torch.as_tensor(m.predict_proba(x)), atol=1e-6)
    finally:
        m.close()


def test_iso_writes_naive_times_as_utc_and_converts_aware_ones():
    naive = datetime(2026, 12, 1, 17, 50, 3)
    assert iso(naive) == "2026-12-01T17:50:03Z"
    assert iso(naive.replace(microsecond=120456)) == "2026-12-01T17:50:03.120456Z"
    aware = datetime(2026, 12, 1, 19, 50, 3, tzinfo=timezone(timedelta(hours=2)))
    assert iso(aware) == "2026-12-01T17:50:03Z" and iso(None) is None


# -- the writers' lock ---------------------------------------------------------------------------------------
def test_kept_lock_file_still_excludes_a_forked_child(tmp_path: Path):
    lock = WriterLock(tmp_path)
    with lock.hold():
        pass  # the lock file is now open and kept
    with lock.hold():
        pid = os.fork()
        if pid == 0:  # the child inherits the open file: it must open its own, or it would share the lock
            try:
                fcntl.flock(lock._descriptor(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                os._exit(1)  # got it while the parent holds it: no exclusion
            except BlockingIOError:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    lock.close()


def test_kept_connections_of_ended_threads_are_closed(tmp_path: Path):
    import threading

    store = LineageStore(f"sqlite:///{tmp_path / 'l.db'}", b"p" * 32)
    try:
        for _ in range(3):  # three short-lived threads, each reading once
            t = threading.Thread(target=lambda: store.sample_rows([1]))
            t.start()
            t.join()
        store.sample_rows([1])
        assert [owner for owner, _ in store._kept] == [threading.current_thread()]
        store.engine.dispose()  # dispose drops them too; the next read opens a fresh one
        assert store._kept == [] and store.sample_rows([1]) == {}
    finally:
        store.close()
