"""The deletion lifecycle of an exact strategy: forget (one request or a group), retrain, purge, verify.

Fast path (nothing to retrain before completing: S3T always, SISA ``rollback``, any strategy with
``defer_retrain``): every request of a call is resolved and planned in memory, then received, committed and
completed with its receipt in ONE transaction (:meth:`LineageStore.commit_batch`); after the commit the served
snapshot is swapped, the held rows are overwritten in place and the retired checkpoint files removed. A crash
after the commit leaves an acknowledged-or-not but durable deletion whose remaining file work is finished on the
next open (queued held-row purges, files of purged checkpoints).

Slow path (a deletion that retrains before completing, or a request an earlier process left half done): record,
commit, retrain, purge, complete — each step idempotent, so re-running an interrupted request completes it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from unlearnkit.errors import (
    ConfigError,
    DataError,
    LineageError,
    RequestConflictError,
    StalePlanError,
    UnknownIdError,
)
from unlearnkit.exact.serving import Prefix
from unlearnkit.lineage.exports import newly_stale
from unlearnkit.lineage.requests import BatchItem, RequestRaceError
from unlearnkit.lineage.store import iso, utcnow
from unlearnkit.types import DeletionReceipt

log = logging.getLogger(__name__)

_BAD_REQUEST = (UnknownIdError, RequestConflictError, ConfigError, DataError)


@dataclass(frozen=True)
class ForgetRequest:
    """One deletion request for :meth:`~unlearnkit.exact.ExactStrategy.forget_many` (exactly one of ids/owner)."""

    ids: Sequence[int | str] | None = None
    owner: str | None = None
    request_id: str | None = None
    external_ref: str | None = None


@dataclass
class _Planned:
    """A request of a batch, planned against the state the batch's earlier requests leave."""

    index: int
    item: BatchItem
    already: list[int]
    version_before: int
    plan_dict: dict[str, Any]
    still_pending: list[int]
    retrain_now: bool
    receipt: DeletionReceipt | None = None


