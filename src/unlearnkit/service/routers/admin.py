"""Admin actions on deletion requests: extend the deadline (Art. 12(3)), reject with a reason, retry.

- extend: by one or two further months in all, with a recorded reason, only while the request is open and
  before its original due date (the subject must be told within the first month).
- reject: with a reason (e.g. an Art. 17(3) exception), only while no worker is running it.
- retry: re-queue a request whose attempts were exhausted (state ``failed`` with no retry scheduled).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from unlearnkit.lineage.store import iso, utcnow
from unlearnkit.service.auth import Principal
from unlearnkit.service.core import ServiceContext
from unlearnkit.service.deadlines import MAX_EXTENSION_MONTHS, extended_date
from unlearnkit.service.deps import AUTH_RESPONSES, get_svc, require
from unlearnkit.service.logs import event
from unlearnkit.service.models import TERMINAL_STATES, Job, ServiceRequest
from unlearnkit.service.routers.deletions import NOT_FOUND, request_out, well_formed
from unlearnkit.service.schemas import DeletionOut, ErrorOut, ExtendIn, RejectIn

router = APIRouter(prefix="/admin", tags=["admin"])
CONFLICT = {409: {"model": ErrorOut, "description": "not allowed in the request's current state"}}


def _locked(s: Session, request_id: str, *, open_only: bool) -> ServiceRequest:
    """The request row, locked for update; 404 if unknown, 409 if ``open_only`` and it has ended."""
    req = s.get(ServiceRequest, request_id, with_for_update=True) if well_formed(request_id) else None
    if req is None:
        raise HTTPException(404, "no such deletion request")
    if open_only and req.state in TERMINAL_STATES:
        raise HTTPException(409, f"the request is already {req.state}")
    return req


@router.post(
    "/deletion-requests/{request_id}/extend",
    response_model=DeletionOut,
    responses={**AUTH_RESPONSES, **NOT_FOUND, **CONFLICT},
)
def extend(
    request_id: str,
    body: ExtendIn,
    svc: ServiceContext = Depends(get_svc),
    principal: Principal = Depends(require("admin")),
) -> DeletionOut:
    now = utcnow()
    with svc.store.session() as s:
        req = _locked(s, request_id, open_only=True)
        if now > req.due_at:
            raise HTTPException(
                409, "an extension must be decided and told to the subject before the original due date"
            )
        total = req.extension_months + body.months
        if total > MAX_EXTENSION_MONTHS:
            raise HTTPException(
                409, f"at most {MAX_EXTENSION_MONTHS} further months in all; {req.extension_months} already granted"
            )
        req.extension_months, req.extended_until = total, extended_date(req.received_at, total)
        req.extension_reason = body.reason if not req.extension_reason else f"{req.extension_reason}\n{body.reason}"
        req.extended_at, req.updated_at = now, now
        svc.store.record_event(
            "service.request.extended",
            {
                "request_id": request_id,
                "months": total,
                "extended_until": iso(req.extended_until),
                "by": principal.name,
            },
            s,
        )
        return request_out(req)


@router.post(
    "/deletion-requests/{request_id}/reject",
    response_model=DeletionOut,
    responses={**AUTH_RESPONSES, **NOT_FOUND, **CONFLICT},
)
def reject(
    request_id: str,
    body: RejectIn,
    svc: ServiceContext = Depends(get_svc),
    principal: Principal = Depends(require("admin")),
) -> DeletionOut:
    with svc.store.session() as s:
        req = _locked(s, request_id, open_only=True)
        if not svc.queue.cancel_queued(s, request_id):
            raise HTTPException(409, "a worker is running this request; it can no longer be rejected")
        now = utcnow()
        req.state, req.rejection_reason, req.owner, req.updated_at = "rejected", body.reason, None, now
        req.next_attempt_at = None
        svc.store.record_event("service.request.rejected", {"request_id": request_id, "by": principal.name}, s)
        event("deletion.state", request_id=request_id, state="rejected", by=principal.name)
        return request_out(req)


@router.post(
    "/deletion-requests/{request_id}/retry",
    response_model=DeletionOut,
    responses={**AUTH_RESPONSES, **NOT_FOUND, **CONFLICT},
)
def retry(
    request_id: str, svc: ServiceContext = Depends(get_svc), principal: Principal = Depends(require("admin"))
) -> DeletionOut:
    with svc.store.session() as s:
        req = _locked(s, request_id, open_only=False)
        live = s.execute(
            select(Job.id).where(Job.request_id == request_id, Job.state.in_(("queued", "running")))
        ).first()
        if req.state != "failed" or live is not None:
            raise HTTPException(
                409, f"only a failed request with no pending attempt can be retried (it is {req.state})"
            )
        svc.queue.requeue(s, request_id)
        req.next_attempt_at, req.updated_at = utcnow(), utcnow()
        svc.store.record_event("service.request.retried", {"request_id": request_id, "by": principal.name}, s)
    svc.wake.set()
    return request_out(req)
