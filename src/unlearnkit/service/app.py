"""The FastAPI application: ``create_app(settings)`` with a lifespan that opens the model and the database,
runs the migrations, and starts the worker thread and the state refresher; one router per resource.

Predictions read the backend's immutable served snapshot, so they never wait for a deletion. Before answering,
every prediction compares the served version with the store's newest (one indexed read that does not queue
behind writers) and reloads first if another process (a CLI ``forget``, a separate worker, a retrain) changed
the model; if the store cannot be read it answers 503 rather than risk serving deleted data. A refresher thread
does the same every ``refresh_seconds`` (default 200 ms), so the reload rarely falls on a request, and reloads
the tokens stored in the database (a revoked token stops working within ``token_cache_seconds``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unlearnkit.service.core import ServiceContext, open_service
from unlearnkit.service.docs import install_offline_docs
from unlearnkit.service.logs import TraceMiddleware, event
from unlearnkit.service.metrics import Metrics
from unlearnkit.service.routers import admin, audit, deletions, health, keys, models, ops, predict
from unlearnkit.service.settings import Settings
from unlearnkit.service.worker import WorkerThread

log = logging.getLogger(__name__)
API_VERSION = "v1"


class BodyLimit:
    """Answer 413 to bodies over ``max_bytes`` (by Content-Length, or counted while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(scope, receive, send)
                    return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(413, f"request body larger than {self.max_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"request body larger than {self.max_bytes} bytes"}, status_code=413)
        await response(scope, receive, send)


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTP exceptions from body parsing, so this renders as 413."""


class Refresher:
    """Keeps the served state and the token cache in step with the database."""

    def __init__(self, svc: ServiceContext, worker: WorkerThread | None = None) -> None:
        self.svc = svc
        self.worker = worker
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="unlearnkit-refresh", daemon=True)

    def _run(self) -> None:
        period = self.svc.settings.refresh_seconds
        while not self.stop.wait(period):
            try:
                # any process may have changed the model (a CLI `forget`, another worker, a retrain): reloading
                # here keeps the per-request check in `predict` cheap
                before = self.svc.backend.model_version
                if self.svc.backend.refresh():
                    after = self.svc.backend.model_version
                    event("model.swapped", from_version=before, to_version=after, cause="refresh")
                self.svc.tokens.maybe_reload()
            except Exception:
                log.exception("refresh failed; serving the current state")

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def _metrics_server(metrics: Metrics, settings: Settings) -> Any:
    """Prometheus metrics on their own port (``settings.metrics_port``), bound to the loopback interface."""
    if settings.metrics_port is None:
        return None
    from prometheus_client import start_http_server

    server, _thread = start_http_server(settings.metrics_port, addr=settings.metrics_addr, registry=metrics.registry)
    return server


def create_app(settings: Settings | None = None, **overrides: Any) -> FastAPI:
    """The application for ``settings`` (or ``Settings(**overrides)`` read with the environment)."""
    settings = settings or Settings(**overrides)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = open_service(settings)
        app.state.svc = svc
        metrics.attach(svc)
        side = _metrics_server(metrics, settings)
        worker = WorkerThread(svc) if settings.run_worker else None
        refresher = Refresher(svc, worker)
        if worker:
            worker.start()
        refresher.start()
        try:
            yield
        finally:
            refresher.close()
            if worker:
                worker.close()
            if side is not None:
                side.shutdown()
            metrics.detach()
            svc.close()

    app = FastAPI(
        title="unlearnkit deletion service",
        version=API_VERSION,
        description=(
            "Serves predictions, takes deletion requests (GDPR Art. 17) and forgets without stopping serving; "
            "each completed request has an Ed25519-signed receipt checkable offline with `GET /v1/keys`."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TraceMiddleware, observe=metrics.observe)
    install_offline_docs(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # without the offending input: it may be huge, hold personal data, or be NaN (not JSON)
        errors = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(OperationalError)
    async def _db_busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            {"detail": "database busy or unavailable; retry"}, status_code=503, headers={"Retry-After": "1"}
        )

    prefix = f"/{API_VERSION}"
    routers = (predict.router, deletions.router, models.router, audit.router, keys.router, admin.router)
    for router in (*routers, ops.exports_router):
        app.include_router(router, prefix=prefix)
    app.include_router(health.router)
    if settings.metrics_port is None:
        app.include_router(ops.router)
    return app
