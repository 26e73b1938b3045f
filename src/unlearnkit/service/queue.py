"""A durable job queue in the database, with one leased worker at a time.

Jobs are rows of ``svc_jobs``. A worker first holds the *worker lease* (one row of ``svc_worker_lease``,
renewed by a heartbeat): only the holder claims jobs, so the model is changed by one process at a time
while any number of standby workers wait. A worker killed with ``kill -9`` stops renewing; its lease expires
after ``lease_seconds`` (at once when it ran on this host and its pid is gone) and the next holder puts the
dead worker's running job back in the queue. Every job step is idempotent, so a re-run completes it.

Claiming is ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the store opens every transaction
with ``BEGIN IMMEDIATE`` (writers are serialised) and the claim is a conditional
``UPDATE … WHERE id = :id AND state = 'queued'`` whose row count says whether it won.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from unlearnkit.lineage import LineageStore
from unlearnkit.lineage.store import utcnow
from unlearnkit.service.models import Job, WorkerLease

LEASE_NAME = "worker"
# a retrain runs before queued deletions: it restores the full model quickly, and no deletion can reach its shards
# while it trains (one worker holds the lease); the public-data fallback serves meanwhile
PRIORITY = {"retrain": 0, "forget": 5}


def worker_identity() -> str:
    """``host/pid/random``: unique per process; host and pid let a restarted worker see its predecessor died."""
    return f"{socket.gethostname()[:64]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _dead_local_owner(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that no longer exists."""
    if not owner:
        return False
    parts = owner.split("/")
    if len(parts) != 3 or parts[0] != socket.gethostname()[:64] or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    request_id: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class JobQueue:
    """Enqueue, lease, claim, finish and retry jobs; every method is one short transaction or joins one."""

    def __init__(
        self,
        store: LineageStore,
        *,
        lease_seconds: float = 30.0,
        max_attempts: int = 5,
        backoff_seconds: float = 2.0,
        backoff_max_seconds: float = 300.0,
    ) -> None:
        self.store = store
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds

    # -- producing -------------------------------------------------------------------------------------
    def enqueue(
        self, session: Session, kind: str, *, request_id: str | None = None, payload: dict[str, Any] | None = None
    ) -> int:
        now = utcnow()
        job = Job(
            kind=kind,
            request_id=request_id,
            payload_json=json.dumps(payload or {}, sort_keys=True),
            state="queued",
            priority=PRIORITY.get(kind, 5),
            attempts=0,
            max_attempts=self.max_attempts,
            run_after=now,
            created_at=now,
        )
        session.add(job)
        session.flush()
        return job.id

    def enqueue_retrain(self, session: Session, shards: list[int], request_id: str | None) -> int:
        """Add ``shards`` (and the request waiting on them) to the queued retrain job, or queue a new one."""
        job = session.execute(
            select(Job).where(Job.kind == "retrain", Job.state == "queued").order_by(Job.id).limit(1).with_for_update()
        ).scalar_one_or_none()
        if job is None:
            payload = {"shards": sorted(set(shards)), "request_ids": [request_id] if request_id else []}
            return self.enqueue(session, "retrain", payload=payload)
        payload = json.loads(job.payload_json)
        payload["shards"] = sorted(set(payload.get("shards", [])) | set(shards))
        if request_id and request_id not in payload.setdefault("request_ids", []):
            payload["request_ids"].append(request_id)
        job.payload_json = json.dumps(payload, sort_keys=True)
        return job.id

    def cancel_queued(self, session: Session, request_id: str) -> bool:
        """Cancel a request's queued (not running) forget job; False when a worker already holds it."""
        running = session.execute(select(Job.id).where(Job.request_id == request_id, Job.state == "running")).first()
        if running is not None:
            return False
        session.execute(
            update(Job)
            .where(Job.request_id == request_id, Job.state == "queued")
            .values(state="cancelled", finished_at=utcnow())
        )
        return True

    # -- the worker lease ------------------------------------------------------------------------------
    def acquire(self, owner: str) -> bool:
        """Take or renew the worker lease. A new holder re-queues jobs its dead predecessor left running."""
        now = utcnow()
        with self.store.session() as s:
            row = s.execute(select(WorkerLease).where(WorkerLease.name == LEASE_NAME).with_for_update()).scalar_one()
            free = (
                row.owner is None
                or row.owner == owner
                or row.expires_at is None
                or row.expires_at < now
                or _dead_local_owner(row.owner)
            )
            if not free:
                return False
            new_holder = row.owner != owner
            row.owner, row.expires_at, row.heartbeat_at = owner, now + self.lease, now
            if new_holder:
                orphans = s.execute(
                    update(Job)
                    .where(Job.state == "running", (Job.lease_owner != owner) | Job.lease_owner.is_(None))
                    .values(state="queued", lease_owner=None, run_after=now)
                ).rowcount
                self.store.record_event(
                    "service.worker.lease", {"owner": owner.split("/", 1)[0], "requeued_jobs": int(orphans or 0)}, s
                )
            return True

    def renew(self, owner: str) -> bool:
        """Heartbeat: extend the lease if ``owner`` still holds it."""
        now = utcnow()
        with self.store.session() as s:
            n = s.execute(
                update(WorkerLease)
                .where(WorkerLease.name == LEASE_NAME, WorkerLease.owner == owner)
                .values(expires_at=now + self.lease, heartbeat_at=now)
            ).rowcount
            return bool(n)

    def release(self, owner: str) -> None:
        with self.store.session() as s:
            s.execute(
                update(WorkerLease)
                .where(WorkerLease.name == LEASE_NAME, WorkerLease.owner == owner)
                .values(owner=None, expires_at=None)
            )

    def holds_lease(self, session: Session, owner: str) -> bool:
        row = session.execute(select(WorkerLease).where(WorkerLease.name == LEASE_NAME)).scalar_one()
        return row.owner == owner and row.expires_at is not None and row.expires_at >= utcnow()

    # -- consuming -------------------------------------------------------------------------------------
    def claim(self, owner: str) -> ClaimedJob | None:
        """The next runnable job (retrain before forget, oldest first), or None. Needs the worker lease."""
        now = utcnow()
        with self.store.session() as s:
            if not self.holds_lease(s, owner):
                return None
            for _ in range(8):
                job = s.execute(
                    select(Job)
                    .where(Job.state == "queued", Job.run_after <= now)
                    .order_by(Job.priority, Job.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).scalar_one_or_none()
                if job is None:
                    return None
                claimed = self._take(s, job, owner, now)
                if claimed is not None:
                    return claimed
            return None

    @staticmethod
    def _take(s: Session, job: Job, owner: str, now: datetime) -> ClaimedJob | None:
        """Mark a queued job running for ``owner`` (a conditional update: None when another worker won it)."""
        won = s.execute(
            update(Job)
            .where(Job.id == job.id, Job.state == "queued")
            .values(state="running", lease_owner=owner, attempts=Job.attempts + 1, started_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            return None
        s.refresh(job)
        return ClaimedJob(
            job.id, job.kind, job.request_id, json.loads(job.payload_json), job.attempts, job.max_attempts
        )

    def claim_more(self, owner: str, kind: str, limit: int) -> list[ClaimedJob]:
        """Up to ``limit`` more runnable jobs of ``kind`` (oldest first) in one transaction: the worker commits
        queued deletions together (group commit). Needs the worker lease; never jumps a queued job of higher
        priority (a retrain queued meanwhile runs first)."""
        if limit < 1:
            return []
        now = utcnow()
        with self.store.session() as s:
            if not self.holds_lease(s, owner):
                return []
            first = s.execute(
                select(Job.priority).where(Job.state == "queued", Job.run_after <= now).order_by(Job.priority).limit(1)
            ).scalar_one_or_none()
            if first is None or first < PRIORITY.get(kind, 5):
                return []
            rows = (
                s.execute(
                    select(Job)
                    .where(Job.state == "queued", Job.kind == kind, Job.run_after <= now)
                    .order_by(Job.priority, Job.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            won = [self._take(s, job, owner, now) for job in rows]
            return [c for c in won if c is not None]

    def finish(self, session: Session, job_id: int, owner: str, result: dict[str, Any] | None = None) -> None:
        """Mark a running job done inside the caller's transaction; raises if this worker no longer holds it."""
        n = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "running", Job.lease_owner == owner)
            .values(
                state="done",
                finished_at=utcnow(),
                result_json=json.dumps(result or {}, sort_keys=True, default=str),
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if n != 1:
            raise LeaseLostError(f"job {job_id} is no longer held by this worker")

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(0, attempts - 1)))

    def fail(self, session: Session, job_id: int, owner: str, error: str, *, retryable: bool = True) -> datetime | None:
        """Record a failed attempt in the caller's transaction: re-queue it after a backoff (returns when), or
        bury it (``dead``; returns None) when it is not retryable or out of attempts."""
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.state != "running" or job.lease_owner != owner:
            raise LeaseLostError(f"job {job_id} is no longer held by this worker")
        now = utcnow()
        job.last_error = error[:4000]
        job.lease_owner = None
        if retryable and job.attempts < job.max_attempts:
            job.state, job.run_after = "queued", now + self.backoff(job.attempts)
            return job.run_after
        job.state, job.finished_at = "dead", now
        return None

    def bury(self, session: Session, job_id: int, error: str) -> None:
        """Give up on a job without running it (e.g. it killed its worker ``max_attempts`` times)."""
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(state="dead", finished_at=utcnow(), last_error=error[:4000], lease_owner=None)
            .execution_options(synchronize_session=False)
        )

    def requeue(self, session: Session, request_id: str) -> int:
        """Queue a fresh forget job for a request whose job was given up (an admin's retry)."""
        return self.enqueue(session, "forget", request_id=request_id)

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self.store.session() as s:
            return {st: int(n) for st, n in s.execute(select(Job.state, func.count()).group_by(Job.state)).all()}


class LeaseLostError(RuntimeError):
    """Another worker took the lease (this one stalled past ``lease_seconds``); its step is rolled back."""
