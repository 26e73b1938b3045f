"""Lineage: the store that makes exact guarantees checkable, its hash-chained audit log, and receipts."""

from unlearnkit.lineage import exports as _exports  # noqa: F401  (registers the exports table)
from unlearnkit.lineage.store import AuditReport, CheckpointInfo, LineageStore, canonical_json

__all__ = ["AuditReport", "CheckpointInfo", "LineageStore", "canonical_json"]
