"""Structured logs: one JSON object per line, one event per request state change, retrain, swap and purge.

Every line has ``ts`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; an *event* line adds ``event``
(``deletion.received``, ``deletion.state``, ``retrain.started``, ``retrain.completed``, ``model.swapped``,
``purge.completed``, ``export.recorded``) and its fields. A ``trace_id`` follows a deletion from the HTTP call
to the worker: the API takes the caller's ``X-Request-ID`` (or makes one), echoes it in the response, stores
it in the job's payload, and the worker logs it with every event of that job.

No raw sample id, owner or personal data is ever logged: requests are named by their random request id and
samples only by count (their keyed hashes live in the audit log).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("unlearnkit_trace_id", default=None)
_TRACE_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
events = logging.getLogger("unlearnkit.events")


def event(name: str, /, **fields: Any) -> None:
    """Log the event ``name`` with ``fields`` (and the current trace id, if any) at INFO."""
    trace = fields.pop("trace_id", None) or trace_id_var.get()
    if trace:
        fields["trace_id"] = trace
    events.info(name, extra={"event": name, "fields": fields})


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object (keys sorted; values that JSON cannot hold as strings)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        name = getattr(record, "event", None)
        if name:
            out["event"] = name
        out.update(getattr(record, "fields", None) or {})
        for key, value in vars(record).items():  # `extra=` fields of ordinary log calls
            if key not in _RESERVED and key not in ("event", "fields") and key not in out:
                out[key] = value
        trace = trace_id_var.get()
        if trace and "trace_id" not in out:
            out["trace_id"] = trace
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, sort_keys=True, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes each record to ``sys.stderr`` as it is when the record is emitted, not the stream that was current
    when logging was configured: a server started inside a host that swaps stderr (a test runner, a notebook)
    never keeps writing to a closed stream from its background threads."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr


def logging_config(fmt: str = "json", level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server (uvicorn's loggers included): ``json`` or ``text``."""
    if fmt not in ("json", "text"):
        raise ValueError(f"unknown log format {fmt!r}; choose json or text")
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    handler = {"class": f"{__name__}.StderrHandler", "formatter": "default"}
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "unlearnkit": {"handlers": ["default"], "level": lvl, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": lvl, "propagate": False},
            "uvicorn.error": {"level": lvl},
            "uvicorn.access": {"handlers": ["default"], "level": lvl, "propagate": False},
        },
    }


def configure_logging(fmt: str = "json", level: str = "info") -> None:
    """Give unlearnkit's and uvicorn's loggers the server's handler, in this process.

    Unlike ``dictConfig`` (which closes every handler in the process), this replaces only a handler it attached
    before, so a worker started inside another program (a notebook, a test runner) leaves that program's
    logging alone.
    """
    cfg = logging_config(fmt, level)
    spec = cfg["formatters"]["default"]
    formatter = JsonFormatter() if "()" in spec else logging.Formatter(spec["format"])
    handler = StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("unlearnkit-server")
    for name, conf in cfg["loggers"].items():
        logger = logging.getLogger(name)
        logger.setLevel(conf["level"])
        if "handlers" not in conf:
            continue
        for old in [h for h in logger.handlers if h.get_name() == "unlearnkit-server"]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = conf.get("propagate", True)


def new_trace_id() -> str:
    return uuid.uuid4().hex


class TraceMiddleware:
    """Take ``X-Request-ID`` (or make one), expose it to handlers and logs, echo it in the response, and time
    each call for ``observe(path, status, seconds)`` (the metrics' latency histograms)."""

    def __init__(self, app: ASGIApp, observe: Any = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import time

        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), "")
        trace = given if _TRACE_RE.match(given) else new_trace_id()
        token = trace_id_var.set(trace)
        status = 500
        t0 = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", trace.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            trace_id_var.reset(token)
            if self.observe is not None:
                self.observe(scope.get("path", ""), scope.get("method", ""), status, time.perf_counter() - t0)


__all__ = [
    "JsonFormatter",
    "StderrHandler",
    "TraceMiddleware",
    "configure_logging",
    "event",
    "logging_config",
    "new_trace_id",
    "trace_id_var",
]
