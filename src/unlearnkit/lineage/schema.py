"""Lineage tables (SQLAlchemy 2 ORM): sample → shard/slice → checkpoint → served model, plus requests and audit.

A checkpoint's *seen set* is the union of the members of the slice generations it was trained on
(``checkpoint_slices`` → ``slice_members``); the lineage invariant is that no active checkpoint's seen set
contains a deleted sample.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 1


class Base(DeclarativeBase):
    pass


class Sample(Base):
    __tablename__ = "samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_hmac: Mapped[str | None] = mapped_column(String(64))  # indexed where set (below)
    content_hash: Mapped[str] = mapped_column(String(64))
    shard: Mapped[int] = mapped_column(Integer)
    slice: Mapped[int] = mapped_column(Integer)
    # active | deleted; indexed for the deleted rows only (``ix_samples_deleted`` below)
    status: Mapped[str] = mapped_column(String(16), default="active")
    deleted_by: Mapped[str | None] = mapped_column(ForeignKey("deletion_requests.id"))
    deleted_at: Mapped[datetime | None]


class PendingPurge(Base):
    """A deleted sample whose held row (``exact.held``) is not yet known to be overwritten on disk.

    Written in the deletion's own transaction; the row is overwritten in place right after the commit and the
    entry cleared once that write is synced, so a crash in between is finished on the next open.
    """

    __tablename__ = "pending_purges"
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), primary_key=True, autoincrement=False)
    shard: Mapped[int] = mapped_column(Integer)
    slice: Mapped[int] = mapped_column(Integer)


class ExternalId(Base):
    """A sample's external (string) id, as a keyed hash only: deletions by external id resolve through it."""

    __tablename__ = "external_ids"
    external_hmac: Mapped[str] = mapped_column(String(64), primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), unique=True)


class SliceRow(Base):
    """One generation of one slice's membership; a retrain after deletion makes a new generation."""

    __tablename__ = "slices"
    __table_args__ = (UniqueConstraint("shard", "slice", "generation"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer)
    slice: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(Integer)
    ids_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(default=True)


class SliceMember(Base):
    __tablename__ = "slice_members"
    slice_row: Mapped[int] = mapped_column(ForeignKey("slices.id"), primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), primary_key=True, index=True)


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    shard: Mapped[int] = mapped_column(Integer, index=True)
    prefix: Mapped[str] = mapped_column(String(256))  # slice order trained so far, e.g. "2,0,1"
    depth: Mapped[int] = mapped_column(Integer)
    seen_set_hash: Mapped[str] = mapped_column(String(64))
    seen_count: Mapped[int] = mapped_column(Integer)
    file_sha256: Mapped[str] = mapped_column(String(64))
    nbytes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active | retired | purged
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]


class CheckpointSlice(Base):
    __tablename__ = "checkpoint_slices"
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"), primary_key=True)
    slice_row: Mapped[int] = mapped_column(ForeignKey("slices.id"), primary_key=True)


class Serving(Base):
    """What each shard serves: for S3T one row per (shard, sequence) with its alive depth."""

    __tablename__ = "serving"
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    order: Mapped[str] = mapped_column(String(256))
    depth: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="serving")  # serving | excluded (pending retrain)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


class DeletionRequest(Base):
    __tablename__ = "deletion_requests"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(256))  # unique where set (index below)
    kind: Mapped[str] = mapped_column(String(16))  # ids | owner
    owner_hmac: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)  # received | deactivated | completed | failed
    received_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    plan_json: Mapped[str | None] = mapped_column(Text)
    receipt_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class RequestItem(Base):
    __tablename__ = "request_items"
    # SQLite: the rows live in their primary-key tree (small rows; a second tree per table cost each deletion
    # another page write)
    __table_args__ = ({"sqlite_with_rowid": False},)
    request_id: Mapped[str] = mapped_column(ForeignKey("deletion_requests.id"), primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), primary_key=True)
    already_deleted: Mapped[bool] = mapped_column(default=False)


class AuditEvent(Base):
    """Append-only, hash-chained: ``hash = sha256(prev_hash ‖ canonical JSON of the row)``."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(64))
    payload_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    # not indexed: nothing looks an event up by its hash (the chain is walked by seq), and an index on random
    # 64-character keys cost every event a random page write (four per deletion). Older stores keep theirs.
    hash: Mapped[str] = mapped_column(String(64))


class MetaRow(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


Index("ix_request_items_sample", RequestItem.sample_id)
# the checkpoints trained on a slice generation: a deletion's lineage check goes sample → slice → checkpoints
# (the primary key, checkpoint first, answers the other direction)
IX_CHECKPOINT_SLICES_SLICE = Index("ix_checkpoint_slices_slice", CheckpointSlice.slice_row)
#: indexes added after stores existed: :class:`~unlearnkit.lineage.store.LineageStore` creates them on open
ADDED_INDEXES = (IX_CHECKPOINT_SLICES_SLICE,)

# Partial indexes: a deletion writes one index page where full indexes wrote three. Every lookup by status asks
# for the deleted rows (the lineage check on load, ``deleted_ids``), so the active majority need not be indexed
# at all (a smaller store, a faster ingest); owners and external references are looked up by value, so rows
# without one (most, in many stores) add no entry, and the reference stays unique where set. SQLite and
# PostgreSQL use these indexes for ``status = ?``, ``owner_hmac = ?`` and ``external_ref = ?`` with bound
# values. Stores made before keep their full indexes, which answer the same queries.
_HAS_OWNER = Sample.owner_hmac.is_not(None)
Index("ix_samples_owner_hmac", Sample.owner_hmac, sqlite_where=_HAS_OWNER, postgresql_where=_HAS_OWNER)
_DELETED = Sample.status == "deleted"
Index("ix_samples_deleted", Sample.status, sqlite_where=_DELETED, postgresql_where=_DELETED)
_HAS_REF = DeletionRequest.external_ref.is_not(None)
Index(
    "ux_deletion_requests_external_ref",
    DeletionRequest.external_ref,
    unique=True,
    sqlite_where=_HAS_REF,
    postgresql_where=_HAS_REF,
)
