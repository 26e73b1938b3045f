"""The service's own tables (separate declarative base; created by the Alembic migrations in ``migrations/``).

They live in the same database as the lineage tables, so a request's state change and its audit event
(:meth:`LineageStore.record_event` with the same session) commit in one transaction. Times are naive UTC,
as in the lineage store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TERMINAL_STATES = ("completed", "rejected")
REQUEST_STATES = ("received", "planned", "unlearning", "completed", "rejected", "failed")
JOB_STATES = ("queued", "running", "done", "dead", "cancelled")
ROLES = ("predict", "delete", "admin")


class ServiceBase(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime()}


class ServiceRequest(ServiceBase):
    """A deletion request as the API sees it: submitter, legal clock, lifecycle, the signed receipt.

    ``owner`` holds the data subject's identifier only while the request is open (the worker needs it);
    it is erased when the request completes or is rejected. Sample ids are pseudonymous row ids.
    """

    __tablename__ = "svc_requests"
    __table_args__ = (
        UniqueConstraint("submitter", "idempotency_key", name="uq_svc_requests_idem"),
        UniqueConstraint("submitter", "external_ref", name="uq_svc_requests_ref"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    submitter: Mapped[str] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    external_ref: Mapped[str | None] = mapped_column(String(256))  # unique per submitter
    body_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # ids | owner
    ids_json: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    extended_until: Mapped[datetime | None]
    extension_months: Mapped[int] = mapped_column(Integer, default=0)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extended_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    guarantee: Mapped[str | None] = mapped_column(String(64))
    model_version_before: Mapped[int | None] = mapped_column(Integer)
    model_version_after: Mapped[int | None] = mapped_column(Integer)
    receipt_json: Mapped[str | None] = mapped_column(Text)  # the signed envelope
    updated_at: Mapped[datetime]


class Job(ServiceBase):
    """A unit of durable background work: ``forget`` (one request) or ``retrain`` (dead shards)."""

    __tablename__ = "svc_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(32), index=True)
    payload_json: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text)


class WorkerLease(ServiceBase):
    """One row per lease name: the single worker allowed to change the model holds it and renews it."""

    __tablename__ = "svc_worker_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]


class ApiToken(ServiceBase):
    """A bearer token, stored as its sha256 only."""

    __tablename__ = "svc_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
