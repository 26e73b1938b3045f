"""Samples and slices in the lineage store: bulk ingest, membership, and lookups by query (never all rows).

Mixed into :class:`~unlearnkit.lineage.store.LineageStore`. Ingest writes with SQLAlchemy Core in batches
(``executemany``), or ``COPY`` on PostgreSQL; lookups read only the ids asked about.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain, islice, repeat
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from unlearnkit.errors import LineageError, UnknownIdError
from unlearnkit.lineage._prepared import Prepared, Tx, dialect_insert, tx_of
from unlearnkit.lineage._util import utcnow
from unlearnkit.lineage.schema import ExternalId, ModelVersion, PendingPurge, Sample, SliceMember, SliceRow

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from unlearnkit.data.dataset import IdDataset

BATCH = 5_000  # rows per executemany / COPY chunk (bounded memory at any N)
IN_CHUNK = 500  # ids per IN (...) clause
DEFER_INDEXES = {"sqlite", "postgresql"}  # dialects whose DDL is transactional


def ids_digest(ids: np.ndarray | Iterable[int]) -> str:
    """sha256 of the sorted ids, comma-joined (the name of a seen set, as SISA's ``getShardHash``).

    Equal to :func:`unlearnkit.data.dataset.ids_hash`, computed from an array without a Python int per id.
    """
    arr = np.sort(np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64))
    text = ",".join(arr.astype(str).tolist()) if len(arr) else ""
    return hashlib.sha256(text.encode()).hexdigest()


def content_hashes(x: np.ndarray, y: np.ndarray, key: bytes) -> list[str]:
    """HMAC-SHA256 of each row's float32 features and label bytes (as :meth:`IdDataset.content_hashes`)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    xb, yb = x.tobytes(), np.ascontiguousarray(y).tobytes()
    fx, fy = x.shape[1] * 4, y.dtype.itemsize
    digest = hmac.digest  # one C call per row (no HMAC object)
    return [
        digest(key, b"content:" + xb[k * fx : (k + 1) * fx] + yb[k * fy : (k + 1) * fy], "sha256").hex()
        for k in range(len(x))
    ]


def _fingerprint(ids: np.ndarray, x: np.ndarray, y: np.ndarray, key: bytes) -> str:
    """:meth:`IdDataset.fingerprint` over the arrays' buffers (no copy of the features)."""
    h = hmac.new(key, b"fingerprint:", hashlib.sha256)
    for arr in (ids, x, y):
        h.update(memoryview(np.ascontiguousarray(arr)).cast("B"))
    return h.hexdigest()


_samples = Sample.__table__
#: a deletion's lookup of the rows it names, built once (see ``unlearnkit.lineage._prepared``)
_ROW_COLUMNS = (_samples.c.id, _samples.c.shard, _samples.c.slice, _samples.c.status, _samples.c.content_hash)
_SAMPLE_ROWS = select(*_ROW_COLUMNS).where(_samples.c.id.in_(bindparam("ids", expanding=True)))
_SAMPLE_ROW = Prepared(select(*_ROW_COLUMNS).where(_samples.c.id == bindparam("b_id")))  # SQLite, a few ids
POINT_READS = 64  # up to this many ids, SQLite reads them one indexed statement each (raw); more, with IN (...)


def _queue_insert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (sample_id) DO NOTHING`` into pending_purges (SQLite and PostgreSQL)."""
    return dialect_insert(dialect, PendingPurge.__table__).on_conflict_do_nothing(index_elements=["sample_id"])


_QUEUE = Prepared(per_dialect=_queue_insert)


def _chunks(seq: Sequence[Any], n: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for k in range(0, len(seq), n):
        yield seq[k : k + n]


class SampleMixin:
    """Ingest and sample lookups; needs ``session``, ``url``, ``engine``, hashing and ``record_event``."""

    _pepper: bytes
    url: str
    session: Any
    read_session: Any
    read_connection: Any
    record_event: Any
    owner_hash: Any
    external_hash: Any

    # -- writing rows in bulk ------------------------------------------------------------------------------
    def _bulk_insert(
        self, s: Session | Connection | Tx, table: Any, columns: Sequence[str], rows: Iterable[tuple]
    ) -> None:
        """Insert ``rows`` (tuples in ``columns`` order, consumed lazily) in the session's (or connection's)
        transaction: COPY on PostgreSQL, the driver's ``executemany`` on SQLite, batched Core ``executemany``
        elsewhere."""
        tx = tx_of(s)
        if tx.raw is not None:  # SQLite: tuples straight to the driver, no per-row dict or bind processing
            cols = ", ".join(f'"{c}"' for c in columns)
            tx.raw.executemany(
                f'INSERT INTO "{table.name}" ({cols}) VALUES ({", ".join("?" * len(columns))})', iter(rows)
            )
            return
        conn = tx.conn
        assert conn is not None
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
            raw = conn.connection.driver_connection
            cols = ", ".join(f'"{c}"' for c in columns)
            with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
            return
        stmt = insert(table)
        it = iter(rows)
        while batch := [dict(zip(columns, row, strict=True)) for row in islice(it, BATCH)]:
            conn.execute(stmt, batch)

    @contextmanager
    def _indexes_deferred(self, s: Session, tables: Sequence[Any]) -> Iterator[None]:
        """On SQLite, drop the secondary indexes of ``tables`` for a bulk insert into them and build them again
        afterwards, in the same transaction (one sort per index instead of N random B-tree inserts); elsewhere
        nothing. Used on a store's first ingest only, so no other statement runs without them."""
        conn = s.connection()
        indexes = [ix for t in tables for ix in sorted(t.indexes, key=lambda ix: ix.name)]
        if conn.dialect.name not in DEFER_INDEXES:
            yield
            return
        for ix in indexes:
            ix.drop(conn)
        yield
        for ix in indexes:
            ix.create(conn)

    # -- ingest ---------------------------------------------------------------------------------------
    def ingest(
        self,
        data: IdDataset,
        assignment: Mapping[int, tuple[int, int]] | tuple[np.ndarray, np.ndarray],
        hashes: Sequence[str] | None = None,
    ) -> None:
        """Register every sample (keyed content hash taken now) and generation 0 of every slice, in one
        transaction. ``assignment``: ``(shard, slice)`` arrays aligned with ``data``'s rows, or ``{id: cell}``.
        ``hashes``: the rows' content hashes when the caller already computed them.

        Rows are built column-wise, a batch at a time (the ids, cells and hashes of ``BATCH`` rows as Python
        values, zipped into tuples the driver consumes as they come); the secondary indexes of the two bulk
        tables are built once at the end (SQLite)."""
        ids = data.ids.numpy()
        if isinstance(assignment, tuple):
            shard, sl = (np.asarray(a) for a in assignment)
        else:
            cells = [assignment[int(i)] for i in ids]
            shard = np.asarray([c[0] for c in cells], dtype=np.int64)
            sl = np.asarray([c[1] for c in cells], dtype=np.int64)
        owners = data.owners
        owner_h: dict[str, str] = {}
        if owners is not None:
            owner_h = {o: self.owner_hash(o) for o in set(owners) if o is not None}
        x, y = data.x.numpy(), data.y.numpy()

        def sample_rows() -> Iterator[Iterable[tuple]]:
            for start in range(0, len(ids), BATCH):
                stop = min(start + BATCH, len(ids))
                hs = (
                    hashes[start:stop]
                    if hashes is not None
                    else content_hashes(x[start:stop], y[start:stop], self._pepper)
                )
                cols: list[Iterable[Any]] = [ids[start:stop].tolist(), hs, shard[start:stop].tolist()]
                cols += [sl[start:stop].tolist(), repeat("active")]
                if owners is not None:
                    cols.append([None if o is None else owner_h[o] for o in owners[start:stop]])
                yield zip(*cols, strict=False)  # "active" repeats

        with self.session() as s:
            if s.execute(select(func.count()).select_from(Sample)).scalar_one():
                raise LineageError(f"{self.url}: the store already holds samples; use a new model directory")
            cols = ("id", "content_hash", "shard", "slice", "status") + (("owner_hmac",) if owners is not None else ())
            cell = shard.astype(np.int32) * (int(sl.max()) + 1 if len(sl) else 1) + sl
            order = np.argsort(cell, kind="stable")  # ids stay sorted within a cell
            bounds = np.flatnonzero(np.diff(cell[order])) + 1
            del cell
            groups = np.split(order, bounds) if len(order) else []
            with self._indexes_deferred(s, (Sample.__table__, SliceMember.__table__)):
                self._bulk_insert(s, Sample.__table__, cols, chain.from_iterable(sample_rows()))
                for g in groups:
                    self._add_slice_generation(s, int(shard[g[0]]), int(sl[g[0]]), 0, ids[g])
            del order, groups
            ext = data.external_to_internal()
            if ext:
                self._bulk_insert(
                    s,
                    ExternalId.__table__,
                    ("external_hmac", "sample_id"),
                    ((self.external_hash(e), int(i)) for e, i in ext.items()),
                )
            s.add(ModelVersion(version=0, created_at=utcnow(), reason="ingest", request_id=None))
            self.record_event(
                "ingest",
                {
                    "samples": len(data),
                    "dataset_fingerprint": _fingerprint(ids, x, y, self._pepper),
                    "slices": len(bounds) + 1 if len(ids) else 0,
                },
                s,
            )

    def _add_slice_generation(self, s: Session, shard: int, sl: int, generation: int, ids: np.ndarray) -> SliceRow:
        ids = np.asarray(ids, dtype=np.int64)
        row = SliceRow(
            shard=shard, slice=sl, generation=generation, ids_hash=ids_digest(ids), size=len(ids), current=True
        )
        s.add(row)
        s.flush()
        self._bulk_insert(s, SliceMember.__table__, ("slice_row", "sample_id"), zip(repeat(row.id), ids.tolist()))
        return row

    # -- membership -------------------------------------------------------------------------------------
    def assignment(self) -> dict[int, tuple[int, int]]:
        """``{id: (shard, slice)}`` of every sample (an O(N) read: for tools and tests, not the engine)."""
        with self.session() as s:
            return {i: (sh, sl) for i, sh, sl in s.execute(select(Sample.id, Sample.shard, Sample.slice))}

    def cells(self, ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """``{id: (shard, slice)}`` of ``ids`` only (unknown ids are left out)."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, tuple[int, int]] = {}
        with self.read_session() as s:
            for chunk in _chunks(wanted):
                q = select(Sample.id, Sample.shard, Sample.slice).where(Sample.id.in_(list(chunk)))
                out.update({i: (sh, sl) for i, sh, sl in s.execute(q)})
        return out

    def cell_counts(self) -> dict[tuple[int, int], tuple[int, int]]:
        """``{(shard, slice): (active samples, deleted samples)}`` by one grouped query."""
        with self.session() as s:
            q = select(Sample.shard, Sample.slice, Sample.status, func.count()).group_by(
                Sample.shard, Sample.slice, Sample.status
            )
            out: dict[tuple[int, int], tuple[int, int]] = {}
            for sh, sl, st, n in s.execute(q):
                a, d = out.get((sh, sl), (0, 0))
                out[(sh, sl)] = (a + n, d) if st == "active" else (a, d + n)
            return out

    def _members(self, s: Session, slice_row: int) -> np.ndarray:
        q = select(SliceMember.sample_id).where(SliceMember.slice_row == slice_row).order_by(SliceMember.sample_id)
        return np.fromiter((i for (i,) in s.execute(q)), dtype=np.int64)

    def current_slices(self, shard: int) -> dict[int, tuple[int, np.ndarray]]:
        """``{slice: (slice_row_id, sorted member ids)}`` for one shard's current generations."""
        with self.session() as s:
            rows = s.execute(select(SliceRow.id, SliceRow.slice).where(SliceRow.shard == shard, SliceRow.current))
            return {sl: (rid, self._members(s, rid)) for rid, sl in rows.all()}

    def refresh_slices(self, shard: int) -> dict[int, tuple[int, np.ndarray]]:
        """Make a new generation of every slice of ``shard`` that holds deleted samples; return current slices."""
        with self.session() as s:
            rows = s.execute(select(SliceRow).where(SliceRow.shard == shard, SliceRow.current)).scalars().all()
            for r in rows:
                gone = s.execute(
                    select(func.count())
                    .select_from(SliceMember)
                    .join(Sample, Sample.id == SliceMember.sample_id)
                    .where(SliceMember.slice_row == r.id, Sample.status == "deleted")
                ).scalar_one()
                if gone:
                    keep = s.execute(
                        select(SliceMember.sample_id)
                        .join(Sample, Sample.id == SliceMember.sample_id)
                        .where(SliceMember.slice_row == r.id, Sample.status == "active")
                        .order_by(SliceMember.sample_id)
                    )
                    r.current = False
                    s.flush()
                    self._add_slice_generation(
                        s, shard, r.slice, r.generation + 1, np.fromiter((i for (i,) in keep), dtype=np.int64)
                    )
        return self.current_slices(shard)

    # -- samples ---------------------------------------------------------------------------------------
    def unknown_ids(self, ids: Iterable[int]) -> list[int]:
        wanted = sorted({int(i) for i in ids})
        known: set[int] = set()
        with self.read_session() as s:
            for chunk in _chunks(wanted):
                known.update(s.execute(select(Sample.id).where(Sample.id.in_(list(chunk)))).scalars())
        return [i for i in wanted if i not in known]

    def owner_known(self, owner: str) -> bool:
        with self.session() as s:
            return (
                s.execute(select(Sample.id).where(Sample.owner_hmac == self.owner_hash(owner)).limit(1)).first()
                is not None
            )

    def ids_of_owner(self, owner: str) -> list[int]:
        with self.session() as s:
            ids = (
                s.execute(select(Sample.id).where(Sample.owner_hmac == self.owner_hash(owner)).order_by(Sample.id))
                .scalars()
                .all()
            )
        if not ids:
            raise UnknownIdError(owner=owner)
        return list(ids)

    def ids_of_external(self, external_ids: Iterable[str]) -> list[int]:
        """Internal ids of external ids; raises :class:`UnknownIdError` naming the unknown ones."""
        wanted = sorted({str(e) for e in external_ids})
        by_hash = {self.external_hash(e): e for e in wanted}
        found: dict[str, int] = {}
        with self.session() as s:
            for chunk in _chunks(sorted(by_hash)):
                q = select(ExternalId.external_hmac, ExternalId.sample_id).where(
                    ExternalId.external_hmac.in_(list(chunk))
                )
                found.update({by_hash[h]: sid for h, sid in s.execute(q)})
        unknown = [e for e in wanted if e not in found]
        if unknown:
            raise UnknownIdError(unknown)  # type: ignore[arg-type]
        return sorted(found.values())

    def external_hashes_of(self, ids: Iterable[int]) -> list[str]:
        """Keyed hashes of the external ids of internal ``ids`` (those that have one)."""
        wanted = sorted({int(i) for i in ids})
        out: list[str] = []
        with self.read_session() as s:
            for chunk in _chunks(wanted):
                q = select(ExternalId.external_hmac).where(ExternalId.sample_id.in_(list(chunk)))
                out.extend(s.execute(q).scalars())
        return sorted(out)

    def deleted_ids(self) -> set[int]:
        with self.session() as s:
            return set(s.execute(select(Sample.id).where(Sample.status == "deleted")).scalars())

    def sample_rows(self, ids: Iterable[int], session: Session | None = None) -> dict[int, dict[str, Any]]:
        """``{id: {shard, slice, status, content_hash}}`` of ``ids`` (a query per 500 ids)."""
        wanted = sorted({int(i) for i in ids})
        out: dict[int, dict[str, Any]] = {}
        if session is None and len(wanted) <= POINT_READS and self.url.startswith("sqlite"):
            with self.hot_read() as tx:  # type: ignore[attr-defined]
                for b_id in wanted:
                    for i, sh, sl, st, h in tx.rows(_SAMPLE_ROW, {"b_id": b_id}):
                        out[i] = {"shard": sh, "slice": sl, "status": st, "content_hash": h}
            return out
        ctx: AbstractContextManager[Any] = self.read_connection() if session is None else _Same(session.connection())
        with ctx as conn:
            for chunk in _chunks(wanted):
                for i, sh, sl, st, h in conn.execute(_SAMPLE_ROWS, {"ids": list(chunk)}):
                    out[i] = {"shard": sh, "slice": sl, "status": st, "content_hash": h}
        return out

    # -- held rows awaiting a durable overwrite ----------------------------------------------------------------
    def queue_purges(self, s: Session | Connection | Tx, cells: Mapping[int, tuple[int, int]]) -> None:
        """Record (in the deletion's own transaction) the held rows to overwrite once it commits (an id already
        queued stays queued once)."""
        rows = [{"sample_id": i, "shard": c[0], "slice": c[1]} for i, c in cells.items()]
        if not rows:
            return
        tx = tx_of(s)
        if tx.name in ("sqlite", "postgresql"):
            tx.run(_QUEUE, rows)
            return
        conn = tx.conn
        assert conn is not None
        queued = set(
            conn.execute(select(PendingPurge.sample_id).where(PendingPurge.sample_id.in_(list(cells)))).scalars()
        )
        fresh = [r for r in rows if r["sample_id"] not in queued]
        if fresh:
            conn.execute(insert(PendingPurge.__table__), fresh)

    def pending_purges(self) -> dict[int, tuple[int, int]]:
        """``{id: (shard, slice)}`` of deleted samples whose held row is not yet known to be overwritten on disk."""
        with self.read_session() as s:
            q = select(PendingPurge.sample_id, PendingPurge.shard, PendingPurge.slice)
            return {i: (sh, sl) for i, sh, sl in s.execute(q)}

    def clear_purges(self, ids: Iterable[int]) -> None:
        """Forget queued purges whose overwrite is on disk (synced)."""
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return
        with self.session() as s:
            for chunk in _chunks(wanted):
                s.execute(delete(PendingPurge).where(PendingPurge.sample_id.in_(list(chunk))))


class _Same:
    """A context manager yielding an existing session or connection (the caller owns its transaction)."""

    def __init__(self, s: Any) -> None:
        self.s = s

    def __enter__(self) -> Any:
        return self.s

    def __exit__(self, *exc: object) -> None:
        return None
