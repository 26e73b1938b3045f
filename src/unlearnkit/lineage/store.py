"""LineageStore: the source of truth for exact guarantees, over SQLAlchemy (SQLite file by default).

Training code never sees SQL: it calls intent-named methods (``ingest``, ``add_checkpoint``,
``commit_deletion``, ``record_event``). Every state change is one transaction that also appends to the
hash-chained audit log, so the log and the state cannot disagree. The chain is keyed: each link is an
HMAC-SHA256 under a key derived from the model's secret, so rewriting it needs that secret (and the signed
checkpoints of its head, :mod:`unlearnkit.lineage.audit`, catch even that). Writers take the audit head's row
lock first, so on PostgreSQL as on SQLite they commit one at a time; a deletion commits only if the model version
it was planned against is still the newest (:class:`~unlearnkit.errors.StalePlanError` otherwise).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import bindparam, create_engine, event, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from unlearnkit.lineage._prepared import Prepared, Tx, dialect_insert, tx_of
from unlearnkit.lineage._util import canonical_json, iso, prefix_str, prefix_tuple, utcnow
from unlearnkit.lineage.checkpoint_rows import CheckpointInfo, CheckpointMixin, info_of
from unlearnkit.lineage.requests import RequestMixin
from unlearnkit.lineage.samples import SampleMixin
from unlearnkit.lineage.schema import (
    ADDED_INDEXES,
    SCHEMA_VERSION,
    AuditEvent,
    Base,
    Checkpoint,
    MetaRow,
    ModelVersion,
    Serving,
)

log = logging.getLogger(__name__)
GENESIS = "0" * 64
_quoted = encode_basestring_ascii  # json.dumps of a str (ensure_ascii), without the encoder's set-up
__all__ = ["AuditReport", "CheckpointInfo", "LineageStore", "canonical_json", "event_hash", "iso", "utcnow"]

CHAIN_ALG = "hmac-sha256"  # legacy stores (no `audit_chain` meta row) chain with plain sha256
# SQLite's write-ahead log is checkpointed once it holds this many pages (SQLite's default: 1000). Until its first
# checkpoint after a process opens the store, each commit appends past the log's end, and the size change makes
# the commit's fsync also flush the file system's journal (a second device flush); after it, commits rewrite the
# log from its start at the same size. A deletion writes about 14 pages, so a 2 MiB log ends that phase after
# about 36 deletions instead of 70; measured in one process, 400 deletions once it ended cost the same with
# either limit (p50 1.72 ms against 1.74; mean 1.78 against 1.83), the extra checkpoints being small.
WAL_CHECKPOINT_PAGES = 512

# Statements of the deletion fast path, built once (see unlearnkit.lineage._prepared: raw on SQLite)
_meta, _serving = MetaRow.__table__, Serving.__table__
HEAD_FOR_UPDATE = Prepared(select(_meta.c.value).where(_meta.c.key == "audit_head").with_for_update())
SET_HEAD = Prepared(update(_meta).where(_meta.c.key == "audit_head").values(value=bindparam("b_value")))
INSERT_EVENTS = Prepared(insert(AuditEvent.__table__))
_SERVING_UPDATE = (
    update(_serving)
    .where(_serving.c.shard == bindparam("b_shard"), _serving.c.sequence == bindparam("b_seq"))
    .values(order=bindparam("b_order"), depth=bindparam("b_depth"), state=bindparam("b_state"))
)
_SERVING_HAVE = select(_serving.c.shard, _serving.c.sequence).where(
    _serving.c.shard.in_(bindparam("shards", expanding=True))
)


def _serving_upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (shard, sequence) DO UPDATE`` on SQLite and PostgreSQL."""
    stmt = dialect_insert(dialect, _serving)
    return stmt.on_conflict_do_update(
        index_elements=["shard", "sequence"],
        set_={"order": stmt.excluded["order"], "depth": stmt.excluded.depth, "state": stmt.excluded.state},
    )


SERVING_UPSERT = Prepared(per_dialect=_serving_upsert)


def event_hash(
    prev_hash: str,
    seq: int,
    at: str,
    event_type: str,
    payload_json: str,
    key: bytes | None = None,
    *,
    canonical: bool = False,
) -> str:
    """The link of one audit row: HMAC-SHA256 under ``key`` of ``prev_hash ‖ canonical row`` (sha256 unkeyed).

    ``canonical``: ``payload_json`` is already :func:`canonical_json` (as every row this store writes), so the
    row is assembled around it instead of parsed and re-encoded; the bytes are the same either way.
    """
    if not canonical:
        payload_json = canonical_json(json.loads(payload_json))
    row = f'{{"at":{_quoted(at)},"event_type":{_quoted(event_type)},"payload":{payload_json},"seq":{int(seq)}}}'
    data = (prev_hash + row).encode()
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


