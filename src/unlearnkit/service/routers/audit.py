"""``GET /v1/audit/verify``: the keyed hash chain, the lineage invariant, the model's files and the receipts;
``GET /v1/audit/head``: a signed checkpoint of the chain's head, for keeping off the machine.

On top of the backend's report (for exact models: chain, invariant, signed manifest, signed head file, orphan
checkpoint files) it checks that every completed request has exactly one ``service.request.completed`` audit
event and a receipt whose signature verifies with the service key.
"""

from __future__ import annotations

import json
from collections import Counter

from fastapi import APIRouter, Depends
from sqlalchemy import select

from unlearnkit.errors import DataError
from unlearnkit.lineage.audit import sign_head
from unlearnkit.service.auth import Principal
from unlearnkit.service.core import ServiceContext
from unlearnkit.service.deps import AUTH_RESPONSES, get_svc, require
from unlearnkit.service.models import ServiceRequest
from unlearnkit.service.schemas import AuditOut
from unlearnkit.service.signing import verify_envelope

router = APIRouter(tags=["audit"])


def service_problems(svc: ServiceContext) -> tuple[list[str], int]:
    problems: list[str] = []
    completions = Counter(
        e["payload"].get("request_id")
        for e in svc.store.audit_events()
        if e["event_type"] == "service.request.completed"
    )
    with svc.store.session() as s:
        rows = s.execute(select(ServiceRequest.id, ServiceRequest.state, ServiceRequest.receipt_json)).all()
    checked = 0
    for rid, state, receipt_json in rows:
        n = completions.get(rid, 0)
        if state == "completed":
            if n != 1:
                problems.append(f"request {rid}: {n} completion events (expected exactly 1)")
            if not receipt_json:
                problems.append(f"request {rid}: completed without a receipt")
                continue
            try:
                verify_envelope(json.loads(receipt_json), svc.signer.public_key)
                checked += 1
            except DataError as exc:
                problems.append(f"request {rid}: receipt does not verify ({exc})")
        elif n:
            problems.append(f"request {rid}: is {state} but has a completion event")
    return problems, checked


@router.get("/audit/verify", response_model=AuditOut, responses=AUTH_RESPONSES)
def verify(svc: ServiceContext = Depends(get_svc), _: Principal = Depends(require("admin"))) -> AuditOut:
    report = svc.backend.verify()
    problems, checked = service_problems(svc)
    all_problems = [*report.problems, *problems]
    return AuditOut(ok=not all_problems, events=report.events, problems=all_problems, receipts_checked=checked)


@router.get("/audit/head", responses=AUTH_RESPONSES)
def head(svc: ServiceContext = Depends(get_svc), _: Principal = Depends(require("predict"))) -> dict:
    """The audit chain's newest ``(seq, hash)`` and the model version, signed with the model's key.

    Keep the answers somewhere the service cannot write: ``unlearnkit audit DIR --head FILE`` then proves that
    the store still extends them (no rollback, truncation or replacement since).
    """
    return sign_head(svc.store, svc.signer)
