"""Deletion requests in the lineage store: received → committed → completed, each step audited.

Mixed into :class:`~unlearnkit.lineage.store.LineageStore`. :meth:`RequestMixin.commit_batch` is the fast path:
any number of requests — received, committed (samples deleted, checkpoints retired, serving changed, version
bumped), completed with their receipts, every audit event — in ONE transaction (group commit). The
step-by-step methods (:meth:`begin_request`, :meth:`commit_deletion`, :meth:`finish`) serve deletions that
retrain before they complete, and resume interrupted ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from unlearnkit.errors import LineageError, RequestConflictError, StalePlanError
from unlearnkit.lineage._prepared import IntegrityErrors, Prepared
from unlearnkit.lineage._util import canonical_json, iso, utcnow
from unlearnkit.lineage.checkpoint_rows import tainted_query
from unlearnkit.lineage.exports import ExportRecord
from unlearnkit.lineage.schema import Checkpoint, DeletionRequest, ModelVersion, RequestItem, Sample

_requests, _samples, _ckpt = DeletionRequest.__table__, Sample.__table__, Checkpoint.__table__
# the fast path's statements, built once (see unlearnkit.lineage._prepared: run raw on SQLite)
_MAX_VERSION = Prepared(select(func.max(ModelVersion.__table__.c.version)))
_ANY_EXPORT = Prepared(select(ExportRecord.__table__.c.id).limit(1))
_INSERT_REQUESTS = Prepared(insert(_requests))
_INSERT_VERSIONS = Prepared(insert(ModelVersion.__table__))
_DELETE_SAMPLES = Prepared(
    update(_samples)
    .where(_samples.c.id == bindparam("b_id"), _samples.c.status == "active")
    .values(status="deleted", deleted_by=bindparam("b_rid"), deleted_at=bindparam("b_now"))
)
_RETIRE = Prepared(
    update(_ckpt)
    .where(_ckpt.c.key == bindparam("b_key"), _ckpt.c.status == "active")
    .values(status=bindparam("b_state"), retired_at=bindparam("b_now"), purged_at=bindparam("b_purged"))
)
_FINISH_REQUESTS = Prepared(
    update(_requests)
    .where(_requests.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        plan_json=bindparam("b_plan"),
        completed_at=bindparam("b_completed"),
        receipt_json=bindparam("b_receipt"),
    )
)


def _tainted_of(dialect: str) -> Any:
    """An active checkpoint whose seen set holds the just-deleted sample ``b_id`` (none may exist).

    Read from the sample's side: its slice generations (``slice_members`` by sample), the checkpoints trained
    on those (``checkpoint_slices`` by slice), then their status, so the check costs a few index probes
    whatever the number of checkpoints. SQLite's planner, given ``checkpoints.status = 'active'``, starts from
    every active checkpoint instead (a probe per checkpoint and slice: about 10× slower here, and growing with
    the model), so on SQLite the order is spelled out with ``CROSS JOIN`` (which its planner never reorders).
    """
    if dialect != "sqlite":
        return tainted_query().where(_samples.c.id == bindparam("b_id")).limit(1)
    return text(
        'SELECT checkpoints."key", samples.id FROM slice_members'
        " CROSS JOIN checkpoint_slices CROSS JOIN checkpoints CROSS JOIN samples"
        " WHERE slice_members.sample_id = :b_id AND checkpoint_slices.slice_row = slice_members.slice_row"
        " AND checkpoints.id = checkpoint_slices.checkpoint_id AND checkpoints.status = 'active'"
        " AND samples.id = slice_members.sample_id AND samples.status = 'deleted' LIMIT 1"
    )


_TAINTED_OF = Prepared(per_dialect=_tainted_of)


class _NeedsSession(Exception):
    """A raw SQLite transaction met recorded exports (their receipts read ORM rows): redo it on Core."""


class RequestRaceError(StalePlanError):
    """Another writer created one of the batch's requests meanwhile: look them up again and re-plan."""


@dataclass
class BatchItem:
    """One request of a group commit, planned against the versions before it in the batch."""

    request_id: str
    ids: list[int]  # every id the request names
    to_delete: list[int]  # those still active when it is applied
    received_at: datetime
    owner: str | None = None
    external_ref: str | None = None
    retire: list[str] = field(default_factory=list)
    serving: list[tuple[int, int, Sequence[int], int, str]] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    cells: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # of to_delete: held rows to purge
    #: builds the receipt from (session, version after, whether any export is recorded; the session, bound to the
    #: commit's transaction, is given only when exports are); None: not completed
    receipt: Callable[[Session | None, int, bool], dict[str, Any]] | None = None


