"""The receipt a data subject gets: what was erased, when, how, with what guarantee; signed by the service.

It carries ids only as HMACs under the model's pepper, the content hashes committed at ingest, the model
versions before and after, the deactivated / retrained / purged artefacts, and the guarantee reached: exact
(by lineage: no served parameter was trained on the ids) or approximate (the method and its check metrics).
A background retrain that later finishes the job appends a follow-up and the receipt is re-signed with a
higher ``revision``.
"""

from __future__ import annotations

from typing import Any

from unlearnkit.lineage.store import iso, utcnow
from unlearnkit.service.backends import ForgetOutcome
from unlearnkit.service.models import ServiceRequest

RECEIPT_TYPE = "unlearnkit/deletion-receipt"
OUT_OF_SCOPE = [
    "copies outside this service (exports, downstream recipients) are not covered by this receipt",
    "database and file-system backups keep the erased rows until they expire; they are never restored into "
    "training and are put beyond use until then",
]


EXPORT_NOTICE = (
    "These exported copies of the model were taken before this deletion and still hold what it erased; "
    "their recipients must be told to replace them (GDPR Art. 19)."
)


def _version() -> str:
    from unlearnkit import __version__

    return __version__


def _statement(req: ServiceRequest, outcome: ForgetOutcome, exact: bool, completed_at: str) -> str:
    r = outcome.receipt
    n = len(r.id_hashes)
    when = f"received {iso(req.received_at)}, completed {completed_at}"
    if n == 0:
        return f"Deletion request {req.id} ({when}): every named record had already been erased; nothing changed."
    if exact:
        how = (
            f"The served model (version {r.model_version_after}) uses no parameters trained on them: the parts "
            "that saw them were switched off or retrained without them, as the training lineage shows."
        )
        if r.pending_retrain:
            how += " The affected parts are being retrained in the background; until then they do not serve."
    else:
        how = (
            f"The served model (version {r.model_version_after}) was edited with the approximate unlearning method "
            f"'{outcome.method}' and passed its checks (held-out accuracy kept, membership signal near chance); "
            "this is evidence, not a proof, that the records no longer influence it."
        )
    return f"Deletion request {req.id} ({when}): {n} training record(s) were erased from the training data. {how}"


def build_receipt(req: ServiceRequest, outcome: ForgetOutcome, *, backend_kind: str, exact: bool) -> dict[str, Any]:
    r = outcome.receipt
    completed_at = iso(utcnow()) or ""
    guarantee: dict[str, Any] = {
        "level": "exact" if exact else "approximate",
        "class": r.guarantee,
        "levels": list(r.levels),
    }
    if exact:
        guarantee["basis"] = "lineage: no active checkpoint's seen set contains the ids (checked at commit)"
    else:
        guarantee["method"] = outcome.method
        guarantee["metrics"] = outcome.metrics
    return {
        "type": RECEIPT_TYPE,
        "revision": 1,
        "issued_at": completed_at,
        "issuer": {"software": "unlearnkit", "version": _version()},
        "request": {
            "id": req.id,
            "kind": req.kind,
            "external_ref": req.external_ref,
            "received_at": iso(req.received_at),
            "due_at": iso(req.due_at),
            "extended_until": iso(req.extended_until),
            "completed_at": completed_at,
        },
        "erased": {
            "count": len(r.id_hashes),
            "id_hashes": list(r.id_hashes),
            "content_hashes": list(r.content_hashes),
            "already_forgotten": list(r.already_forgotten),
            "id_hash": "HMAC-SHA256 of the sample id under the model's secret pepper",
        },
        "model": {
            "kind": backend_kind,
            "version_before": r.model_version_before,
            "version_after": r.model_version_after,
            "pending_retrain": list(r.pending_retrain),
        },
        "actions": {
            "deactivated": list(r.deactivated),
            "retrained": list(r.retrained),
            "purged_checkpoints": list(r.purged_checkpoints),
        },
        "guarantee": guarantee,
        "exports": {
            "stale": list(r.stale_exports),
            "notice": EXPORT_NOTICE if r.stale_exports else None,
        },
        "verification": r.verification,
        "followups": [],
        "statement": _statement(req, outcome, exact, completed_at),
        "notes": list(r.notes),
        "out_of_scope": OUT_OF_SCOPE,
    }


def add_retrain_followup(receipt: dict[str, Any], info: dict[str, Any], still_pending: list[int]) -> dict[str, Any]:
    """A copy of ``receipt`` with the finished background retrain appended (revision + 1)."""
    out = dict(receipt)
    now = iso(utcnow())
    out["followups"] = [
        *receipt.get("followups", []),
        {
            "type": "retrain",
            "completed_at": now,
            "shards": list(info.get("shards", [])),
            "model_version": info.get("model_version"),
            "purged_checkpoints": list(info.get("purged", [])),
            "resumed": bool(info.get("resumed", False)),
        },
    ]
    model = dict(receipt.get("model", {}))
    model["pending_retrain"] = [s for s in model.get("pending_retrain", []) if s in set(still_pending)]
    out["model"] = model
    out["revision"] = int(receipt.get("revision", 1)) + 1
    out["issued_at"] = now
    return out
