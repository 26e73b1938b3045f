"""``/healthz`` (the process is up) and ``/readyz`` (model loaded, database reachable, schema current).

Without a token ``/readyz`` answers only ready or not: the model version and the worker lease are details for
an admin token (they tell an outsider when deletions land).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select, text

from unlearnkit.service.core import ServiceContext
from unlearnkit.service.db import at_head
from unlearnkit.service.deps import bearer, get_svc
from unlearnkit.service.models import WorkerLease
from unlearnkit.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(
    svc: ServiceContext = Depends(get_svc), credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> JSONResponse:
    checks: dict[str, object] = {}
    ok = True
    try:
        checks["model_version"] = svc.backend.model_version
    except Exception as exc:  # not fitted, every shard dead, ...
        checks["model"], ok = f"{type(exc).__name__}", False
    try:
        with svc.store.session() as s:
            s.execute(text("SELECT 1"))
            lease = s.execute(select(WorkerLease)).scalars().first()
            checks["worker_lease_held"] = bool(lease and lease.owner)
        checks["schema_current"] = at_head(svc.store.engine)
        ok = ok and bool(checks["schema_current"])
    except Exception as exc:
        checks["database"], ok = f"{type(exc).__name__}", False
    principal = svc.tokens.resolve(credentials.credentials) if credentials is not None else None
    shown = checks if principal is not None and principal.is_admin else {}
    body = Health(status="ready" if ok else "not ready", checks=shown)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
