"""What a deletion writes to the lineage store on SQLite: the store's connections run with its settings, the
lookups use the partial indexes, and one single-id deletion writes one page per B-tree it changes (no page of
an index on the active majority, none for a request without an external reference)."""

from __future__ import annotations

import sqlite3
import struct
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import TINY
from tests.lineage_guard import refused_by_commit_guard
from unlearnkit.exact import S3T, load_strategy
from unlearnkit.lineage import LineageStore
from unlearnkit.lineage.requests import _TAINTED_OF
from unlearnkit.lineage.schema import DeletionRequest, Sample
from unlearnkit.lineage.store import WAL_CHECKPOINT_PAGES


@pytest.fixture(scope="module")
def model_dir(small_train, public, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pages") / "model"
    S3T(shards=2, slices=2, budget=2, **TINY).fit(small_train, public, directory=d).close()
    return d


def test_every_connection_runs_with_the_store_settings(tmp_path: Path):
    store = LineageStore(f"sqlite:///{tmp_path / 'l.db'}", b"p" * 32)
    try:
        pooled = store.engine.raw_connection()
        try:
            for con in (pooled.driver_connection, store._kept_connection("write")):  # the writing connections
                assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                assert con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: every commit synced
                assert con.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_CHECKPOINT_PAGES
            assert store._kept_connection("read").execute("PRAGMA query_only").fetchone()[0] == 1  # never commits
        finally:
            pooled.close()
    finally:
        store.close()


def _plan(store: LineageStore, stmt) -> str:
    compiled = stmt.compile(store.engine)
    raw = store.engine.raw_connection()
    try:
        params = [compiled.params[k] for k in compiled.positiontup]
        rows = raw.driver_connection.execute(f"EXPLAIN QUERY PLAN {compiled.string}", params).fetchall()
    finally:
        raw.close()
    return " | ".join(str(r[-1]) for r in rows)


def test_lookups_use_the_partial_indexes(tmp_path: Path):
    store = LineageStore(f"sqlite:///{tmp_path / 'l.db'}", b"p" * 32)
    try:
        raw = store.engine.raw_connection()
        try:
            ddl = dict(raw.driver_connection.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'index'"))
        finally:
            raw.close()
        assert ddl["ix_samples_deleted"].endswith("WHERE status = 'deleted'")
        assert ddl["ix_samples_owner_hmac"].endswith("WHERE owner_hmac IS NOT NULL")
        assert ddl["ux_deletion_requests_external_ref"].startswith("CREATE UNIQUE INDEX")
        # the statements as the store writes them: values bound as parameters, not inlined
        deleted = _plan(store, select(Sample.id).where(Sample.status == "deleted"))
        assert "ix_samples_deleted" in deleted
        owner = _plan(store, select(Sample.id).where(Sample.owner_hmac == "ab" * 32))
        assert "ix_samples_owner_hmac" in owner
        ref = _plan(store, select(DeletionRequest).where(DeletionRequest.external_ref == "ticket-1"))
        assert "ux_deletion_requests_external_ref" in ref
        assert "SCAN" not in deleted + owner + ref
    finally:
        store.close()


def _frames(wal: Path) -> list[int]:
    """Page numbers of the frames in a SQLite write-ahead log (32-byte header; 24-byte frame headers)."""
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32:
        return []
    page_size = struct.unpack(">I", data[8:12])[0]
    out, off = [], 32
    while off + 24 + page_size <= len(data):
        out.append(struct.unpack(">I", data[off : off + 4])[0])
        off += 24 + page_size
    return out


def test_a_single_id_deletion_writes_one_page_per_tree_it_changes(model_dir: Path, tmp_path: Path):
    m = load_strategy(load_strategy(model_dir).save(tmp_path / "m"))
    db = m.directory / "lineage.db"
    try:
        ids = sorted(m.assignment_)
        m.forget([ids[0]])
        probe = sqlite3.connect(db)
        try:
            probe.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next commit writes the log from its start
            m.forget([ids[1]])
            frames = _frames(db.with_name("lineage.db-wal"))
            try:
                names = dict(probe.execute("SELECT pageno, name FROM dbstat"))
            except sqlite3.OperationalError:  # SQLite built without the dbstat table
                names = None
        finally:
            probe.close()
    finally:
        m.close()
    assert len(frames) == len(set(frames))  # each page once per commit
    assert len(frames) <= 15  # 14 on a store of 10,000 samples
    if names is None:
        pytest.skip("this SQLite has no dbstat table to name the pages")
    per_tree = Counter(names.get(p, "?") for p in frames)
    assert per_tree["ix_samples_deleted"] == 1  # the deleted row enters the partial index; no active one moves
    assert per_tree["samples"] == 1 and per_tree["request_items"] == 1
    assert not [t for t in per_tree if t.startswith("sqlite_autoindex_request_items")]  # rows in their key tree
    assert "sqlite_autoindex_deletion_requests_2" not in per_tree  # no external reference, no index entry


def _hot_plan(store: LineageStore) -> str:
    sql, args = _TAINTED_OF.sqlite(store.engine.dialect)
    con = store._kept_connection("read")
    return " | ".join(str(r[-1]) for r in con.execute(f"EXPLAIN QUERY PLAN {sql}", args({"b_id": 1})).fetchall())


def test_the_commit_lineage_check_reads_from_the_deleted_sample(model_dir: Path, tmp_path: Path):
    """Sample → its slice generations → the checkpoints trained on them: a few probes whatever the number of
    checkpoints, never a walk over every active one."""
    m = load_strategy(load_strategy(model_dir).save(tmp_path / "m"))
    try:
        plan = _hot_plan(m.store)
    finally:
        m.close()
    assert plan.index("ix_slice_members_sample_id") < plan.index("ix_checkpoint_slices_slice")
    assert "ix_checkpoints_status" not in plan and "SCAN" not in plan


def test_a_store_made_before_the_slice_index_gets_it_on_open(model_dir: Path, tmp_path: Path):
    d = load_strategy(model_dir).save(tmp_path / "m")
    con = sqlite3.connect(d / "lineage.db")
    con.execute("DROP INDEX ix_checkpoint_slices_slice")  # as an earlier version made it
    con.commit()
    con.close()
    m = load_strategy(d)
    try:
        assert "ix_checkpoint_slices_slice" in _hot_plan(m.store)
        m.forget([sorted(m.assignment_)[0]])
    finally:
        m.close()


def test_a_commit_that_would_leave_a_tainted_checkpoint_active_is_refused(model_dir: Path, tmp_path: Path):
    """The store's own guard: a plan that forgets to retire the checkpoints trained on a deleted id (a strategy
    bug) is refused inside the commit, and nothing of it is written."""
    m = load_strategy(load_strategy(model_dir).save(tmp_path / "m"))
    try:
        refused_by_commit_guard(m.store, sorted(m.assignment_)[0])
    finally:
        m.close()
