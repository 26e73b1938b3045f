"""Operations: ``GET /metrics`` (Prometheus) and ``/v1/exports`` (copies of the served model and their staleness).

``/metrics`` needs an admin token unless the settings make it public (``metrics_public``) or move it to its
own port (``metrics_port``: then it is served there, without a token, and not here).

Exports (admin): ``POST /v1/exports`` writes the served model (ONNX, TorchScript or safetensors) under
``exports_dir`` and records it; ``GET /v1/exports?stale=true`` lists the copies a later deletion made stale,
whose recipients must replace them (GDPR Art. 19); ``GET /v1/exports/{id}/file`` downloads one;
``POST /v1/exports/{id}/replaced`` records that its recipient replaced it.
"""

from __future__ import annotations

import threading
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StringConstraints

from unlearnkit.errors import UnlearnkitError
from unlearnkit.lineage.exports import list_exports, mark_replaced
from unlearnkit.service.auth import Principal
from unlearnkit.service.core import ServiceContext
from unlearnkit.service.deps import AUTH_RESPONSES, get_svc, require
from unlearnkit.service.logs import event
from unlearnkit.service.schemas import PRINTABLE, ErrorOut, Strict

router = APIRouter(tags=["operations"])
exports_router = APIRouter(prefix="/exports", tags=["exports"])
_export_lock = threading.Lock()  # one export at a time: each holds a full copy of the served model


def _metrics_access(request: Request, svc: ServiceContext = Depends(get_svc)) -> None:
    if svc.settings.metrics_public:
        return
    from fastapi.security import HTTPAuthorizationCredentials

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    creds = HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip()) if token else None
    require("admin")(creds, svc)


@router.get("/metrics", responses=AUTH_RESPONSES, response_class=Response)
def metrics(request: Request, _: None = Depends(_metrics_access)) -> Response:
    """Prometheus text exposition of the service's metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


class ExportIn(Strict):
    format: Literal["onnx", "torchscript", "safetensors"] = Field(description="file format of the copy")
    recipient: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=PRINTABLE)] = Field(
        description="who receives the copy (told when a deletion makes it stale)"
    )


class ExportOut(BaseModel):
    export_id: int
    model_version: int
    format: str
    file_sha256: str
    file_name: str
    recipient: str
    exported_at: str | None
    stale: bool = Field(description="a deletion committed after this export: the copy holds erased data")
    stale_since_version: int | None
    stale_by_request: str | None
    replaced_at: str | None


class ExportList(BaseModel):
    items: list[ExportOut]


@exports_router.get("", response_model=ExportList, responses=AUTH_RESPONSES)
def get_exports(
    stale: bool | None = Query(None, description="true: only copies a later deletion made stale"),
    svc: ServiceContext = Depends(get_svc),
    _: Principal = Depends(require("admin")),
) -> ExportList:
    return ExportList(items=[ExportOut(**r) for r in list_exports(svc.store, stale=stale)])


@exports_router.post(
    "", response_model=ExportOut, status_code=201, responses={**AUTH_RESPONSES, 409: {"model": ErrorOut}}
)
def create_export(
    body: ExportIn, svc: ServiceContext = Depends(get_svc), principal: Principal = Depends(require("admin"))
) -> ExportOut:
    from unlearnkit.models.export import SUFFIX, export_served

    directory = svc.settings.exports_path
    with _export_lock:
        try:
            version, module = svc.backend.served_ensemble()
            out = directory / f"v{version}-{uuid.uuid4().hex[:12]}{SUFFIX[body.format]}"
            record = export_served(
                svc.store,
                version,
                module,
                fmt=body.format,
                out=out,
                recipient=body.recipient,
                num_features=svc.backend.num_features,
                metadata={"kind": svc.backend.kind},
            )
        except UnlearnkitError as exc:
            raise HTTPException(409, str(exc)) from exc
    event("export.recorded", export_id=record["export_id"], model_version=version, format=body.format)
    return ExportOut(**record)


def _find(svc: ServiceContext, export_id: int) -> dict:
    found = next((r for r in list_exports(svc.store) if r["export_id"] == export_id), None)
    if found is None:
        raise HTTPException(404, "no such export")
    return found


@exports_router.get("/{export_id}/file", responses={**AUTH_RESPONSES, 404: {"model": ErrorOut}})
def export_file(
    export_id: int, svc: ServiceContext = Depends(get_svc), _: Principal = Depends(require("admin"))
) -> FileResponse:
    record = _find(svc, export_id)
    path = svc.settings.exports_path / record["file_name"]
    if not path.is_file():
        raise HTTPException(404, "the export's file is not on this server (it was written elsewhere)")
    return FileResponse(path, filename=record["file_name"], media_type="application/octet-stream")


@exports_router.post("/{export_id}/replaced", response_model=ExportOut, responses={**AUTH_RESPONSES, 404: {}})
def export_replaced(
    export_id: int, svc: ServiceContext = Depends(get_svc), _: Principal = Depends(require("admin"))
) -> ExportOut:
    _find(svc, export_id)
    mark_replaced(svc.store, [export_id])
    return ExportOut(**_find(svc, export_id))