@dataclass
class AuditReport:
    """Outcome of :meth:`LineageStore.verify`: the hash chain and the lineage invariant."""

    ok: bool
    events: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "problems": self.problems}


class LineageStore(SampleMixin, CheckpointMixin, RequestMixin):
    """Samples, slices, checkpoints, serving state, deletion requests and the audit chain.

    Args:
        url: any SQLAlchemy URL; ``sqlite:///path/lineage.db`` by default in a model directory.
        pepper: server-side secret keying the HMACs of owners and ids (destroying it unlinks them).
    """

    def __init__(self, url: str, pepper: bytes) -> None:
        self.url = url
        self._pepper = pepper
        self._id_hashes: dict[int, str] = {}
        self.engine = self._make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader: Engine | None = None
        self._local = threading.local()  # this thread's kept SQLite connections (hot_read, hot_write)
        self._kept: list[tuple[threading.Thread, Any]] = []  # (owner, connection): closed by close(), dispose()
        self._kept_lock = threading.Lock()
        self._generation = 0  # bumped when the kept connections are closed: threads then open new ones
        event.listen(self.engine, "engine_disposed", lambda _engine: self._close_kept())
        Base.metadata.create_all(self.engine)
        self._add_missing_indexes()
        with self.session() as s:
            if s.get(MetaRow, "schema_version") is None:
                s.add(MetaRow(key="schema_version", value=str(SCHEMA_VERSION)))
                s.add(MetaRow(key="audit_head", value=json.dumps({"seq": 0, "hash": GENESIS})))
                s.add(MetaRow(key="audit_chain", value=CHAIN_ALG))
            chain = s.get(MetaRow, "audit_chain")
            self._chain_key = self._hmac_key("audit-chain") if chain is not None and chain.value == CHAIN_ALG else None
            self.chain_alg = chain.value if chain is not None else "sha256"
        self.last_head: tuple[int, str] | None = None

    def _add_missing_indexes(self) -> None:
        """Create the indexes a store made by an earlier version lacks (``create_all`` adds tables, not indexes
        to existing ones). A store opened read-only keeps answering without them, only slower."""
        for ix in ADDED_INDEXES:
            try:
                ix.create(self.engine, checkfirst=True)
            except DBAPIError as exc:  # read-only file, or another process created it meanwhile
                log.info("index %s not added: %s", ix.name, exc.orig)

    @staticmethod
    def _make_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
                dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN IMMEDIATE
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                    cur.execute("PRAGMA journal_mode=WAL")
                    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Any) -> None:
                # IMMEDIATE takes the write lock up front: concurrent writers queue instead of failing on upgrade
                conn.exec_driver_sql("BEGIN IMMEDIATE")

            return engine
        return create_engine(url, pool_pre_ping=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on error."""
        with self._sessions.begin() as s:
            yield s

    def checkpoint_wal(self) -> None:
        """SQLite: copy the write-ahead log into the database file and truncate it (after a bulk write, so that
        opening the store does not index a log as large as the data). Elsewhere nothing."""
        if self.url.startswith("sqlite"):
            raw = self.engine.raw_connection()  # outside any transaction (the driver is in autocommit mode)
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
            finally:
                raw.close()

    def close(self) -> None:
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()
        self._close_kept()

    def _close_kept(self) -> None:
        with self._kept_lock:
            self._generation += 1
            for _, raw in self._kept:
                raw.close()
            self._kept.clear()

    def lock_writes(self, session: Session | Connection | Tx) -> str:
        """Take the writers' lock for this transaction (the audit head row, ``FOR UPDATE``; on SQLite the
        transaction already holds the write lock from ``BEGIN IMMEDIATE``). Returns the head as stored, for
        :meth:`record_events` (saves a second read)."""
        return str(tx_of(session).scalar(HEAD_FOR_UPDATE))

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only transaction that never queues behind writers (a WAL snapshot on SQLite)."""
        if not self.url.startswith("sqlite"):
            with self.session() as s:
                yield s
            return
        with Session(self._reader_engine()) as s, s.begin():
            yield s

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """:meth:`read_session` as a Core connection, for the hot lookups of a deletion (no ORM layer)."""
        engine = self._reader_engine() if self.url.startswith("sqlite") else self.engine
        with engine.connect() as c, c.begin():
            yield c

    def _kept_connection(self, kind: str) -> Any:
        """This thread's ``kind`` ("read"/"write") SQLite driver connection: made by its engine (so the engine's
        pragmas and hooks apply), detached from the pool and kept open; None when the store is not a file."""
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        kept = getattr(self._local, kind, None)
        if kept is not None and kept[0] == self._generation:
            return kept[1]
        pooled = (self._reader_engine() if kind == "read" else self.engine).raw_connection()
        raw = pooled.driver_connection
        pooled.detach()
        with self._kept_lock:
            for owner, old in [k for k in self._kept if not k[0].is_alive()]:  # threads that ended
                old.close()
                self._kept.remove((owner, old))
            self._kept.append((threading.current_thread(), raw))
            setattr(self._local, kind, (self._generation, raw))
        return raw

    @contextmanager
    def hot_read(self) -> Iterator[Tx]:
        """A read snapshot for a deletion's lookups: on a SQLite file this thread's kept connection (no pool
        checkout, no execution layer: tens of microseconds), elsewhere a Core transaction.

        The kept *write* connection reads when it is not inside a transaction: its page cache survives its own
        commits, while a separate reader's is dropped at every commit another connection makes."""
        raw = self._kept_connection("write")
        if raw is not None and raw.in_transaction:
            raw = self._kept_connection("read")
        if raw is None:
            with self.read_connection() as conn:
                yield Tx(conn)
            return
        raw.execute("BEGIN")  # one snapshot for every read in the block
        try:
            yield Tx(raw=raw, dialect=self.engine.dialect)
        finally:
            raw.rollback()

    @contextmanager
    def hot_write(self, *, core: bool = False) -> Iterator[Tx]:
        """A write transaction for the deletion fast path: on a SQLite file (unless ``core``) ``BEGIN IMMEDIATE``
        on this thread's kept connection, committed when the block ends and rolled back on an error; elsewhere
        a Core transaction."""
        raw = None if core else self._kept_connection("write")
        if raw is None:
            with self.engine.begin() as conn:
                yield Tx(conn)
            return
        raw.execute("BEGIN IMMEDIATE")  # the write lock up front, as the engine's own transactions take it
        try:
            yield Tx(raw=raw, dialect=self.engine.dialect)
            raw.commit()
        except BaseException:
            if raw.in_transaction:  # an error before or during COMMIT: nothing of it stays
                raw.rollback()
            raise

    def _reader_engine(self) -> Engine:
        if self._reader is None:
            self._reader = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(self._reader, "connect")
            def _ro(dbapi_conn: Any, _rec: Any) -> None:
                dbapi_conn.isolation_level = None  # BEGIN below, so the reads share one snapshot
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA query_only=ON")
                cur.close()

            @event.listens_for(self._reader, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN")

        return self._reader

    def current_version(self) -> int:
        """The newest model version, read without joining the writers' queue.

        Servers call it before every answer, so it must not wait behind a commit in progress.
        """
        with self.read_session() as s:
            return int(s.execute(select(func.max(ModelVersion.version))).scalar_one() or 0)

    # -- hashing ------------------------------------------------------------------------------------
    def _hmac_key(self, purpose: str) -> bytes:
        """A key for one purpose, derived from the pepper (so one secret file keys everything)."""
        return hmac.new(self._pepper, f"unlearnkit:{purpose}".encode(), hashlib.sha256).digest()

    def keyed_hash(self, purpose: str, text: str) -> str:
        """HMAC-SHA256 of ``text`` under the pepper-derived key for ``purpose`` (e.g. an external reference)."""
        return hmac.new(self._hmac_key(purpose), text.encode(), hashlib.sha256).hexdigest()

    def _hmac(self, text: str) -> str:
        return hmac.new(self._pepper, text.encode(), hashlib.sha256).hexdigest()

    def id_hash(self, sample_id: int) -> str:
        """HMAC-SHA256 of a sample id under the model's pepper (what receipts and logs show).

        A deletion names each id in its receipt and in two audit events: the last few thousand are remembered.
        """
        i = int(sample_id)
        h = self._id_hashes.get(i)
        if h is None:
            if len(self._id_hashes) >= 4096:
                self._id_hashes.clear()
            h = self._id_hashes[i] = self._hmac(f"id:{i}")
        return h

    def owner_hash(self, owner: str) -> str:
        return self._hmac(f"owner:{owner}")

    def external_hash(self, external_id: str) -> str:
        """HMAC-SHA256 of an external (string) id: the only form in which the store and receipts hold it."""
        return self._hmac(f"external:{external_id}")

    # -- audit ----------------------------------------------------------------------------------------
    def record_event(self, event_type: str, payload: Mapping[str, Any], session: Session | None = None) -> str:
        """Append an event to the hash chain (ids and hashes only, never raw data); returns its hash."""
        if session is None:
            with self.session() as s:
                return self.record_event(event_type, payload, s)
        return self.record_events([(event_type, payload)], session)[-1]

    def record_events(
        self,
        events: Sequence[tuple[str, Mapping[str, Any]]],
        session: Session | Connection | Tx,
        head_json: str | None = None,
    ) -> list[str]:
        """Append several events in order, in the caller's transaction: one read of the head (locked; skipped
        when the caller passes what :meth:`lock_writes` returned), one insert, one update. Returns their hashes."""
        tx = tx_of(session)
        head = json.loads(head_json if head_json is not None else tx.scalar(HEAD_FOR_UPDATE))
        seq, prev, at = int(head["seq"]), str(head["hash"]), iso(utcnow()) or ""
        rows, hashes = [], []
        for event_type, payload in events:
            seq += 1
            payload_json = canonical_json(dict(payload))
            h = event_hash(prev, seq, at, event_type, payload_json, self._chain_key, canonical=True)
            rows.append(
                {
                    "seq": seq,
                    "at": at,
                    "event_type": event_type,
                    "payload_json": payload_json,
                    "prev_hash": prev,
                    "hash": h,
                }
            )
            prev = h
            hashes.append(h)
        self.last_head = (seq, prev)  # what the writer signs next (see unlearnkit.lineage.audit.chain_head)
        if rows:
            tx.run(INSERT_EVENTS, rows)
            tx.run(SET_HEAD, {"b_value": json.dumps({"seq": seq, "hash": prev})})
        return hashes

    def chain_state(self) -> tuple[int, str, int, str]:
        """``(head seq, head hash, model version, chain algorithm)`` in one read."""
        with self.read_session() as s:
            meta = dict(
                s.execute(
                    select(MetaRow.key, MetaRow.value).where(MetaRow.key.in_(["audit_head", "audit_chain"]))
                ).all()
            )
            version = int(s.execute(select(func.max(ModelVersion.version))).scalar_one() or 0)
        head = json.loads(meta.get("audit_head") or '{"seq": 0, "hash": ""}')
        return int(head["seq"]), str(head["hash"]), version, meta.get("audit_chain") or "sha256"

    def audit_events(self, since: int = 0) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.execute(select(AuditEvent).where(AuditEvent.seq > since).order_by(AuditEvent.seq)).scalars()
            return [
                {
                    "seq": r.seq,
                    "at": r.at,
                    "event_type": r.event_type,
                    "payload": json.loads(r.payload_json),
                    "prev_hash": r.prev_hash,
                    "hash": r.hash,
                }
                for r in rows
            ]

    # -- meta -----------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(MetaRow, key)
            return None if row is None else row.value

    def set_meta(self, key: str, value: str, session: Session | None = None) -> None:
        if session is None:
            with self.session() as s:
                return self.set_meta(key, value, s)
        row = session.get(MetaRow, key)
        if row is None:
            session.add(MetaRow(key=key, value=value))
        else:
            row.value = value
        return None

    # -- serving -------------------------------------------------------------------------------------------
    def set_serving(
        self, rows: Sequence[tuple[int, int, Sequence[int], int, str]], session: Session | Connection | Tx
    ) -> None:
        """Upsert serving rows ``(shard, sequence, order, depth, state)`` (one statement on SQLite/PostgreSQL)."""
        if not rows:
            return
        tx = tx_of(session)
        table = _serving
        if tx.name in ("sqlite", "postgresql"):
            tx.run(
                SERVING_UPSERT,
                [
                    {"shard": sh, "sequence": sq, "order": prefix_str(o), "depth": d, "state": st}
                    for sh, sq, o, d, st in rows
                ],
            )
            return
        conn = tx.conn  # another database: always a Core transaction
        assert conn is not None
        shards = sorted({int(r[0]) for r in rows})
        have = set(conn.execute(_SERVING_HAVE, {"shards": shards}).all())
        new = [
            {"b_shard": sh, "b_seq": sq, "b_order": prefix_str(o), "b_depth": d, "b_state": st}
            for sh, sq, o, d, st in rows
        ]
        old = [r for r in new if (r["b_shard"], r["b_seq"]) in have]
        if old:
            conn.execute(_SERVING_UPDATE, old)
        add = [r for r in new if (r["b_shard"], r["b_seq"]) not in have]
        if add:
            conn.execute(
                insert(table),
                [
                    {
                        "shard": r["b_shard"],
                        "sequence": r["b_seq"],
                        "order": r["b_order"],
                        "depth": r["b_depth"],
                        "state": r["b_state"],
                    }
                    for r in add
                ],
            )

    def serving(self) -> list[tuple[int, int, tuple[int, ...], int, str]]:
        with self.session() as s:
            return self._serving_rows(s)

    @staticmethod
    def _serving_rows(s: Session) -> list[tuple[int, int, tuple[int, ...], int, str]]:
        rows = s.execute(select(Serving).order_by(Serving.shard, Serving.sequence)).scalars()
        return [(r.shard, r.sequence, prefix_tuple(r.order), r.depth, r.state) for r in rows]

    def serving_state(
        self,
    ) -> tuple[int, list[tuple[int, int, tuple[int, ...], int, str]], list[CheckpointInfo]]:
        """``(model version, serving rows, active checkpoints)`` read in one transaction (a consistent state)."""
        with self.read_session() as s:
            version = int(s.execute(select(func.max(ModelVersion.version))).scalar_one() or 0)
            rows = self._serving_rows(s)
            active = [info_of(c) for c in s.execute(select(Checkpoint).where(Checkpoint.status == "active")).scalars()]
            return version, rows, active

    @property
    def model_version(self) -> int:
        with self.session() as s:
            return int(s.execute(select(func.max(ModelVersion.version))).scalar_one() or 0)

    def bump_version(self, reason: str, request_id: str | None, session: Session, current: int | None = None) -> int:
        """Add the next model version (``current`` + 1 when the caller already read it under the lock)."""
        if current is None:
            current = int(session.execute(select(func.max(ModelVersion.version))).scalar_one() or 0)
        v = int(current) + 1
        session.execute(
            insert(ModelVersion.__table__).values(version=v, created_at=utcnow(), reason=reason, request_id=request_id)
        )
        return v

    def record_retrain(
        self,
        shard: int,
        *,
        serving: Sequence[tuple[int, int, Sequence[int], int, str]],
        retire: Sequence[str],
        info: dict[str, Any],
        session: Session,
    ) -> int:
        if retire:
            session.execute(
                update(Checkpoint)
                .where(Checkpoint.key.in_(list(retire)), Checkpoint.status == "active")
                .values(status="retired", retired_at=utcnow())
            )
        self.set_serving(serving, session)
        version = self.bump_version("retrain", None, session)
        self.record_event("shard.retrained", {"shard": shard, "model_version": version, **info}, session)
        return version

    # -- verification --------------------------------------------------------------------------------------
    def verify(self) -> AuditReport:
        """Re-verify the audit hash chain and the lineage invariant."""
        problems: list[str] = []
        prev, n = GENESIS, 0
        with self.session() as s:
            for r in s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
                n += 1
                if r.seq != n:
                    problems.append(f"audit event {r.seq}: expected sequence number {n} (an event is missing)")
                if r.prev_hash != prev:
                    problems.append(f"audit event {r.seq}: prev_hash does not match the previous event's hash")
                if event_hash(r.prev_hash, r.seq, r.at, r.event_type, r.payload_json, self._chain_key) != r.hash:
                    problems.append(f"audit event {r.seq}: hash mismatch (the row was altered)")
                prev = r.hash
            head = json.loads(s.get(MetaRow, "audit_head").value)  # type: ignore[union-attr]
            if head["seq"] != n or head["hash"] != prev:
                problems.append("audit head does not point at the last event (events were removed)")
            for key, sid in s.execute(self._tainted_query().limit(20)).all():
                problems.append(f"active checkpoint {key[:12]} saw deleted sample {self.id_hash(sid)[:12]}")
            for r in s.execute(select(Serving)).scalars():
                if r.state != "serving" or r.depth == 0:
                    continue
                order, found = prefix_tuple(r.order), False
                for d in range(1, r.depth + 1):
                    latest = s.execute(
                        select(Checkpoint.key, Checkpoint.status)
                        .where(Checkpoint.shard == r.shard, Checkpoint.prefix == prefix_str(order[:d]))
                        .order_by(Checkpoint.id.desc())
                        .limit(1)
                    ).first()
                    if latest is None:
                        continue  # a stage with no new data trains nothing (SISA)
                    found = True
                    if latest[1] != "active":
                        problems.append(
                            f"shard {r.shard} sequence {r.sequence} serves depth {r.depth} through "
                            f"checkpoint {latest[0][:12]}, which is {latest[1]}"
                        )
                if not found:
                    problems.append(f"shard {r.shard} sequence {r.sequence} serves depth {r.depth} with no checkpoint")
        return AuditReport(ok=not problems, events=n, problems=problems)