class DeletionMixin:
    """forget / forget_many / retrain / verify over the host's store, held data, snapshot and checkpoints."""

    # ------------------------------------------------------------------------------------------------
    # requests
    def forget(
        self,
        ids: Iterable[int] | None = None,
        owner: str | None = None,
        *,
        request_id: str | None = None,
        external_ref: str | None = None,
        defer_retrain: bool = False,
    ) -> DeletionReceipt:
        """Remove the influence of ``ids`` (or all of ``owner``'s samples) from the served model.

        One durable transaction on the fast path (see the module docstring); a strategy that retrains on
        deletion (SISA ``retrain``, Retrain) retrains the hit shards before completing unless ``defer_retrain``.
        """
        req = ForgetRequest(None if ids is None else list(ids), owner, request_id, external_ref)
        return self.forget_many([req], defer_retrain=defer_retrain)[0]  # type: ignore[return-value]

    def forget_many(
        self, requests: Sequence[ForgetRequest], *, defer_retrain: bool = False, on_error: str = "raise"
    ) -> list[DeletionReceipt | Exception]:
        """Forget several requests with ONE commit for all of them (group commit); one receipt per request.

        Each request that deletes something moves the model one version (its receipt names its own before and
        after). ``on_error="raise"``: a bad request (unknown id or owner, a request id reused for another body)
        raises before anything is written; ``"return"``: its entry is the exception and the others proceed.
        """
        if on_error not in ("raise", "return"):
            raise ConfigError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        self._check_fitted()
        store = self._require_store()
        self._ctx()
        results: list[DeletionReceipt | Exception | None] = [None] * len(requests)
        with self._lock:
            t0 = time.perf_counter()
            fresh: list[tuple[int, ForgetRequest, list[int]]] = []
            resume: list[tuple[int, str]] = []
            seen: dict[str, int] = {}
            rows: dict[int, dict[str, Any]] = {}  # sample rows read while resolving, reused to plan
            for k, r in enumerate(requests):
                try:
                    wanted = self._resolve_ids(r.ids, r.owner, rows)
                    key = r.request_id or (f"ref:{r.external_ref}" if r.external_ref else None)
                    if key is not None and key in seen:  # the same request twice in one call: answered once
                        resume.append((k, key))
                        continue
                    existing = store.find_request(r.request_id, r.external_ref) if key is not None else None
                    if existing is not None:
                        stored = store.check_same_request(existing, wanted, r.request_id, r.external_ref, r.owner)
                        if stored is not None:
                            results[k] = DeletionReceipt.from_dict(stored)
                        else:
                            resume.append((k, existing.id))
                        continue
                    if key is not None:
                        seen[key] = k
                    fresh.append((k, r, wanted))
                except _BAD_REQUEST as exc:
                    if on_error == "raise":
                        raise
                    results[k] = exc
            slow: list[_Planned] = []
            if fresh:
                try:
                    slow = self._commit_group(fresh, rows, results, t0, defer_retrain)
                except RequestRaceError:  # another writer created one of them meanwhile: nothing was written;
                    return self.forget_many(requests, defer_retrain=defer_retrain, on_error=on_error)  # ask again
            for p in slow:
                results[p.index] = self._guarded(p.item.request_id, p.item.received_at, t0, defer_retrain)
            for k, key in resume:
                if key in seen:  # a duplicate within this call: the first one's receipt
                    results[k] = results[seen[key]]
                    continue
                try:
                    r = requests[k]
                    rid, stored, received = store.begin_request(
                        self._resolve_ids(r.ids, r.owner),
                        request_id=r.request_id,
                        external_ref=r.external_ref,
                        owner=r.owner,
                    )
                    results[k] = (
                        DeletionReceipt.from_dict(stored)
                        if stored is not None
                        else self._guarded(rid, received, t0, defer_retrain)
                    )
                except _BAD_REQUEST as exc:
                    if on_error == "raise":
                        raise
                    results[k] = exc
        return results  # type: ignore[return-value]

    def _guarded(self, rid: str, received: Any, t0: float, defer_retrain: bool) -> DeletionReceipt:
        try:
            return self._run_request(rid, received, t0, defer_retrain)
        except BaseException as exc:
            self.store.fail_request(rid, f"{type(exc).__name__}: {exc}")
            self._load_serving()  # serve exactly what the store says
            raise

    def _resolve_ids(
        self, ids: Iterable[int | str] | None, owner: str | None, rows: dict[int, dict[str, Any]] | None = None
    ) -> list[int]:
        """The internal ids a request names (unknown ones refused). ``rows`` collects their sample rows."""
        store = self._require_store()
        if (ids is None) == (owner is None):
            raise ConfigError("give exactly one of ids or owner")
        if owner is not None:
            return store.ids_of_owner(owner)
        ids = list(ids)  # type: ignore[arg-type]
        if ids and self.config_.get("external_ids") and all(isinstance(i, str) for i in ids):
            return store.ids_of_external(ids)  # external (string) ids, resolved through their keyed hashes
        try:
            wanted = sorted({int(i) for i in ids})
        except (TypeError, ValueError):
            raise DataError(f"sample ids must be integers, got {ids!r}") from None
        if not wanted:
            raise ConfigError("no ids to forget")
        if rows is None:
            unknown = store.unknown_ids(wanted)
        else:
            rows.update(store.sample_rows([i for i in wanted if i not in rows]))
            unknown = [i for i in wanted if i not in rows]
        if unknown:
            raise UnknownIdError(unknown)
        return wanted

    # ------------------------------------------------------------------------------------------------
    # the fast path: one transaction for a group of requests
    def _commit_group(
        self,
        fresh: list[tuple[int, ForgetRequest, list[int]]],
        rows: dict[int, dict[str, Any]],
        results: list[Any],
        t0: float,
        defer_retrain: bool,
    ) -> list[_Planned]:
        """Plan every request, commit them in one transaction, swap, purge; returns those still to retrain."""
        store = self.store
        received = utcnow()
        ids_all = sorted({i for _, _, w in fresh for i in w})
        missing = [i for i in ids_all if i not in rows]  # named by owner or external id
        if missing:
            rows.update(store.sample_rows(missing))
        external = set(store.external_hashes_of(ids_all)) if self.config_.get("external_ids") else set()
        rids = {k: r.request_id or uuid.uuid4().hex for k, r, _ in fresh}
        with self._writer.hold():  # plan → commit → swap: one writer per directory
            if not self._caught_up:  # the first write of this process finishes what a crash left
                self._catch_up()
            for _attempt in range(10):
                base_rows, base_nodes = self._rows_, self._nodes_
                version0 = self._snapshot.version
                try:
                    planned = self._plan_group(fresh, rows, rids, received, external, t0, defer_retrain)
                    self._fault("after_plan")
                    self._fault("before_commit")
                    versions = store.commit_batch([p.item for p in planned], expected_version=version0)
                except RequestRaceError:
                    self._rows_, self._nodes_ = base_rows, base_nodes
                    raise
                except StalePlanError as exc:  # another writer moved the model: finish its leftovers, plan again
                    log.info("%s; planning again", exc)
                    self._rows_, self._nodes_ = base_rows, base_nodes
                    self._catch_up()
                    rows.update(store.sample_rows(ids_all))
                    continue
                except BaseException:
                    self._rows_, self._nodes_ = base_rows, base_nodes
                    raise
                break
            else:
                raise LineageError("other writers kept changing the model while this deletion was planned; try again")
            try:  # committed: whatever fails from here, serve exactly what the store says
                self._fault("after_commit")
                self._apply_rows(self._rows_, self._nodes_, versions[-1], check=False)
                self._fault("after_swap")
                self._fault("before_purge")
                retired = [k for p in planned if p.receipt is not None for k in p.item.retire]
                self._purge_after_commit({i: c for p in planned for i, c in p.item.cells.items()}, retired)
                self._fault("after_purge")
                head = store.last_head
                self.checkpoint_head(durable=False, known=None if head is None else (*head, versions[-1]))
            except BaseException:
                self._load_serving()
                raise
        for p in planned:
            if p.receipt is not None:
                results[p.index] = p.receipt
        return [p for p in planned if p.receipt is None]

    def _plan_group(
        self,
        fresh: list[tuple[int, ForgetRequest, list[int]]],
        rows: dict[int, dict[str, Any]],
        rids: dict[int, str],
        received: Any,
        external: set[str],
        t0: float,
        defer_retrain: bool,
    ) -> list[_Planned]:
        """Plan each request on the rows and nodes the previous ones leave (applied to ``_rows_``/``_nodes_``)."""
        deleted = {i for i, r in rows.items() if r["status"] == "deleted"}
        version = self._snapshot.version
        cells = {i: (r["shard"], r["slice"]) for i, r in rows.items()}
        out = []
        for k, r, wanted in fresh:
            t = time.perf_counter()
            to_delete = [i for i in wanted if i not in deleted]
            already = [i for i in wanted if i in deleted]
            plan = self._plan_deletion(to_delete, cells) if to_delete else None
            retire = plan.retire if plan is not None else []
            serving = plan.serving if plan is not None else []
            pending = plan.pending if plan is not None else []
            plan_dict = {
                "deactivated": plan.deactivated if plan is not None else [],
                "pending": pending,
                "retire": retire,
                "retire_sha256": [self._sha_[key] for key in retire if key in self._sha_],
                "version_before": version,
            }
            changed = {(sh, sq): (sh, sq, o, d, st) for sh, sq, o, d, st in serving}
            self._rows_ = [changed.get((x[0], x[1]), x) for x in self._rows_]
            if retire:
                gone = set(retire)
                self._nodes_ = {key: v for key, v in self._nodes_.items() if key not in gone}
            still = self._pending_of(self._rows_)
            retrain_now = bool(pending) and not defer_retrain and self._retrain_on_forget()
            item = BatchItem(
                request_id=rids[k],
                ids=wanted,
                to_delete=to_delete,
                received_at=received,
                owner=r.owner,
                external_ref=r.external_ref,
                retire=retire,
                serving=serving,
                plan=plan_dict,
                cells={i: cells[i] for i in to_delete},
            )
            p = _Planned(k, item, already, version, plan_dict, still, retrain_now)
            if not retrain_now:
                item.receipt = self._receipt_builder(p, rows, external, received, t0, time.perf_counter() - t)
            out.append(p)
            deleted.update(to_delete)
            version += 1 if to_delete else 0
        return out

    def _receipt_builder(
        self,
        p: _Planned,
        rows: dict[int, dict[str, Any]],
        external: set[str],
        received: Any,
        t0: float,
        plan_s: float,
    ) -> Any:
        """The receipt of a fast-path request, built inside the commit (it names the version the commit made)."""
        store = self.store

        def build(session: Session | None, version_after: int, exports: bool) -> dict[str, Any]:
            to_delete = p.item.to_delete
            receipt = DeletionReceipt(
                request_id=p.item.request_id,
                strategy=self.kind,
                guarantee=self.guarantee_on_forget if to_delete else "none (already forgotten)",
                id_hashes=sorted(store.id_hash(i) for i in to_delete),
                external_id_hashes=self._external_of(to_delete, external),
                content_hashes=sorted(rows[i]["content_hash"] for i in to_delete),
                model_version_before=p.version_before,
                model_version_after=version_after,
                received_at=iso(received) or "",
                completed_at=iso(utcnow()) or "",
                latency_ms=round((time.perf_counter() - t0) * 1e3, 3),
                already_forgotten=sorted(store.id_hash(i) for i in p.already),
                deactivated=p.plan_dict["deactivated"],
                retrained=[],
                purged_checkpoints=sorted(p.plan_dict["retire_sha256"]),
                pending_retrain=[s for s in p.still_pending if s in set(p.plan_dict["pending"])],
                levels=["L0", "L1", "L2"] if to_delete else [],
                verification={
                    "lineage": "no active checkpoint saw the ids (checked at commit)",
                    "timings_ms": {"plan_ms": round(plan_s * 1e3, 3)},
                },
                notes=self._receipt_notes(to_delete, p.already, p.still_pending),
                stale_exports=newly_stale(store, version_after, session) if to_delete and exports else [],
            )
            p.receipt = receipt
            return {f.name: getattr(receipt, f.name) for f in dataclasses.fields(receipt)}  # read, never changed

        return build

    def _external_of(self, ids: list[int], external: set[str]) -> list[str]:
        if not external or not ids:
            return []
        return self.store.external_hashes_of(ids)

    @staticmethod
    def _pending_of(rows: list[tuple[int, int, Prefix, int, str]]) -> list[int]:
        return sorted(
            {sh for sh, _, _, d, st in rows if st == "excluded" or d == 0}
            - {sh for sh, _, _, d, st in rows if st == "serving" and d > 0}
        )

    def _receipt_notes(self, deleted: list[int], already: list[int], pending: list[int]) -> list[str]:
        notes = []
        if already:
            notes.append(f"{len(already)} id(s) were already forgotten: nothing to do for them")
        if pending:
            notes.append(f"shard(s) {pending} serve nothing until retrained (retrain required)")
        return notes

    # ------------------------------------------------------------------------------------------------
    # the slow path: a request that retrains before completing, or one an earlier process left half done
    def _run_request(self, rid: str, received: Any, t0: float, defer_retrain: bool) -> DeletionReceipt:
        store = self.store
        timings: dict[str, float] = {}
        to_delete, already = store.request_ids(rid)
        with self._writer.hold():
            self._catch_up()
            plan_dict = store.get_plan(rid)
            if plan_dict is None:
                self._fault("before_commit")
                plan_dict = self._plan_and_commit(rid, to_delete, timings)
                self._fault("after_commit")
            self._load_serving()
        version_before = int(plan_dict["version_before"])
        self._fault("after_swap")
        retrained: list[dict[str, Any]] = []
        pending = sorted(set(plan_dict["pending"]) & set(self.pending_retrain()))
        if pending and not defer_retrain and self._retrain_on_forget():
            info = self._train_shards(pending, reason="deletion", request_id=rid)
            retrained = [{"shard": n["shard"], "prefix": n["prefix"], "seconds": n["seconds"]} for n in info["nodes"]]
            timings["retrain_ms"] = info["seconds"] * 1e3
        self._fault("before_purge")
        t = time.perf_counter()
        with self._writer.hold():
            purged = self._purge_files()
        timings["purge_ms"] = (time.perf_counter() - t) * 1e3
        self._fault("after_purge")
        rows = store.sample_rows(to_delete + already)
        still_pending = self.pending_retrain()
        receipt = DeletionReceipt(
            request_id=rid,
            strategy=self.kind,
            guarantee=("exact-retrain" if retrained else self.guarantee_on_forget)
            if to_delete
            else "none (already forgotten)",
            id_hashes=sorted(store.id_hash(i) for i in to_delete),
            external_id_hashes=store.external_hashes_of(to_delete) if self.config_.get("external_ids") else [],
            content_hashes=sorted(rows[i]["content_hash"] for i in to_delete),
            model_version_before=version_before,
            model_version_after=self._snapshot.version,
            received_at=iso(received) or "",
            completed_at=iso(utcnow()) or "",
            latency_ms=round((time.perf_counter() - t0) * 1e3, 3),
            already_forgotten=sorted(store.id_hash(i) for i in already),
            deactivated=plan_dict["deactivated"],
            retrained=retrained,
            purged_checkpoints=sorted(plan_dict.get("retire_sha256", [])),
            pending_retrain=[s for s in still_pending if s in set(plan_dict["pending"])],
            levels=["L0", "L1", "L2"] if to_delete else [],
            verification={
                "lineage": "no active checkpoint saw the ids (checked at commit)",
                "timings_ms": {k: round(v, 3) for k, v in timings.items()},
            },
            notes=self._receipt_notes(to_delete, already, still_pending),
            stale_exports=newly_stale(store, self._snapshot.version) if to_delete else [],
        )
        with self._writer.hold():  # purge recorded and request completed: one transaction
            store.finish(sorted(purged), rid, receipt.to_dict())
            self.checkpoint_head()
        return receipt

    def _plan_and_commit(self, rid: str, to_delete: list[int], timings: dict[str, float]) -> dict[str, Any]:
        """Plan against the store's newest version and commit; re-plan if another writer moved it meanwhile."""
        store = self.store
        for _attempt in range(10):
            if store.current_version() != self._snapshot.version:
                self._load_serving()
            version_before = self._snapshot.version
            t = time.perf_counter()
            cells = store.cells(to_delete)
            plan = self._plan_deletion(to_delete, cells) if to_delete else None
            timings["plan_ms"] = (time.perf_counter() - t) * 1e3
            retire = plan.retire if plan is not None else []
            plan_dict = {
                "deactivated": plan.deactivated if plan is not None else [],
                "pending": plan.pending if plan is not None else [],
                "retire": retire,
                "retire_sha256": [self._sha_[k] for k in retire if k in self._sha_],
                "version_before": version_before,
            }
            if not to_delete:
                return plan_dict
            self._fault("after_plan")
            try:
                store.commit_deletion(
                    rid,
                    to_delete,
                    retire=retire,
                    serving=plan.serving,  # type: ignore[union-attr]
                    plan=plan_dict,
                    expected_version=version_before,
                )
            except StalePlanError as exc:
                log.info("%s; planning again", exc)
                self._load_serving()
                continue
            return plan_dict
        raise LineageError("other writers kept changing the model while this deletion was planned; try again")
