"""Bulk ingest into a fresh lineage store: every row, owner and slice member written, and the store ends with
exactly the indexes the schema declares (they are built after the rows, in the same transaction)."""

from __future__ import annotations

import os

import numpy as np
from sqlalchemy import text

from unlearnkit.data import IdDataset
from unlearnkit.lineage.store import LineageStore


def _indexes(store: LineageStore) -> list[tuple[str, str]]:
    with store.engine.connect() as c:
        q = text("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
        return [(name, sql or "") for name, sql in c.execute(q)]


def test_ingest_writes_every_row_and_keeps_the_declared_indexes(tmp_path):
    rng = np.random.default_rng(0)
    n = 257
    owners = [None if k % 5 == 0 else f"owner-{k % 9}" for k in range(n)]
    data = IdDataset.create(
        rng.standard_normal((n, 3)).astype(np.float32), rng.integers(2, size=n), owners=owners, num_classes=2
    )
    shard, sl = rng.integers(2, size=n), rng.integers(3, size=n)
    empty = LineageStore(f"sqlite:///{tmp_path / 'empty.db'}", os.urandom(32))
    store = LineageStore(f"sqlite:///{tmp_path / 'lineage.db'}", os.urandom(32))
    try:
        store.ingest(data, (shard, sl))
        assert _indexes(store) == _indexes(empty)
        assert store.assignment() == {int(i): (int(a), int(b)) for i, a, b in zip(data.ids, shard, sl, strict=True)}
        assert store.ids_of_owner("owner-4") == [
            int(i) for i, o in zip(data.ids, data.owners, strict=True) if o == "owner-4"
        ]
        with store.engine.connect() as c:
            assert c.execute(
                text("SELECT count(*) FROM samples WHERE owner_hmac IS NULL")
            ).scalar_one() == owners.count(None)
            assert c.execute(text("SELECT count(*) FROM samples WHERE status = 'active'")).scalar_one() == n
            members = c.execute(
                text(
                    "SELECT slices.shard, slices.slice, slice_members.sample_id FROM slice_members "
                    "JOIN slices ON slices.id = slice_members.slice_row"
                )
            ).all()
        assert sorted((int(a), int(b), int(i)) for a, b, i in members) == sorted(
            (int(a), int(b), int(i)) for i, a, b in zip(data.ids, shard, sl, strict=True)
        )
        row = store.sample_rows([int(data.ids[3])])[int(data.ids[3])]
        assert row["content_hash"] == data.take([3]).content_hashes(store._pepper)[0]
    finally:
        store.close()
        empty.close()
