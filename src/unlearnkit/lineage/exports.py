"""Exports of a served model, recorded in the lineage store, and the deletions that make them stale.

A copy of the model that leaves unlearnkit (an ONNX file sent to a partner, a TorchScript file on an edge
device) keeps whatever the served model had learned when it was exported. GDPR Art. 19 asks the controller to
tell each recipient of personal data about an erasure; for a model, that means: every export made *before* a
deletion that changed the served model must be replaced. So each export is recorded with the model version it
was taken from, its file's sha256, the recipient and the time, and an export is **stale** once a deletion has
committed a later model version (``model_versions.reason == "deletion"`` with a higher version). Staleness is
derived from the versions table, so it holds for every process and path that deletes (CLI, service worker,
Python API) with no extra write on the deletion's commit.

:func:`newly_stale` lists the exports one deletion made stale — what its receipt names;
:func:`list_exports` with ``stale=True`` lists every copy still to be replaced.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from unlearnkit.lineage.schema import Base, ModelVersion

if TYPE_CHECKING:
    from unlearnkit.lineage.store import LineageStore


class ExportRecord(Base):
    """One exported copy of the served model."""

    __tablename__ = "model_exports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version: Mapped[int] = mapped_column(Integer, index=True)
    format: Mapped[str] = mapped_column(String(16))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    recipient: Mapped[str] = mapped_column(String(128), index=True)
    exported_at: Mapped[datetime]
    replaced_at: Mapped[datetime | None]


def _deletion_versions(s: Session) -> list[tuple[int, str | None]]:
    rows = s.execute(
        select(ModelVersion.version, ModelVersion.request_id)
        .where(ModelVersion.reason == "deletion")
        .order_by(ModelVersion.version)
    ).all()
    return [(int(v), r) for v, r in rows]


def _as_dict(r: ExportRecord, deletions: list[tuple[int, str | None]]) -> dict[str, Any]:
    from unlearnkit.lineage.store import iso

    first = next(((v, rid) for v, rid in deletions if v > r.model_version), None)
    return {
        "export_id": r.id,
        "model_version": r.model_version,
        "format": r.format,
        "file_sha256": r.file_sha256,
        "file_name": r.file_name,
        "recipient": r.recipient,
        "exported_at": iso(r.exported_at),
        "stale": first is not None and r.replaced_at is None,
        "stale_since_version": first[0] if first else None,
        "stale_by_request": first[1] if first else None,
        "replaced_at": iso(r.replaced_at),
    }


def record_export(
    store: LineageStore, *, model_version: int, fmt: str, file_sha256: str, file_name: str, recipient: str
) -> dict[str, Any]:
    """Record one export (and append an ``export.recorded`` audit event); returns the record as a dict."""
    from unlearnkit.errors import ConfigError
    from unlearnkit.lineage.store import utcnow

    recipient = recipient.strip()
    if not recipient or len(recipient) > 128:
        raise ConfigError("--recipient must name who receives the copy (1 to 128 characters)")
    with store.session() as s:
        current = int(s.execute(select(func.max(ModelVersion.version))).scalar_one() or 0)
        if model_version != current:
            raise ConfigError(
                f"the served model moved to version {current} while exporting version {model_version}; export again"
            )
        row = ExportRecord(
            model_version=model_version,
            format=fmt,
            file_sha256=file_sha256,
            file_name=file_name,
            recipient=recipient,
            exported_at=utcnow(),
            replaced_at=None,
        )
        s.add(row)
        s.flush()
        store.record_event(
            "export.recorded",
            {
                "export_id": row.id,
                "model_version": model_version,
                "format": fmt,
                "file_sha256": file_sha256,
                "recipient_hash": store.owner_hash(recipient),
            },
            s,
        )
        return _as_dict(row, _deletion_versions(s))


def list_exports(store: LineageStore, *, stale: bool | None = None) -> list[dict[str, Any]]:
    """Every recorded export (oldest first); ``stale=True`` only those a later deletion made stale."""
    with store.session() as s:
        deletions = _deletion_versions(s)
        rows = [_as_dict(r, deletions) for r in s.execute(select(ExportRecord).order_by(ExportRecord.id)).scalars()]
    return rows if stale is None else [r for r in rows if r["stale"] is stale]


def newly_stale(store: LineageStore, version_after: int, session: Session | None = None) -> list[dict[str, Any]]:
    """The exports that the deletion committing ``version_after`` made stale (fresh until that deletion)."""

    def run(s: Session) -> list[dict[str, Any]]:
        earlier = s.execute(
            select(func.max(ModelVersion.version)).where(
                ModelVersion.reason == "deletion", ModelVersion.version < version_after
            )
        ).scalar_one()
        since = -1 if earlier is None else int(earlier)
        rows = (
            s.execute(
                select(ExportRecord)
                .where(ExportRecord.model_version < version_after, ExportRecord.model_version >= since)
                .where(ExportRecord.replaced_at.is_(None))
                .order_by(ExportRecord.id)
            )
            .scalars()
            .all()
        )
        if not rows:
            return []
        deletions = _deletion_versions(s)
        keep = ("export_id", "model_version", "format", "file_sha256", "recipient", "exported_at")
        return [{k: d[k] for k in keep} for d in (_as_dict(r, deletions) for r in rows)]

    if session is not None:
        return run(session)
    with store.session() as s:
        return run(s)


def mark_replaced(store: LineageStore, export_ids: list[int]) -> int:
    """Record that the recipients of ``export_ids`` replaced (or deleted) their copies; returns how many."""
    from unlearnkit.lineage.store import utcnow

    with store.session() as s:
        rows = s.execute(select(ExportRecord).where(ExportRecord.id.in_(export_ids))).scalars().all()
        now = utcnow()
        for r in rows:
            if r.replaced_at is None:
                r.replaced_at = now
        if rows:
            store.record_event("export.replaced", {"export_ids": sorted(r.id for r in rows)}, s)
        return len(rows)


__all__ = ["ExportRecord", "list_exports", "mark_replaced", "newly_stale", "record_export"]
