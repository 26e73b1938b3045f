"""The service's receipts: :func:`unlearnkit.lineage.receipts.public_receipt` for a service request, signed by
the worker with the model's key. A background retrain that later finishes the job appends a follow-up and the
receipt is re-signed with a higher ``revision``.
"""

from __future__ import annotations

from typing import Any

from unlearnkit.lineage import LineageStore
from unlearnkit.lineage.receipts import (
    EXPORT_NOTICE,
    OUT_OF_SCOPE,
    RECEIPT_TYPE,
    add_retrain_followup,
    public_receipt,
)
from unlearnkit.lineage.store import iso, utcnow
from unlearnkit.service.backends import ForgetOutcome
from unlearnkit.service.models import ServiceRequest

__all__ = [
    "EXPORT_NOTICE",
    "OUT_OF_SCOPE",
    "RECEIPT_TYPE",
    "add_retrain_followup",
    "build_receipt",
    "external_ref_hmac",
]


def external_ref_hmac(store: LineageStore, submitter: str, external_ref: str | None) -> str | None:
    """The submitter-scoped keyed hash of an external reference (the reference itself is never published)."""
    if external_ref is None:
        return None
    return store.keyed_hash("external-ref", f"{submitter}\x00{external_ref}")


def build_receipt(
    req: ServiceRequest,
    outcome: ForgetOutcome,
    *,
    store: LineageStore,
    named_ids: list[int],
    backend_kind: str,
    exact: bool,
    audit_head: dict[str, Any],
) -> dict[str, Any]:
    """The receipt body; ``audit_head`` (:func:`unlearnkit.lineage.audit.chain_head`) is read by the caller
    before it opens the transaction that stores the receipt."""
    request = {
        "id": req.id,
        "kind": req.kind,
        "external_ref_hmac": external_ref_hmac(store, req.submitter, req.external_ref),
        "received_at": iso(req.received_at),
        "due_at": iso(req.due_at),
        "extended_until": iso(req.extended_until),
        "completed_at": iso(utcnow()),
    }
    return public_receipt(
        outcome.receipt,
        request=request,
        named_id_hashes=[store.id_hash(i) for i in named_ids],
        backend_kind=backend_kind,
        exact=exact,
        audit_head={k: audit_head[k] for k in ("seq", "hash", "model_version", "chain")},
        method=outcome.method,
        metrics=outcome.metrics,
    )
