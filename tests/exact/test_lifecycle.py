"""Deletion lifecycle: errors, no-ops, owners, dead shards, save/load, tamper evidence, interrupted requests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import TINY
from unlearnkit.errors import ConfigError, DataError, RetrainRequiredError, TaintedCheckpointError, UnknownIdError
from unlearnkit.exact import S3T, SISA, load_strategy


@pytest.fixture(scope="module")
def s3t_dir(small_train, public, tmp_path_factory):
    d = tmp_path_factory.mktemp("s3t") / "model"
    S3T(shards=2, slices=3, budget=3, **TINY).fit(small_train, public, directory=d).close()
    return d


@pytest.fixture
def s3t(s3t_dir, tmp_path):
    src = load_strategy(s3t_dir)
    copy = src.save(tmp_path / "copy")
    src.close()
    return load_strategy(copy)


def test_unknown_id_is_an_error_naming_it_and_writes_nothing(s3t):
    events = len(s3t.store.audit_events())
    with pytest.raises(UnknownIdError, match="999999"):
        s3t.forget([s3t.assignment_ and 5, 999999])
    assert len(s3t.store.audit_events()) == events
    with pytest.raises(UnknownIdError, match="nobody"):
        s3t.forget(owner="nobody")
    with pytest.raises(ConfigError):
        s3t.forget()
    with pytest.raises(DataError):
        s3t.forget(["seven"])


def test_already_forgotten_is_a_noop_that_says_so(s3t, small_train):
    i = small_train.id_list()[0]
    first = s3t.forget([i])
    v = s3t.model_version
    again = s3t.forget([i])
    assert again.id_hashes == [] and again.already_forgotten == first.id_hashes
    assert "already forgotten" in again.notes[0] and s3t.model_version == v


def test_forget_by_owner_and_receipt_contents(s3t, small_train):
    owner = small_train.owners[10]
    ids = small_train.ids_of_owner(owner)
    r = s3t.forget(owner=owner)
    assert r.guarantee == "exact-deactivate" and r.count == len(ids)
    assert r.model_version_after == r.model_version_before + 1
    assert set(r.id_hashes) == {s3t.store.id_hash(i) for i in ids}
    assert all(len(h) == 64 for h in r.content_hashes) and r.levels == ["L0", "L1", "L2"]
    assert r.purged_checkpoints and r.deactivated
    assert not any(str(i) in r.to_json() for i in ids if i > 99)  # ids appear only hashed
    assert s3t.verify().ok
    # replaced checkpoints that saw the data are gone from disk
    for c in s3t.store.checkpoints("purged"):
        assert not s3t.ckpt_.path(c.key).exists()
    assert not set(ids) & set(s3t.held_ids())


def test_all_shards_dead_raises_retrain_required(small_train, public, tmp_path, digits_bundle):
    s = S3T(shards=2, slices=2, budget=1, **TINY).fit(small_train, public, directory=tmp_path / "m")
    firsts = {sh: order[0] for sh, _, order, _, _ in s._rows_}
    victims = [
        next(i for i, (sh, sl) in s.assignment_.items() if sh == shard and sl == first)
        for shard, first in firsts.items()
    ]
    s.forget(victims)
    with pytest.raises(RetrainRequiredError, match="retrain required"):
        s.predict(digits_bundle.test.x)
    assert s.pending_retrain() == [0, 1]
    s.retrain()
    assert s.predict(digits_bundle.test.x).shape == (len(digits_bundle.test),)
    assert s.verify().ok


def test_save_load_roundtrip_and_tainted_checkpoint_refused(s3t, small_train, digits_bundle, tmp_path):
    s3t.forget(small_train.id_list()[20:23])
    after = s3t.predict_proba(digits_bundle.test.x)
    d = s3t.directory
    s3t.close()
    again = load_strategy(d)
    assert np.array_equal(again.predict_proba(digits_bundle.test.x), after)
    # roll the database back to serve a purged checkpoint again: the loader must refuse it
    with again.store.engine.begin() as conn:
        conn.execute(text("UPDATE checkpoints SET status='active' WHERE status='purged'"))
        conn.execute(text("UPDATE serving SET depth = 3"))
    again.close()
    with pytest.raises(TaintedCheckpointError):
        load_strategy(d)


def test_audit_chain_detects_tampering(s3t, small_train):
    s3t.forget(small_train.id_list()[30:32])
    assert s3t.verify().ok
    with s3t.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET payload_json = :p WHERE seq = 2"), {"p": json.dumps({"x": 1})})
    report = s3t.verify()
    assert not report.ok and any("hash mismatch" in p for p in report.problems)


@pytest.mark.parametrize("step", ["before_commit", "after_commit", "after_swap", "mid_purge", "after_purge"])
@pytest.mark.parametrize("kind", ["s3t", "sisa"])
def test_interrupted_deletion_is_consistent_and_rerun_completes(
    kind, step, small_train, public, tmp_path, digits_bundle
):
    make = (
        (lambda: S3T(shards=2, slices=3, budget=2, **TINY))
        if kind == "s3t"
        else (lambda: SISA(shards=2, slices=3, mode="retrain", **TINY))
    )
    s = make().fit(small_train, public, directory=tmp_path / "m")
    ids = small_train.id_list()[40:44]

    def boom(at: str) -> None:
        if at == step:
            raise RuntimeError(f"injected failure {at}")

    s.fault_injector = boom
    with pytest.raises(RuntimeError, match="injected"):
        s.forget(ids, request_id="req-1")
    # store and served model agree with what a fresh process would load (which finishes a committed purge)
    assert s.store.verify().ok
    fresh = load_strategy(s.directory)
    assert fresh.served() == s.served() and fresh.model_version == s.model_version
    if s.served():
        assert np.array_equal(fresh.predict_proba(digits_bundle.test.x), s.predict_proba(digits_bundle.test.x))
    state = (s.store.get_request("req-1") or {}).get("state")
    if step == "before_commit":
        assert state is None  # nothing was written
    elif kind == "s3t":
        # one transaction received, committed and completed it: durable; the loader finished the file work
        assert state == "completed" and fresh.verify().ok and not set(ids) & set(fresh.held_ids())
    else:
        assert state != "completed"  # SISA retrains before completing: the rerun resumes it
    fresh.close()
    s.fault_injector = None
    r = s.forget(ids, request_id="req-1")
    assert r.request_id == "req-1" and r.count == len(ids)
    assert s.store.get_request("req-1")["state"] == "completed"
    assert s.forget(ids, request_id="req-1").to_dict() == r.to_dict()  # idempotent
    assert s.verify().ok and not set(ids) & set(s.held_ids())
    completions = [e for e in s.store.audit_events() if e["event_type"] == "request.completed"]
    assert len(completions) == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stream=st.lists(st.lists(st.integers(0, 239), min_size=1, max_size=4), min_size=1, max_size=6),
    retrain_at=st.integers(0, 6),
)
def test_lineage_invariant_over_random_deletion_streams(s3t_dir, small_train, tmp_path_factory, stream, retrain_at):
    """After every deletion (and retrain), no served or active checkpoint saw a deleted id."""
    s = load_strategy(load_strategy(s3t_dir).save(tmp_path_factory.mktemp("h") / "m"))
    ids = small_train.id_list()
    deleted: set[int] = set()
    for k, batch in enumerate(stream):
        if k == retrain_at:
            s.retrain(list(range(s.shards)))
        chosen = [ids[i] for i in batch]
        s.forget(chosen)
        deleted |= set(chosen)
        assert s.verify().ok
        assert not s.store.checkpoints_seeing(deleted)
        _, stored_rows, _ = s.store.serving_state()  # a deletion writes only the serving rows it changes
        assert sorted(stored_rows) == sorted(s._rows_)
        kept, s._books_of = s._books_of, None  # the books kept across deletions are the ones built afresh
        fresh, s._books_of = s._books(), kept
        assert {sh: (q, b.orders, b.alive) for sh, (q, b) in s._books().items()} == {
            sh: (q, b.orders, b.alive) for sh, (q, b) in fresh.items()
        }
        for m in s._snapshot.members:  # served prefixes exclude every slice holding a deleted id (no retrain yet)
            if k < retrain_at:
                hit = {s.assignment_[i][1] for i in deleted if s.assignment_[i][0] == m.shard}
                assert not hit & set(m.prefix)
    s.close()


def test_commit_refuses_a_plan_that_leaves_a_tainted_checkpoint_active(s3t, small_train, monkeypatch):
    """The store checks the invariant inside the commit transaction: a buggy plan cannot slip through."""
    from unlearnkit.errors import LineageError

    monkeypatch.setattr(type(s3t), "_retire", lambda self, hits: [])
    version, served = s3t.model_version, s3t.served()
    with pytest.raises(LineageError, match="active after its data was deleted"):
        s3t.forget(small_train.id_list()[60:62])
    assert s3t.model_version == version and s3t.served() == served
    assert not s3t.store.deleted_ids() & set(small_train.id_list()[60:62])
    assert s3t.verify().ok


def test_deletion_during_a_background_retrain_is_served_and_the_retrain_replans(small_train, public, tmp_path):
    """Training runs outside the lock: a deletion in the retraining shard is served at once, and the retrain's
    stale result is refused (its files removed) and trained again without the new id."""
    import threading

    from unlearnkit.runtime import LocalExecutor

    started, release = threading.Event(), threading.Event()

    class GatedExecutor(LocalExecutor):
        calls = 0

        def map(self, fn, tasks):
            GatedExecutor.calls += 1
            if GatedExecutor.calls == 1:
                started.set()
                release.wait(30)
            return super().map(fn, tasks)

    s = S3T(shards=1, slices=2, budget=1, **TINY).fit(small_train, public, directory=tmp_path / "m")
    order = s._rows_[0][2]
    in_slice = {sl: [i for i, (_, x) in s.assignment_.items() if x == sl] for sl in order}
    s.forget(in_slice[order[0]][:1])  # kill the shard
    s.executor = GatedExecutor()
    worker = threading.Thread(target=s.retrain)
    worker.start()
    assert started.wait(30)
    late = in_slice[order[1]][:1]
    receipt = s.forget(late)  # not blocked by the retrain in flight
    assert receipt.count == 1
    release.set()
    worker.join(60)
    assert GatedExecutor.calls == 2, "the stale result must be refused and training planned again"
    assert s.verify().ok and not s.store.checkpoints_seeing(late)
    on_disk = {p.stem for p in s.ckpt_.directory.glob("*.safetensors")}
    assert on_disk == {c.key for c in s.store.checkpoints("active")}
    assert s.served() and s._snapshot.members[0].prefix == order


def test_in_memory_fit_forgets_and_saves(small_train, public, tmp_path, digits_bundle):
    """The README's path: fit() without a directory, forget, then save() and load the copy."""
    s = S3T(shards=2, slices=2, budget=2, **TINY).fit(small_train, public)
    receipt = s.forget(small_train.id_list()[:2])
    assert receipt.count == 2 and s.verify().ok
    saved = s.save(tmp_path / "saved")
    again = load_strategy(saved)
    assert np.array_equal(again.predict_proba(digits_bundle.test.x), s.predict_proba(digits_bundle.test.x))
    assert again.store.deleted_ids() == set(small_train.id_list()[:2])
