"""The receipt a data subject gets, signed with the model's key by the service and by ``unlearnkit forget``.

A receipt says what was done and when, with what guarantee, and nothing more:

- the named records only as HMACs of their ids under the model's secret (no plain content hash, which could be
  matched against public rows), and their number; not which of them were erased now, earlier, or never held
  (that would tell a caller which ids exist);
- no external reference in clear (an HMAC scoped to its submitter), no shard, slice, sequence or layer numbers
  (the layout would let a requester aim deletions), only counts of what was switched off and retrained, and the
  sha256 of the checkpoint files purged;
- the exported copies this deletion made stale (GDPR Art. 19), so their recipients can be told;
- the model version before and after, and a signed checkpoint of the audit chain's head (``audit_head``), so a
  receipt kept off the machine is evidence against a later rollback of the store.

The internal record (the engine's :class:`~unlearnkit.types.DeletionReceipt`, in the lineage store) keeps the
details for the operator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unlearnkit.lineage.manifest import write_atomic
from unlearnkit.lineage.signing import parse_envelope
from unlearnkit.lineage.store import iso, utcnow
from unlearnkit.types import DeletionReceipt

RECEIPT_TYPE = "unlearnkit/deletion-receipt"
RECEIPTS_DIR = "receipts"
EXPORT_NOTICE = (
    "These exported copies of the model were taken before this deletion and still hold what it erased; "
    "their recipients must be told to replace them (GDPR Art. 19)."
)
OUT_OF_SCOPE = [
    "copies outside this service (exports, downstream recipients) are not covered by this receipt",
    "database and file-system backups keep the erased rows until they expire; they are never restored into "
    "training and are put beyond use until then",
]


def _version() -> str:
    from unlearnkit import __version__

    return __version__


def _statement(request: dict[str, Any], r: DeletionReceipt, named: int, exact: bool, method: str | None) -> str:
    when = f"received {request.get('received_at')}, completed {request.get('completed_at')}"
    head = (
        f"Deletion request {request['id']} ({when}): none of the {named} named training record(s) is held in the "
        "training data any more."
    )
    if not r.id_hashes:
        return f"{head} Nothing had to change in the served model (version {r.model_version_after})."
    if exact:
        how = (
            f" The served model (version {r.model_version_after}) uses no parameters trained on them: the parts "
            "that saw them were switched off or retrained without them, as the training lineage shows."
        )
        if r.pending_retrain:
            how += " The affected parts are being retrained in the background; until then they do not serve."
    else:
        how = (
            f" The served model (version {r.model_version_after}) was edited with the approximate unlearning method "
            f"'{method}' and passed its checks (held-out accuracy kept, membership signal near chance); "
            "this is evidence, not a proof, that the records no longer influence it."
        )
    return head + how


def public_receipt(
    r: DeletionReceipt,
    *,
    request: dict[str, Any],
    named_id_hashes: list[str],
    backend_kind: str,
    exact: bool,
    audit_head: dict[str, Any] | None,
    method: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The signed body for a finished deletion ``r``.

    ``request`` holds ``id``, ``kind`` and the dates (``received_at``, ``due_at``, ``extended_until``,
    ``completed_at``) plus an optional ``external_ref_hmac``; ``named_id_hashes`` are the HMACs of every id the
    request named (erased now, earlier, or never held: the receipt does not say which).
    """
    guarantee: dict[str, Any] = {
        "level": ("exact" if exact else "approximate") if r.id_hashes else "none needed",
        "class": r.guarantee,
        "levels": list(r.levels),
    }
    if exact:
        guarantee["basis"] = "lineage: no active checkpoint's seen set contains the ids (checked at commit)"
    else:
        guarantee["method"] = method
        guarantee["metrics"] = dict(metrics or {})
    timings = r.verification.get("timings_ms")
    return {
        "type": RECEIPT_TYPE,
        "revision": 1,
        "issued_at": request.get("completed_at") or iso(utcnow()),
        "issuer": {"software": "unlearnkit", "version": _version()},
        "request": {
            k: request.get(k)
            for k in ("id", "kind", "external_ref_hmac", "received_at", "due_at", "extended_until", "completed_at")
        },
        "erased": {
            "count": len(named_id_hashes),
            "id_hashes": sorted(named_id_hashes),
            "id_hash": "HMAC-SHA256 of the sample id under the model's secret pepper",
            **({"external_id_hashes": sorted(r.external_id_hashes)} if getattr(r, "external_id_hashes", None) else {}),
        },
        "model": {
            "kind": backend_kind,
            "version_before": r.model_version_before,
            "version_after": r.model_version_after,
            "retrain_pending": bool(r.pending_retrain),
        },
        "actions": {
            "deactivated": len(r.deactivated),
            "retrained": len(r.retrained),
            "purged_checkpoints": sorted(r.purged_checkpoints),
        },
        "guarantee": guarantee,
        "exports": {
            "stale": list(getattr(r, "stale_exports", [])),
            "notice": EXPORT_NOTICE if getattr(r, "stale_exports", []) else None,
        },
        "verification": {"timings_ms": timings} if timings else {},
        "audit_head": audit_head,
        "followups": [],
        "statement": _statement(request, r, len(named_id_hashes), exact, method),
        "out_of_scope": OUT_OF_SCOPE,
    }


def add_retrain_followup(receipt: dict[str, Any], info: dict[str, Any], pending: bool) -> dict[str, Any]:
    """A copy of ``receipt`` with the finished background retrain appended (revision + 1)."""
    out = dict(receipt)
    now = iso(utcnow())
    out["followups"] = [
        *receipt.get("followups", []),
        {
            "type": "retrain",
            "completed_at": now,
            "model_version": info.get("model_version"),
            "purged_checkpoints": sorted(info.get("purged", [])),
        },
    ]
    out["model"] = {**receipt.get("model", {}), "retrain_pending": bool(pending)}
    out["revision"] = int(receipt.get("revision", 1)) + 1
    out["issued_at"] = now
    return out


# -- receipts issued outside the service (``unlearnkit forget``) ----------------------------------------------
def save_receipt(directory: Path, envelope: dict[str, Any]) -> Path:
    """Keep a signed receipt in ``DIR/receipts/<request id>.json``."""
    rid = str(envelope["receipt"]["request"]["id"])
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in rid)[:128]
    folder = Path(directory) / RECEIPTS_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{safe}.json"
    write_atomic(path, json.dumps(envelope, indent=2, sort_keys=True).encode())
    return path


def stored_receipts(directory: Path) -> list[dict[str, Any]]:
    """Every receipt kept in ``DIR/receipts`` (parsed, not verified), oldest first."""
    folder = Path(directory) / RECEIPTS_DIR
    out = []
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(parse_envelope(p.read_bytes()))
        except ValueError:
            continue
    return sorted(out, key=lambda e: str(e.get("receipt", {}).get("issued_at", "")))
