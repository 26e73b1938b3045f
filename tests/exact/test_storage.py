"""Held-data storage and group commit: rows overwritten in place, one transaction for K requests, kill -9
between the commit and the overwrite finished on restart (the deleted bytes gone from every file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event

from tests.conftest import TINY
from unlearnkit.errors import UnknownIdError
from unlearnkit.exact import S3T, SISA, ForgetRequest, load_strategy


@pytest.fixture(scope="module")
def model_dir(small_train, public, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("storage") / "model"
    S3T(shards=2, slices=2, budget=2, **TINY).fit(small_train, public, directory=d).close()
    return d


@pytest.fixture
def model(model_dir, tmp_path):
    src = load_strategy(model_dir)
    copy = src.save(tmp_path / "copy")
    src.close()
    m = load_strategy(copy)
    yield m
    m.close()


def _write_commits(store) -> list[int]:
    """A counter of committed transactions that wrote something (reads commit too, and are not counted).

    Counted by SQLite itself (a trace callback on every driver connection, opened afresh), so a transaction is
    counted whether it ran through SQLAlchemy or on the driver's cursor (the deletion fast path).
    """
    count = [0]
    wrote: set[int] = set()

    def tracer(conn_id: int):
        def trace(statement: str) -> None:
            word = statement.lstrip().split(" ", 1)[0].upper()
            if word in ("INSERT", "UPDATE", "DELETE"):
                wrote.add(conn_id)
            elif word in ("COMMIT", "END") and conn_id in wrote:
                wrote.discard(conn_id)
                count[0] += 1
            elif word == "ROLLBACK":
                wrote.discard(conn_id)

        return trace

    @event.listens_for(store.engine, "connect")
    def _traced(dbapi_conn, _record):
        dbapi_conn.set_trace_callback(tracer(id(dbapi_conn)))

    store.engine.dispose()  # pooled connections reconnect, traced
    return count


def _two_cells(m, n: int = 2) -> list[int]:
    """``n`` ids from ``n`` different (shard, slice) cells."""
    by_cell: dict[tuple[int, int], int] = {}
    for i, cell in sorted(m.assignment_.items()):
        by_cell.setdefault(cell, i)
    return sorted(by_cell.values())[:n]


def test_group_commit_is_one_transaction_with_one_receipt_per_request(model, small_train):
    commits = _write_commits(model.store)
    ids = _two_cells(model, 3)
    v0 = model.model_version
    requests = [
        ForgetRequest(ids=[ids[0]], request_id="a"),
        ForgetRequest(ids=[ids[1], ids[0]], request_id="b"),  # ids[0] goes in "a" first: already forgotten here
        ForgetRequest(ids=[10**9]),  # unknown: returned, the others proceed
        ForgetRequest(owner=small_train.owners[ids[2]], external_ref="ext-c"),
    ]
    out = model.forget_many(requests, on_error="return")
    assert commits[0] == 1, "K requests, one durable transaction"
    a, b, bad, c = out
    assert isinstance(bad, UnknownIdError)
    assert [r.request_id for r in (a, b)] == ["a", "b"] and c.request_id
    assert (a.model_version_before, a.model_version_after) == (v0, v0 + 1)
    assert (b.model_version_before, b.model_version_after) == (v0 + 1, v0 + 2)
    assert b.count == 1 and len(b.already_forgotten) == 1
    assert c.model_version_after == v0 + 3 == model.model_version
    for r in (a, b, c):
        stored = model.store.get_request(r.request_id)
        assert stored["state"] == "completed" and stored["receipt"] == r.to_dict()
    again = model.forget_many(requests[:2])  # idempotent: the stored receipts, nothing written
    assert [r.to_dict() for r in again] == [a.to_dict(), b.to_dict()] and commits[0] == 1
    assert model.verify().ok
    deleted = model.store.deleted_ids()
    assert not deleted & set(model.held_ids())
    fresh = load_strategy(model.directory)
    try:
        assert fresh.served() == model.served() and fresh.model_version == model.model_version
    finally:
        fresh.close()


def test_single_forget_writes_one_transaction_and_overwrites_only_its_row(model):
    files = sorted((model.directory / "held").glob("*.rows"))
    before = {p.name: p.read_bytes() for p in files}
    commits = _write_commits(model.store)
    victim = _two_cells(model, 1)[0]
    model.forget([victim])
    assert commits[0] == 1
    changed = [p.name for p in files if p.read_bytes() != before[p.name]]
    assert len(changed) == 1, changed
    old, new = before[changed[0]], (model.directory / "held" / changed[0]).read_bytes()
    diff = [k for k in range(len(old)) if old[k] != new[k]]
    row = model.held_.spec.dtype.itemsize
    assert diff and diff[-1] - diff[0] < row, "only the deleted row's bytes changed"
    assert victim not in model.held_ids() and model.verify().ok


def test_sisa_retrain_reads_rows_per_slice_and_matches_a_fresh_fit(small_train, public, tmp_path):
    kw = dict(shards=2, slices=2, mode="retrain", **TINY)
    a = SISA(**kw).fit(small_train, public, directory=tmp_path / "a")
    victim = _two_cells(a, 1)[0]
    r = a.forget([victim])
    assert r.retrained and r.guarantee == "exact-retrain"
    b = SISA(**kw).fit(small_train.without([victim]), public, directory=tmp_path / "b")
    sa, sb = a.served_state(), b.served_state()
    assert sa.keys() == sb.keys()
    for shard in sa:
        for k in sa[shard]:
            assert np.array_equal(sa[shard][k].numpy(), sb[shard][k].numpy()), (shard, k)
    a.close()
    b.close()


_KILLER = """
import sys
from unlearnkit.exact import load_strategy
from unlearnkit.faults import fault_injector_from_env
m = load_strategy(sys.argv[1])
m.fault_injector = fault_injector_from_env()
m.forget([int(i) for i in sys.argv[2].split(",")])
"""


def test_kill9_mid_purge_then_restart_leaves_no_deleted_bytes_on_disk(model, small_train, digits_bundle):
    # two cells: the process dies after overwriting the first file (cells are purged in (shard, slice) order)
    ids = sorted(_two_cells(model, 2), key=lambda i: model.assignment_[i])
    rows = {i: small_train.x[int(small_train.positions([i])[0])].numpy().astype("<f4").tobytes() for i in ids}
    directory = model.directory
    model.close()
    env = {**os.environ, "UNLEARNKIT_FAULT": "mid_purge=exit"}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    p = subprocess.run(
        [sys.executable, "-c", _KILLER, str(directory), ",".join(map(str, ids))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 137, p.stderr[-2000:]

    def holders(i: int) -> list[str]:
        return [
            str(f.relative_to(directory)) for f in directory.rglob("*") if f.is_file() and rows[i] in f.read_bytes()
        ]

    assert not holders(ids[0]) and holders(ids[1]) == [f"held/{'-'.join(map(str, model.assignment_[ids[1]]))}.rows"]
    restarted = load_strategy(directory)  # the committed deletion's queued purge is finished on open
    try:
        assert not holders(ids[0]) and not holders(ids[1]), "the deleted rows are gone from every file"
        assert set(ids) <= restarted.store.deleted_ids()
        report = restarted.verify()
        assert report.ok, report.problems
        again = restarted.forget(ids)  # the kill came after the commit: the deletion was durable
        assert again.count == 0 and len(again.already_forgotten) == 2
        if restarted.served():
            assert restarted.predict_proba(digits_bundle.test.x[:5]).shape == (5, 10)
    finally:
        restarted.close()


def test_the_executor_kind_is_recorded_and_a_reload_trains_with_it(small_train, public, tmp_path):
    import json

    from unlearnkit.runtime.executor import LocalExecutor, ProcessExecutor

    class Named(LocalExecutor):
        spec = "process:1"  # trains in this process here; the recorded kind is what a reload builds

    m = S3T(shards=1, slices=2, budget=1, **TINY, executor=Named()).fit(
        small_train.take(list(range(40))), public, directory=tmp_path / "m"
    )
    m.close()
    assert json.loads((tmp_path / "m" / "strategy.json").read_text())["executor"] == "process:1"
    again = load_strategy(tmp_path / "m")
    try:
        built = again._executor()
        assert isinstance(built, ProcessExecutor) and built.workers == 1
    finally:
        again.close()


def test_a_request_another_writer_created_meanwhile_is_refused_whole(model):
    """The unique keys of the request table refuse a batch naming a request that appeared since it was planned:
    nothing of the batch is written (samples, versions and audit chain as before)."""
    from unlearnkit.lineage.requests import BatchItem, RequestRaceError
    from unlearnkit.lineage.store import utcnow

    first, second = _two_cells(model, 2)
    model.forget([first], request_id="taken")
    v, events = model.model_version, len(model.store.audit_events())
    item = BatchItem(request_id="taken", ids=[second], to_delete=[second], received_at=utcnow())
    with pytest.raises(RequestRaceError, match="another writer"):
        model.store.commit_batch([item], expected_version=v)
    assert model.model_version == v and len(model.store.audit_events()) == events
    assert model.store.sample_rows([second])[second]["status"] == "active"
    assert model.verify().ok


def test_the_audit_waits_for_a_writer_registering_checkpoint_files(model):
    """A checkpoint file written by a writer that has not committed yet is not reported as an orphan: the audit
    looks again once the writer lock is free (a file still unnamed then is reported)."""
    import threading

    ckpt_dir = model.ckpt_.directory
    pending = ckpt_dir / ("f" * 64 + ".safetensors")
    holding, done = threading.Event(), threading.Event()

    def writer() -> None:
        with model._writer.hold():
            pending.write_bytes(b"not yet committed")
            holding.set()
            done.wait(timeout=2)  # the audit starts meanwhile and finds the file unnamed
            pending.unlink()  # stands for the writer's rollback or cleanup: the file is gone before it lets go

    t = threading.Thread(target=writer)
    t.start()
    assert holding.wait(timeout=10)
    timer = threading.Timer(0.3, done.set)
    timer.start()
    try:
        assert model.directory_problems() == []
    finally:
        t.join()
        timer.cancel()
    pending.write_bytes(b"left by a crash")
    assert any("no store row names" in p for p in model.directory_problems())
    pending.unlink()


def test_the_same_request_committed_by_another_writer_meanwhile_is_answered_with_its_receipt(model):
    """Two writers given the same request id: the one that loses the race (the unique key refuses its batch)
    answers with the winner's receipt instead of retrying until it gives up."""
    victim = _two_cells(model, 1)[0]
    other = load_strategy(model.directory)
    other._writer = model._writer  # the same directory lock (one thread here), so the race can be staged
    real = model.store.commit_batch
    won: list = []

    def racing(items, expected_version):
        if not won:  # the other writer commits the same request between this one's plan and its commit
            won.append(other.forget([victim], request_id="dup"))
        return real(items, expected_version)

    model.store.commit_batch = racing
    try:
        receipt = model.forget([victim], request_id="dup")
    finally:
        model.store.commit_batch = real
        other.close()
    assert receipt.request_id == "dup" and receipt.to_dict() == won[0].to_dict()
    assert model.store.sample_rows([victim])[victim]["status"] == "deleted"
    assert model.model_version == won[0].model_version_after and model.verify().ok


def test_a_backbone_swapped_after_open_is_refused_when_first_read(model_dir, tmp_path):
    """The backbone is read on first use (a fast-path deletion never needs it), so its bytes are checked
    against the signed manifest as they are read, not only when the directory was opened."""
    from unlearnkit.errors import IntegrityError

    copy = load_strategy(model_dir).save(tmp_path / "swap")
    m = load_strategy(copy)
    try:
        path = copy / "backbone.safetensors"
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF  # a weight changed after open
        path.write_bytes(bytes(data))
        with pytest.raises(IntegrityError, match=r"backbone\.safetensors"):
            m.predict_proba(np.zeros((1, m.num_features), dtype=np.float32))
    finally:
        m.close()