class RequestMixin:
    """Deletion requests; needs ``session``, ``lock_writes``, hashing, ``record_event``, ``set_serving``,
    ``bump_version``, ``queue_purges`` and ``_tainted_query`` on the host."""

    session: Any
    engine: Any
    lock_writes: Any
    record_event: Any
    set_serving: Any
    bump_version: Any
    queue_purges: Any
    _tainted_query: Any
    _bulk_insert: Any
    hot_write: Any
    record_events: Any
    id_hash: Any
    owner_hash: Any

    # -- deletion requests ---------------------------------------------------------------------------------
    def begin_request(
        self, ids: Sequence[int], *, request_id: str | None, external_ref: str | None, owner: str | None
    ) -> tuple[str, dict[str, Any] | None, datetime]:
        """Create (or find) a request; returns ``(id, stored receipt if completed, received_at)``."""
        with self.session() as s:
            req = None
            if request_id is not None:
                req = s.get(DeletionRequest, request_id)
            if req is None and external_ref is not None:
                req = s.execute(
                    select(DeletionRequest).where(DeletionRequest.external_ref == external_ref)
                ).scalar_one_or_none()
            if req is not None:
                self._same_request(s, req, ids, request_id, external_ref, owner)
                receipt = json.loads(req.receipt_json) if req.state == "completed" and req.receipt_json else None
                return req.id, receipt, req.received_at
            rid = request_id or uuid.uuid4().hex
            received = utcnow()
            statuses = dict(s.execute(select(Sample.id, Sample.status).where(Sample.id.in_(list(ids)))).all())
            s.add(
                DeletionRequest(
                    id=rid,
                    external_ref=external_ref,
                    kind="owner" if owner else "ids",
                    owner_hmac=self.owner_hash(owner) if owner else None,
                    state="received",
                    received_at=received,
                )
            )
            s.flush()
            s.add_all(
                RequestItem(request_id=rid, sample_id=i, already_deleted=statuses.get(i) == "deleted")
                for i in sorted(set(ids))
            )
            self.record_event(
                "request.received",
                {"request_id": rid, "count": len(set(ids)), "id_hashes": sorted(self.id_hash(i) for i in set(ids))},
                s,
            )
            return rid, None, received

    def _same_request(
        self,
        s: Session,
        req: DeletionRequest,
        ids: Sequence[int],
        request_id: str | None,
        external_ref: str | None,
        owner: str | None,
    ) -> None:
        """Refuse a reused request id / external reference whose body differs (never treat it as done)."""
        which = f"request id {request_id!r}" if request_id is not None and req.id == request_id else "external_ref"
        if request_id is not None and req.id != request_id:
            raise RequestConflictError(f"external_ref is already used by another request ({req.id}); nothing was done")
        if external_ref is not None and req.external_ref not in (None, external_ref):
            raise RequestConflictError(f"{which} was used with another external_ref; nothing was done")
        same = (req.kind == "owner") == (owner is not None)
        if same and owner is not None:
            same = req.owner_hmac == self.owner_hash(owner)
        elif same:
            stored = set(s.execute(select(RequestItem.sample_id).where(RequestItem.request_id == req.id)).scalars())
            same = stored == {int(i) for i in ids}
        if not same:
            raise RequestConflictError(
                f"{which} was already used for a different deletion ({req.id}); nothing was done "
                "(use a new key for a new request)"
            )

    def request_ids(self, request_id: str) -> tuple[list[int], list[int]]:
        """``(ids to delete, ids that were already deleted when the request arrived)``."""
        with self.session() as s:
            rows = s.execute(select(RequestItem).where(RequestItem.request_id == request_id)).scalars().all()
            return (
                [r.sample_id for r in rows if not r.already_deleted],
                [r.sample_id for r in rows if r.already_deleted],
            )

    def commit_deletion(
        self,
        request_id: str,
        ids: Sequence[int],
        *,
        retire: Sequence[str],
        serving: Sequence[tuple[int, int, Sequence[int], int, str]],
        plan: dict[str, Any],
        expected_version: int | None = None,
    ) -> int:
        """The commit point of a deletion, one transaction: samples deleted, checkpoints that saw them retired,
        serving state changed, model version bumped, plan saved, audit event appended. Returns the new version.

        With ``expected_version`` (the version the plan was made against) the commit is refused with
        :class:`StalePlanError` when another writer moved the model meanwhile: the caller reloads and plans again.
        """
        now = utcnow()
        with self.session() as s:
            self.lock_writes(s)
            if expected_version is not None:
                current = int(s.execute(select(func.max(ModelVersion.version))).scalar_one() or 0)
                if current != expected_version:
                    raise StalePlanError(
                        f"the model moved from version {expected_version} to {current} while this deletion was planned"
                    )
            req = s.get(DeletionRequest, request_id)
            if req is None:
                raise LineageError(f"unknown deletion request {request_id}")
            ids = sorted({int(i) for i in ids})
            cells: dict[int, tuple[int, int]] = {}
            for k in range(0, len(ids), 500):
                q = select(Sample.id, Sample.shard, Sample.slice).where(Sample.id.in_(ids[k : k + 500]))
                cells.update({i: (sh, sl) for i, sh, sl in s.execute(q)})
            item = BatchItem(
                request_id, ids, ids, now, retire=list(retire), serving=list(serving), plan=plan, cells=cells
            )
            current = int(s.execute(select(func.max(ModelVersion.version))).scalar_one() or 0)
            events: list[tuple[str, dict[str, Any]]] = []
            version = self._apply_deletion(s, item, now, current, events, purge_now=False)
            self.record_events(events, s)
            req.state, req.plan_json = "deactivated", canonical_json(plan)
            return version

    def get_plan(self, request_id: str) -> dict[str, Any] | None:
        with self.session() as s:
            req = s.get(DeletionRequest, request_id)
            return None if req is None or req.plan_json is None else json.loads(req.plan_json)

    def complete_request(self, request_id: str, receipt: dict[str, Any]) -> None:
        """Mark a request completed with its receipt (and audit it)."""
        self.finish([], request_id, receipt)

    def fail_request(self, request_id: str, error: str) -> None:
        with self.session() as s:
            req = s.get(DeletionRequest, request_id)
            if req is not None and req.state != "completed":
                req.error = error[:2000]
                self.record_event("request.error", {"request_id": request_id, "error": error[:200]}, s)

    def get_request(self, request_id: str) -> dict[str, Any] | None:
        with self.session() as s:
            req = s.get(DeletionRequest, request_id)
            if req is None:
                return None
            return {
                "id": req.id,
                "state": req.state,
                "kind": req.kind,
                "external_ref": req.external_ref,
                "received_at": iso(req.received_at),
                "completed_at": iso(req.completed_at),
                "receipt": json.loads(req.receipt_json) if req.receipt_json else None,
                "error": req.error,
            }

    # -- group commit --------------------------------------------------------------------------------------
    def find_request(self, request_id: str | None, external_ref: str | None) -> DeletionRequest | None:
        """An existing request by id or external reference (detached, read-only)."""
        with self.session() as s:
            req = s.get(DeletionRequest, request_id) if request_id is not None else None
            if req is None and external_ref is not None:
                req = s.execute(
                    select(DeletionRequest).where(DeletionRequest.external_ref == external_ref)
                ).scalar_one_or_none()
            return req

    def check_same_request(
        self,
        req: DeletionRequest,
        ids: Sequence[int],
        request_id: str | None,
        external_ref: str | None,
        owner: str | None,
    ) -> dict[str, Any] | None:
        """Refuse a reused id/reference with another body; the stored receipt when the request completed."""
        with self.session() as s:
            self._same_request(s, req, ids, request_id, external_ref, owner)
        return json.loads(req.receipt_json) if req.state == "completed" and req.receipt_json else None

    def commit_batch(self, items: Sequence[BatchItem], expected_version: int) -> list[int]:
        """Receive, commit and (with a receipt builder) complete every request of ``items`` in ONE transaction.

        Each request that deletes something bumps the model version once (its receipt names its own before/after
        versions); one that deletes nothing keeps it. Refused with :class:`StalePlanError` when the model moved
        from ``expected_version`` (the caller re-plans), and with :class:`RequestRaceError` when another writer
        created one of the requests meanwhile. Returns each request's version after it.

        The statements are per batch, not per request (executemany), built once and run on the transaction's Core
        connection: a group of K requests costs about the same dozen round trips as one, and one sync. Request
        rows are written once, in their final state (when no export is recorded the receipts need nothing from
        the database, so they are built first).
        """
        try:
            return self._commit_batch(items, expected_version, core=False)
        except _NeedsSession:  # nothing was written
            return self._commit_batch(items, expected_version, core=True)

    def _commit_batch(self, items: Sequence[BatchItem], expected_version: int, *, core: bool) -> list[int]:
        now = utcnow()
        with self.hot_write(core=core) as tx:
            head = self.lock_writes(tx)
            current = int(tx.scalar(_MAX_VERSION) or 0)
            if current != expected_version:
                raise StalePlanError(
                    f"the model moved from version {expected_version} to {current} while this deletion was planned"
                )
            exports = tx.scalar(_ANY_EXPORT) is not None
            if exports and tx.conn is None:
                raise _NeedsSession
            versions, version = [], current
            for it in items:
                version += 1 if it.to_delete else 0
                versions.append(version)
            s = Session(bind=tx.conn) if exports else None  # the stale-export lookup reads ORM rows
            finals = [self._final_row(s, it, v, exports, built=False) for it, v in zip(items, versions, strict=True)]
            try:  # a request id or external reference another writer created meanwhile: the unique keys refuse it
                tx.run(
                    _INSERT_REQUESTS,
                    [
                        {
                            "id": it.request_id,
                            "external_ref": it.external_ref,
                            "kind": "owner" if it.owner else "ids",
                            "owner_hmac": self.owner_hash(it.owner) if it.owner else None,
                            "received_at": it.received_at,
                            "state": f["b_state"],
                            "plan_json": f["b_plan"],
                            "completed_at": f["b_completed"],
                            "receipt_json": f["b_receipt"],
                        }
                        for it, f in zip(items, finals, strict=True)
                    ],
                )
            except IntegrityErrors as exc:
                raise RequestRaceError(
                    f"one of requests {[it.request_id for it in items]} was created by another writer meanwhile"
                ) from exc
            self._bulk_insert(
                tx,
                RequestItem.__table__,
                ("request_id", "sample_id", "already_deleted"),
                ((it.request_id, i, i not in set(it.to_delete)) for it in items for i in sorted(set(it.ids))),
            )
            # what the batch changes, each kind of row in one statement
            doomed = [{"b_id": i, "b_rid": it.request_id, "b_now": now} for it in items for i in it.to_delete]
            tx.run(_DELETE_SAMPLES, doomed)
            for purge_now in (True, False):  # purged: the files go right after the commit (a crash before that
                state = "purged" if purge_now else "retired"  # is finished on open)
                retire = [
                    {"b_key": k, "b_state": state, "b_now": now, "b_purged": now if purge_now else None}
                    for it in items
                    if (it.receipt is not None) == purge_now
                    for k in it.retire
                ]
                tx.run(_RETIRE, retire)
            final_rows = {(r[0], r[1]): r for it in items for r in it.serving}
            self.set_serving(list(final_rows.values()), tx)
            bumps = [
                {"version": v, "created_at": now, "reason": "deletion", "request_id": it.request_id}
                for it, v in zip(items, versions, strict=True)
                if it.to_delete
            ]
            tx.run(_INSERT_VERSIONS, bumps)
            # the invariant held before this commit, so only the ids deleted now can break it
            for d in doomed:
                bad = tx.rows(_TAINTED_OF, {"b_id": d["b_id"]})
                if bad:
                    raise LineageError(
                        f"deletion would leave checkpoint {bad[0][0][:12]} active after its data was deleted"
                    )
            self.queue_purges(tx, {i: it.cells[i] for it in items for i in it.to_delete if i in it.cells})
            if exports:  # receipts that name stale exports read this transaction's versions: built last
                finals = [self._final_row(s, it, v, exports, built=True) for it, v in zip(items, versions, strict=True)]
                tx.run(_FINISH_REQUESTS, finals)
            events: list[tuple[str, dict[str, Any]]] = []
            for it, v, f in zip(items, versions, finals, strict=True):
                id_hashes = sorted(self.id_hash(i) for i in set(it.ids))
                events.append(
                    ("request.received", {"request_id": it.request_id, "count": len(id_hashes), "id_hashes": id_hashes})
                )
                if it.to_delete:
                    events.append(("deletion.committed", self._committed_event(it, v)))
                if f["receipt"] is not None:
                    if it.retire:
                        sha = sorted(it.plan.get("retire_sha256", []))
                        events.append(("checkpoints.purged", {"request_id": it.request_id, "file_sha256": sha}))
                    events.append(("request.completed", self._completion_event(it.request_id, f["receipt"])))
            self.record_events(events, tx, head_json=head)
            if s is not None:
                s.close()
        return versions

    @staticmethod
    def _final_row(s: Session | None, it: BatchItem, version: int, exports: bool, *, built: bool) -> dict[str, Any]:
        """A request's final columns; its receipt is built now unless it must wait (``exports`` and not ``built``:
        the receipt lists exports made stale, read from the rows this transaction writes)."""
        final: dict[str, Any] = {"b_id": it.request_id, "b_state": "deactivated", "b_completed": None}
        final.update(b_plan=canonical_json(it.plan), b_receipt=None, receipt=None)
        if it.receipt is not None and (built or not exports):
            receipt = it.receipt(s, version, exports)
            final.update(b_state="completed", b_completed=utcnow(), b_receipt=canonical_json(receipt), receipt=receipt)
        return final

    def _committed_event(self, it: BatchItem, version: int) -> dict[str, Any]:
        return {
            "request_id": it.request_id,
            "model_version": version,
            "id_hashes": sorted(self.id_hash(i) for i in it.to_delete),
            "retired_checkpoints": sorted(it.retire),
            "serving": [[sh, sq, d, st] for sh, sq, _, d, st in it.serving],
        }

    def _apply_deletion(
        self,
        s: Session,
        it: BatchItem,
        now: datetime,
        current: int,
        events: list[tuple[str, dict[str, Any]]],
        *,
        purge_now: bool,
    ) -> int:
        """Samples deleted, checkpoints retired (or purged), serving changed, version bumped, purges queued."""
        ids = list(it.to_delete)
        samples = Sample.__table__
        for k in range(0, len(ids), 500):
            s.execute(
                update(samples)
                .where(samples.c.id.in_(ids[k : k + 500]), samples.c.status == "active")
                .values(status="deleted", deleted_by=it.request_id, deleted_at=now)
            )
        if it.retire:
            values: dict[str, Any] = {"status": "retired", "retired_at": now}
            if purge_now:  # the files go right after the commit; a crash before is finished by reconcile_files
                values.update(status="purged", purged_at=now)
            ckpt = Checkpoint.__table__
            s.execute(update(ckpt).where(ckpt.c.key.in_(list(it.retire)), ckpt.c.status == "active").values(**values))
        self.set_serving(it.serving, s)
        version = self.bump_version("deletion", it.request_id, s, current=current)
        events.append(("deletion.committed", self._committed_event(it, version)))
        # the invariant held before this commit, so only the ids deleted now can break it
        for k in range(0, len(ids), 500):
            bad = s.execute(self._tainted_query().where(Sample.id.in_(ids[k : k + 500])).limit(1)).first()
            if bad is not None:
                raise LineageError(f"deletion would leave checkpoint {bad[0][:12]} active after its data was deleted")
        self.queue_purges(s, {i: it.cells[i] for i in ids if i in it.cells})
        return version

    @staticmethod
    def _completion_event(request_id: str, receipt: dict[str, Any]) -> dict[str, Any]:
        return {
            "request_id": request_id,
            "guarantee": receipt.get("guarantee"),
            "model_version": receipt.get("model_version_after"),
        }

    def finish(self, purged_keys: Sequence[str], request_id: str | None, receipt: dict[str, Any] | None) -> None:
        """One transaction: record purged checkpoint files and, with a receipt, complete the request."""
        if not purged_keys and receipt is None:
            return
        with self.session() as s:
            if purged_keys:
                rows = s.execute(select(Checkpoint).where(Checkpoint.key.in_(list(purged_keys)))).scalars().all()
                for c in rows:
                    c.status, c.purged_at = "purged", utcnow()
                self.record_event(
                    "checkpoints.purged",
                    {"request_id": request_id, "file_sha256": sorted(c.file_sha256 for c in rows)},
                    s,
                )
            if receipt is not None and request_id is not None:
                req = s.get(DeletionRequest, request_id)
                if req is None:
                    raise LineageError(f"unknown deletion request {request_id}")
                req.state, req.completed_at = "completed", utcnow()
                req.receipt_json, req.error = canonical_json(receipt), None
                self.record_event(
                    "request.completed",
                    {
                        "request_id": request_id,
                        "guarantee": receipt.get("guarantee"),
                        "model_version": receipt.get("model_version_after"),
                    },
                    s,
                )
