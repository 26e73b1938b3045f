"""Deletion requests: submit (202 + Location), read, list (by state, overdue), fetch the signed receipt.

The request row, its ``forget`` job and an audit event commit in one transaction before the 202 is sent.
``Idempotency-Key`` and ``external_ref`` (both scoped to the submitter) make retries safe: the same key with the
same body returns the same request; with another body, 409.

No membership oracle: a ``delete`` caller's request is accepted whether or not the ids (or the owner) are in the
training data, and its receipt says only that none of the named records is held any more. An admin's
submission is checked first (unknown ids or owner: 422 naming them, nothing written).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from unlearnkit.lineage.store import canonical_json, iso, utcnow
from unlearnkit.service.auth import Principal
from unlearnkit.service.core import ServiceContext
from unlearnkit.service.deadlines import due_date
from unlearnkit.service.deps import AUTH_RESPONSES, get_svc, require
from unlearnkit.service.logs import event, trace_id_var
from unlearnkit.service.models import TERMINAL_STATES, ServiceRequest
from unlearnkit.service.schemas import (
    PRINTABLE,
    Accepted,
    DeletionIn,
    DeletionList,
    DeletionOut,
    ErrorOut,
    RequestState,
    SignedReceipt,
)

router = APIRouter(tags=["deletions"])
NOT_FOUND = {404: {"model": ErrorOut, "description": "no such request (or not yours)"}}


def deadline(req: ServiceRequest) -> datetime:
    return req.extended_until or req.due_at


def is_overdue(req: ServiceRequest, now: datetime | None = None) -> bool:
    return req.state not in TERMINAL_STATES and deadline(req) < (now or utcnow())


def request_out(req: ServiceRequest) -> DeletionOut:
    return DeletionOut(
        id=req.id,
        state=req.state,  # type: ignore[arg-type]
        kind=req.kind,  # type: ignore[arg-type]
        count=req.count,
        external_ref=req.external_ref,
        submitter=req.submitter,
        received_at=iso(req.received_at) or "",
        due_at=iso(req.due_at) or "",
        extended_until=iso(req.extended_until),
        extension_reason=req.extension_reason,
        deadline=iso(deadline(req)) or "",
        overdue=is_overdue(req),
        rejection_reason=req.rejection_reason,
        completed_at=iso(req.completed_at),
        attempts=req.attempts,
        last_error=req.last_error,
        next_attempt_at=iso(req.next_attempt_at),
        guarantee=req.guarantee,
        model_version_before=req.model_version_before,
        model_version_after=req.model_version_after,
        receipt_url=f"/v1/deletion-requests/{req.id}/receipt" if req.state == "completed" else None,
    )


def well_formed(request_id: str) -> bool:
    """Request ids are 32 lowercase hex digits; anything else cannot exist (and never reaches the database)."""
    return len(request_id) == 32 and all(ch in "0123456789abcdef" for ch in request_id)


def load_visible(svc: ServiceContext, request_id: str, principal: Principal) -> ServiceRequest:
    """The request, if it exists and the caller may see it (its submitter or an admin); else 404."""
    if not well_formed(request_id):
        raise HTTPException(404, "no such deletion request")
    with svc.store.session() as s:
        req = s.get(ServiceRequest, request_id)
    if req is None or (not principal.is_admin and req.submitter != principal.name):
        raise HTTPException(404, "no such deletion request")
    return req


def _existing(svc: ServiceContext, submitter: str, key: str | None, external_ref: str | None) -> ServiceRequest | None:
    conds = []
    if key is not None:
        conds.append((ServiceRequest.submitter == submitter) & (ServiceRequest.idempotency_key == key))
    if external_ref is not None:
        conds.append((ServiceRequest.submitter == submitter) & (ServiceRequest.external_ref == external_ref))
    if not conds:
        return None
    with svc.store.session() as s:
        return s.execute(select(ServiceRequest).where(or_(*conds)).limit(1)).scalar_one_or_none()


def _replay(found: ServiceRequest, principal: Principal, body_sha: str, response: Response) -> Accepted:
    if found.submitter != principal.name or found.body_sha256 != body_sha:
        raise HTTPException(
            409, f"this Idempotency-Key or external_ref was already used for a different request ({found.id})"
        )
    response.headers["Location"] = f"/v1/deletion-requests/{found.id}"
    response.headers["Idempotent-Replayed"] = "true"
    return Accepted(id=found.id, state=found.state, due_at=iso(found.due_at) or "")  # type: ignore[arg-type]


@router.post(
    "/deletion-requests",
    status_code=202,
    response_model=Accepted,
    responses={
        **AUTH_RESPONSES,
        409: {"model": ErrorOut, "description": "key or external_ref reused with a different body"},
        413: {"model": ErrorOut},
        422: {"model": ErrorOut, "description": "invalid body; for admins also unknown ids or owner (nothing written)"},
    },
)
def submit(
    body: DeletionIn,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=PRINTABLE)
    ] = None,
    svc: ServiceContext = Depends(get_svc),
    principal: Principal = Depends(require("delete")),
) -> Accepted:
    ids = sorted(set(body.ids)) if body.ids is not None else None
    if ids is not None and len(ids) > svc.settings.max_ids:
        raise HTTPException(422, f"at most {svc.settings.max_ids} ids per request, got {len(ids)}")
    canonical = {"ids": ids, "owner": body.owner, "external_ref": body.external_ref}
    body_sha = hashlib.sha256(canonical_json(canonical).encode()).hexdigest()
    found = _existing(svc, principal.name, idempotency_key, body.external_ref)
    if found is not None:
        return _replay(found, principal, body_sha, response)
    if not principal.is_admin:
        pass  # no membership oracle: see the module docstring
    elif ids is not None:
        unknown = svc.backend.unknown_ids(ids)
        if unknown:
            shown = ", ".join(str(i) for i in unknown[:20])
            more = f" (+{len(unknown) - 20} more)" if len(unknown) > 20 else ""
            raise HTTPException(422, f"unknown sample id(s): {shown}{more}; nothing was recorded")
    elif not svc.backend.owner_known(body.owner or ""):
        raise HTTPException(422, "unknown owner: no training sample belongs to it; nothing was recorded")
    rid = uuid.uuid4().hex
    now = utcnow()
    due = due_date(now)
    try:
        with svc.store.session() as s:
            s.add(
                ServiceRequest(
                    id=rid,
                    submitter=principal.name,
                    idempotency_key=idempotency_key,
                    external_ref=body.external_ref,
                    body_sha256=body_sha,
                    kind="ids" if ids is not None else "owner",
                    ids_json=json.dumps(ids) if ids is not None else None,
                    owner=body.owner,
                    count=len(ids) if ids is not None else 0,
                    state="received",
                    received_at=now,
                    due_at=due,
                    extension_months=0,
                    attempts=0,
                    updated_at=now,
                )
            )
            s.flush()
            svc.queue.enqueue(s, "forget", request_id=rid, payload={"trace_id": trace_id_var.get()})
            svc.store.record_event(
                "service.request.accepted",
                {
                    "request_id": rid,
                    "kind": "ids" if ids is not None else "owner",
                    "count": len(ids) if ids is not None else None,
                    "due_at": iso(due),
                    "submitter": principal.name,
                },
                s,
            )
    except IntegrityError:  # a concurrent retry with the same key won the race
        found = _existing(svc, principal.name, idempotency_key, body.external_ref)
        if found is None:
            raise
        return _replay(found, principal, body_sha, response)
    event("deletion.received", request_id=rid, kind="ids" if ids is not None else "owner", count=len(ids or []))
    svc.wake.set()  # an in-process worker starts at once instead of at its next poll
    response.headers["Location"] = f"/v1/deletion-requests/{rid}"
    return Accepted(id=rid, state="received", due_at=iso(due) or "")


@router.get("/deletion-requests/{request_id}", response_model=DeletionOut, responses={**AUTH_RESPONSES, **NOT_FOUND})
def get_request(
    request_id: str, svc: ServiceContext = Depends(get_svc), principal: Principal = Depends(require("delete"))
) -> DeletionOut:
    return request_out(load_visible(svc, request_id, principal))


@router.get("/deletion-requests", response_model=DeletionList, responses=AUTH_RESPONSES)
def list_requests(
    state: RequestState | None = None,
    overdue: bool | None = Query(None, description="true: only open requests past their deadline"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10**9),
    svc: ServiceContext = Depends(get_svc),
    principal: Principal = Depends(require("delete")),
) -> DeletionList:
    now = utcnow()
    q = select(ServiceRequest)
    if not principal.is_admin:
        q = q.where(ServiceRequest.submitter == principal.name)
    if state is not None:
        q = q.where(ServiceRequest.state == state)
    if overdue is not None:
        late = ServiceRequest.state.not_in(TERMINAL_STATES) & (
            func.coalesce(ServiceRequest.extended_until, ServiceRequest.due_at) < now
        )
        q = q.where(late if overdue else ~late)
    with svc.store.session() as s:
        total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        rows = s.execute(
            q.order_by(ServiceRequest.received_at, ServiceRequest.id).limit(limit).offset(offset)
        ).scalars()
        items = [request_out(r) for r in rows]
    return DeletionList(items=items, total=int(total), limit=limit, offset=offset)


@router.get(
    "/deletion-requests/{request_id}/receipt",
    response_model=SignedReceipt,
    responses={**AUTH_RESPONSES, **NOT_FOUND, 409: {"model": ErrorOut, "description": "not completed yet"}},
)
def get_receipt(
    request_id: str, svc: ServiceContext = Depends(get_svc), principal: Principal = Depends(require("delete"))
) -> JSONResponse:
    req = load_visible(svc, request_id, principal)
    if req.state != "completed" or not req.receipt_json:
        raise HTTPException(409, f"no receipt yet: the request is {req.state}")
    return JSONResponse(json.loads(req.receipt_json))
