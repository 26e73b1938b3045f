"""The job worker: takes the worker lease, claims jobs, runs each step idempotently, commits the outcome.

Runs in a thread of the server (default) or as its own process (``unlearnkit worker DIR --db URL``); any
number may run, one holds the lease and works. A ``forget`` job moves its request through
``received → planned → unlearning → completed``: the backend's ``forget(..., request_id=id)`` is idempotent
(a completed request returns its stored receipt, an interrupted one is finished), and the request's
completion, signed receipt, job completion, follow-up ``retrain`` job and audit event commit in one
transaction. So a worker killed at any point leaves either nothing or a step that the next holder repeats
harmlessly, and every acknowledged request completes exactly once.

Group commit: when several deletion requests are queued, the worker claims up to ``group_commit`` of them at
once and commits them together — one transaction marks them ``unlearning``, the backend's ``forget_many`` deletes
them all in one lineage transaction, and one transaction completes them, each with its own signed receipt. A
request the model cannot do (an unknown id) fails alone; the others commit. The same idempotency holds per
request, so a crash anywhere in a group is finished by the next lease holder exactly as for one request.

Failures are retried with exponential backoff up to ``max_attempts`` (request ``failed`` with
``next_attempt_at`` meanwhile). Ids (or an owner) the model never held are dropped before the backend runs: the
request completes, and its receipt does not tell them apart from erased ones (no membership oracle).

``UNLEARNKIT_FAULT`` (testing only) makes the process misbehave at a named step: a comma-separated list of
``step=exit`` (``os._exit``, like ``kill -9``) or ``step=sleep:SECONDS``. Steps: ``claimed``, ``before_forget``,
``after_forget``, ``after_retrain``, and the strategy's own (``before_commit``, ``after_commit``,
``after_swap``, ``after_purge``, ``mid_retrain``); see :mod:`unlearnkit.faults`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from typing import Any

from unlearnkit.errors import ConfigError, DataError, UnknownIdError
from unlearnkit.faults import FAULT_ENV, fault_injector_from_env  # noqa: F401  (re-exported)
from unlearnkit.lineage.audit import chain_head
from unlearnkit.lineage.store import canonical_json, iso, utcnow
from unlearnkit.service.backends import ForgetCall, ForgetOutcome, forget_each
from unlearnkit.service.core import ServiceContext
from unlearnkit.service.logs import event
from unlearnkit.service.models import TERMINAL_STATES, ServiceRequest
from unlearnkit.service.queue import ClaimedJob, LeaseLostError, worker_identity
from unlearnkit.service.receipts import add_retrain_followup, build_receipt
from unlearnkit.types import DeletionReceipt

log = logging.getLogger(__name__)


def _public_error(exc: BaseException) -> str:
    """An error message safe to store and show (an unknown owner's identifier is not repeated)."""
    if isinstance(exc, UnknownIdError) and exc.owner is not None:
        return "unknown owner: no training sample belongs to it"
    return f"{type(exc).__name__}: {exc}"[:2000]


def _lower_priority(nice: int) -> None:
    """Make this thread (only) yield the CPU to request handlers: Linux schedules threads by their own niceness."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        log.debug("could not lower the worker thread's priority")


class Worker:
    """One worker; :meth:`run` loops until ``stop`` is set, :meth:`run_once` does at most one job."""

    def __init__(self, svc: ServiceContext, *, wake: threading.Event | None = None, identity: str | None = None):
        self.svc = svc
        self.identity = identity or worker_identity()
        self.wake = wake or svc.wake
        self.fault = fault_injector_from_env()
        if self.fault is not None:
            svc.backend.set_fault_injector(self.fault)
        self._holding = False
        self._acquired_at = float("-inf")

    @property
    def holding(self) -> bool:
        """Whether this worker holds the lease (then it is the only process changing the model)."""
        return self._holding

    def _step(self, name: str) -> None:
        if self.fault is not None:
            self.fault(name)

    # -- loop ---------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        _lower_priority(self.svc.settings.worker_nice)
        heartbeat = threading.Thread(target=self._heartbeat, args=(stop,), name="unlearnkit-lease", daemon=True)
        heartbeat.start()
        poll = self.svc.settings.poll_seconds
        try:
            while not stop.is_set():
                try:
                    did = self.run_once()
                except Exception:  # a database hiccup must not kill the worker; the job is retried later
                    log.exception("worker step failed")
                    did = False
                if not did:
                    self.wake.wait(poll)
                    self.wake.clear()
        finally:
            if self._holding:
                try:
                    self.svc.queue.release(self.identity)
                except Exception:
                    log.exception("could not release the worker lease")

    def _heartbeat(self, stop: threading.Event) -> None:
        period = max(0.05, self.svc.settings.lease_seconds / 3)
        while not stop.wait(period):
            if self._holding:
                try:
                    self._holding = self.svc.queue.renew(self.identity)
                except Exception:
                    log.exception("lease heartbeat failed")

    def run_once(self) -> bool:
        """Take (or renew) the lease and run one job, or one group of queued deletions; False when there was
        nothing to do."""
        return self._run_next() > 0

    def _run_next(self) -> int:
        """Like :meth:`run_once`; returns how many jobs ran."""
        renew_every = self.svc.settings.lease_seconds / 3
        if not self._holding or time.monotonic() - self._acquired_at > renew_every:
            self._holding = self.svc.queue.acquire(self.identity)
            self._acquired_at = time.monotonic()
        if not self._holding:
            return 0
        job = self.svc.queue.claim(self.identity)
        if job is None:
            return 0
        group = self.svc.settings.group_commit
        if job.kind == "forget" and group > 1 and job.attempts <= job.max_attempts:
            jobs = [job, *self.svc.queue.claim_more(self.identity, "forget", group - 1)]
            self.process_group(jobs)
            return len(jobs)
        self.process(job)
        return 1

    def drain(self, max_jobs: int = 1000) -> int:
        """Run jobs until none is runnable (tests, ``unlearnkit worker --once``); returns how many ran."""
        n = 0
        while n < max_jobs:
            ran = self._run_next()
            if not ran:
                break
            n += ran
        if self._holding:
            self.svc.queue.release(self.identity)
            self._holding = False
        return n

    # -- jobs ---------------------------------------------------------------------------------------------
    def process(self, job: ClaimedJob) -> None:
        self._step("claimed")
        if job.attempts > job.max_attempts:
            self._give_up(job, f"the worker stopped {job.attempts - 1} times while running this job")
            return
        try:
            self.svc.backend.refresh()  # another process may have changed the model since this one last held the lease
            if job.kind == "forget":
                self._forget(job)
            elif job.kind == "retrain":
                self._retrain(job)
            else:
                self._give_up(job, f"unknown job kind {job.kind!r}")
        except LeaseLostError as exc:
            log.warning("%s; the next lease holder repeats the job", exc)
        except Exception as exc:
            log.warning("job %d (%s) failed: %s", job.id, job.kind, _public_error(exc))
            self._failed(job, exc)

    def process_group(self, jobs: list[ClaimedJob]) -> None:
        """Forget jobs committed together (group commit): one transaction marks them ``unlearning``, the backend
        forgets them all in one lineage transaction, one transaction completes them with a signed receipt each."""
        self._step("claimed")
        ready = []
        for job in jobs:
            if job.attempts > job.max_attempts:
                self._give_up(job, f"the worker stopped {job.attempts - 1} times while running this job")
            else:
                ready.append(job)
        if not ready:
            return
        try:
            self.svc.backend.refresh()
            self._forget_group(ready)
        except LeaseLostError as exc:
            log.warning("%s; the next lease holder repeats the jobs", exc)
        except Exception as exc:  # the group as a whole failed (e.g. the database): each job retries on its own
            log.warning("a group of %d deletion jobs failed: %s", len(ready), _public_error(exc))
            for job in ready:
                self._failed(job, exc)

    def _forget(self, job: ClaimedJob) -> None:
        self._forget_group([job])

    def _forget_group(self, jobs: list[ClaimedJob]) -> None:
        svc, store, me = self.svc, self.svc.store, self.identity
        calls: list[tuple[ClaimedJob, str, list[int] | None, str | None]] = []
        with store.session() as s:
            for job in jobs:
                rid = job.request_id or ""
                req = s.get(ServiceRequest, rid, with_for_update=True)
                if req is None or req.state in TERMINAL_STATES:  # e.g. rejected by an admin while queued
                    svc.queue.finish(s, job.id, me, {"skipped": "no such request" if req is None else req.state})
                    continue
                req.state, req.attempts, req.next_attempt_at, req.updated_at = (
                    "unlearning",
                    job.attempts,
                    None,
                    utcnow(),
                )
                calls.append((job, rid, json.loads(req.ids_json) if req.ids_json else None, req.owner))
        for job, rid, _, _ in calls:
            for state in ("planned", "unlearning"):
                event(
                    "deletion.state",
                    request_id=rid,
                    state=state,
                    attempt=job.attempts,
                    trace_id=job.payload.get("trace_id"),
                )
        if not calls:
            return
        self._step("before_forget")
        t0 = time.perf_counter()
        results = self._run_backend_many([(rid, ids, owner, job.attempts) for job, rid, ids, owner in calls])
        self._step("after_forget")
        head = chain_head(store)
        failed: list[tuple[ClaimedJob, Exception]] = []
        done: list[tuple[ClaimedJob, str, ForgetOutcome, list[int]]] = []
        with store.session() as s:
            for (job, rid, _, _), result in zip(calls, results, strict=True):
                if isinstance(result, Exception):
                    failed.append((job, result))
                    continue
                outcome, named = result
                self._complete(s, job, rid, outcome, named, head)
                done.append((job, rid, outcome, named))
        seconds = time.perf_counter() - t0
        for job, exc in failed:
            log.warning("job %d (forget) failed: %s", job.id, _public_error(exc))
            self._failed(job, exc)
        for job, rid, outcome, _ in done:
            self._completed_events(job, rid, outcome, seconds)
        if len(calls) > 1:
            event(
                "deletion.group_commit",
                requests=len(calls),
                completed=len(done),
                seconds=round(seconds, 4),
                per_second=round(len(done) / seconds, 1) if seconds > 0 else None,
            )

    def _complete(
        self, s: Any, job: ClaimedJob, rid: str, outcome: ForgetOutcome, named: list[int], head: dict[str, Any]
    ) -> None:
        """Complete one request inside the caller's transaction: signed receipt, job done, follow-up retrain,
        audit event."""
        svc, store = self.svc, self.svc.store
        req = s.get(ServiceRequest, rid, with_for_update=True)
        receipt = build_receipt(
            req,
            outcome,
            store=store,
            named_ids=named,
            backend_kind=svc.backend.kind,
            exact=svc.backend.exact,
            audit_head=head,
        )
        envelope = svc.signer.sign(receipt)
        now = utcnow()
        req.state, req.completed_at, req.updated_at = "completed", now, now
        req.receipt_json = json.dumps(envelope, sort_keys=True)
        req.guarantee = outcome.receipt.guarantee
        req.model_version_before = outcome.receipt.model_version_before
        req.model_version_after = outcome.receipt.model_version_after
        req.owner, req.last_error, req.next_attempt_at = None, None, None
        req.count = len(named)
        svc.queue.finish(s, job.id, self.identity, {"model_version": outcome.receipt.model_version_after})
        if outcome.pending_retrain:
            svc.queue.enqueue_retrain(s, outcome.pending_retrain, rid)
        store.record_event(
            "service.request.completed",
            {
                "request_id": rid,
                "guarantee": outcome.receipt.guarantee,
                "model_version": outcome.receipt.model_version_after,
                "receipt_sha256": hashlib.sha256(canonical_json(receipt).encode()).hexdigest(),
                "key_id": svc.signer.key_id,
            },
            s,
        )

    def _completed_events(self, job: ClaimedJob, rid: str, outcome: ForgetOutcome, seconds: float) -> None:
        trace = job.payload.get("trace_id")
        r = outcome.receipt
        if r.model_version_after != r.model_version_before:
            event(
                "model.swapped",
                from_version=r.model_version_before,
                to_version=r.model_version_after,
                cause="deletion",
                request_id=rid,
                trace_id=trace,
            )
        if r.purged_checkpoints:
            event("purge.completed", request_id=rid, files=len(r.purged_checkpoints), trace_id=trace)
        event(
            "deletion.state",
            request_id=rid,
            state="completed",
            guarantee=r.guarantee,
            count=len(r.id_hashes),
            model_version=r.model_version_after,
            pending_retrain=len(outcome.pending_retrain),
            stale_exports=len(r.stale_exports),
            seconds=round(seconds, 4),
            trace_id=trace,
        )

    def _run_backend_many(
        self, calls: list[tuple[str, list[int] | None, str | None, int]]
    ) -> list[tuple[ForgetOutcome, list[int]] | Exception]:
        """Forget what the model holds of each request (one backend call for all); per request the outcome and
        every id it named, or the exception that request raised."""
        backend = self.svc.backend
        out: list[tuple[ForgetOutcome, list[int]] | Exception | None] = [None] * len(calls)
        todo: list[tuple[int, ForgetCall, list[int]]] = []
        for k, (rid, ids, owner, attempt) in enumerate(calls):
            try:
                if owner is not None:
                    named = self.svc.store.ids_of_owner(owner) if backend.owner_known(owner) else []
                    known = named
                else:
                    named = sorted(set(ids or []))
                    unknown = set(backend.unknown_ids(named))
                    known = [i for i in named if i not in unknown]
            except Exception as exc:
                out[k] = exc
                continue
            if known:
                todo.append((k, ForgetCall(rid, known if owner is None else None, owner, attempt), named))
            else:
                out[k] = (self._nothing_held(rid), named)
        if todo:
            many = getattr(backend, "forget_many", None)
            calls_ = [c for _, c, _ in todo]
            results = many(calls_) if many is not None else forget_each(backend, calls_)
            for (k, _, named), res in zip(todo, results, strict=True):
                out[k] = res if isinstance(res, Exception) else (res, named)
        return [r for r in out if r is not None]

    def _nothing_held(self, rid: str) -> ForgetOutcome:
        backend = self.svc.backend
        version, now = backend.model_version, iso(utcnow()) or ""
        nothing = DeletionReceipt(
            request_id=rid,
            strategy=backend.kind,
            guarantee="none (not held)",
            id_hashes=[],
            content_hashes=[],
            model_version_before=version,
            model_version_after=version,
            received_at=now,
            completed_at=now,
            latency_ms=0.0,
        )
        return ForgetOutcome(receipt=nothing)

    def _retrain(self, job: ClaimedJob) -> None:
        svc, store, me = self.svc, self.svc.store, self.identity
        shards = [int(s) for s in job.payload.get("shards", [])]
        todo = sorted(set(shards) & set(svc.backend.pending_retrain()))
        before = svc.backend.model_version
        t0 = time.perf_counter()
        if todo:
            event("retrain.started", shards=todo, request_ids=job.payload.get("request_ids", []))
            info = svc.backend.retrain(todo)
        else:  # an earlier attempt retrained them and stopped before recording it
            info = {"shards": shards, "model_version": svc.backend.model_version, "purged": [], "resumed": True}
        self._step("after_retrain")
        still = svc.backend.pending_retrain()
        with store.session() as s:
            for rid in job.payload.get("request_ids", []):
                req = s.get(ServiceRequest, rid, with_for_update=True)
                if req is None or not req.receipt_json:
                    continue
                envelope = json.loads(req.receipt_json)
                receipt = add_retrain_followup(envelope["receipt"], info, bool(still))
                req.receipt_json = json.dumps(svc.signer.sign(receipt), sort_keys=True)
                req.model_version_after, req.updated_at = info.get("model_version"), utcnow()
            svc.queue.finish(s, job.id, me, {k: v for k, v in info.items() if k != "nodes"})
            store.record_event(
                "service.retrain.completed",
                {
                    "shards": todo,
                    "model_version": info.get("model_version"),
                    "request_ids": job.payload.get("request_ids", []),
                },
                s,
            )
        event(
            "retrain.completed",
            shards=todo,
            model_version=info.get("model_version"),
            seconds=round(time.perf_counter() - t0, 4),
            purged=len(info.get("purged", []) or []),
        )
        if info.get("model_version") not in (None, before):
            event("model.swapped", from_version=before, to_version=info.get("model_version"), cause="retrain")

    def _failed(self, job: ClaimedJob, exc: BaseException) -> None:
        svc, store = self.svc, self.svc.store
        error = _public_error(exc)
        unknown = isinstance(exc, UnknownIdError)
        retryable = not isinstance(exc, UnknownIdError | ConfigError | DataError)
        with store.session() as s:
            next_at = svc.queue.fail(s, job.id, self.identity, error, retryable=retryable)
            if job.kind == "forget" and job.request_id:
                req = s.get(ServiceRequest, job.request_id, with_for_update=True)
                if req is not None and req.state not in TERMINAL_STATES:
                    req.attempts, req.last_error, req.next_attempt_at = job.attempts, error, next_at
                    req.state, req.updated_at = ("rejected" if unknown else "failed"), utcnow()
                    if unknown:
                        req.rejection_reason, req.owner = error, None
                    event(
                        "deletion.state",
                        request_id=job.request_id,
                        state=req.state,
                        attempt=job.attempts,
                        error=type(exc).__name__,
                        retry=next_at is not None,
                        trace_id=job.payload.get("trace_id"),
                    )
            store.record_event(
                "service.job.failed",
                {
                    "job": job.id,
                    "kind": job.kind,
                    "request_id": job.request_id,
                    "attempt": job.attempts,
                    "error": type(exc).__name__,
                    "final": next_at is None,
                },
                s,
            )
        if next_at is not None:
            self.wake.set()

    def _give_up(self, job: ClaimedJob, reason: str) -> None:
        store = self.svc.store
        with store.session() as s:
            self.svc.queue.bury(s, job.id, reason)
            if job.request_id:
                req = s.get(ServiceRequest, job.request_id, with_for_update=True)
                if req is not None and req.state not in TERMINAL_STATES:
                    req.state, req.last_error, req.next_attempt_at, req.updated_at = "failed", reason, None, utcnow()
                    event("deletion.state", request_id=job.request_id, state="failed", error="GaveUp", retry=False)
            store.record_event(
                "service.job.failed",
                {
                    "job": job.id,
                    "kind": job.kind,
                    "request_id": job.request_id,
                    "attempt": job.attempts,
                    "error": "GaveUp",
                    "final": True,
                },
                s,
            )


class WorkerThread:
    """The worker in a daemon thread of the server."""

    def __init__(self, svc: ServiceContext) -> None:
        self.worker = Worker(svc)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop,), name="unlearnkit-worker", daemon=True)

    @property
    def wake(self) -> threading.Event:
        return self.worker.wake

    def start(self) -> None:
        self.thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        self.worker.wake.set()
        self.thread.join(timeout)
