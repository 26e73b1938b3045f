"""Server logs follow the current stderr: a host that swapped and closed its stream never breaks a log call."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from unlearnkit.service.logs import StderrHandler, configure_logging, logging_config


def test_log_handler_writes_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert logging_config()["handlers"]["default"]["class"].endswith(".StderrHandler")
    log = logging.getLogger("unlearnkit.tests.stderr")
    handler = StderrHandler()
    log.addHandler(handler)
    monkeypatch.setattr(log, "propagate", False)
    monkeypatch.setattr(log, "level", logging.INFO)
    try:
        first = io.StringIO()
        monkeypatch.setattr(sys, "stderr", first)
        log.info("one")
        assert "one" in first.getvalue()
        first.close()  # e.g. a test runner's captured stream, closed after the command that configured logging
        second = io.StringIO()
        monkeypatch.setattr(sys, "stderr", second)
        log.info("two")
        assert second.getvalue().strip().endswith("two")
    finally:
        log.removeHandler(handler)


def test_configure_logging_leaves_other_handlers_alone() -> None:
    names = ("unlearnkit", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level, logging.getLogger(n).propagate) for n in names
    }
    foreign = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(foreign)
    try:
        configure_logging("json", "info")
        configure_logging("text", "warning")  # a second call replaces its own handler, nothing else
        assert foreign in root.handlers and not foreign.stream.closed
        ours = [h for h in logging.getLogger("unlearnkit").handlers if h.get_name() == "unlearnkit-server"]
        assert len(ours) == 1 and isinstance(ours[0], StderrHandler)
        assert logging.getLogger("unlearnkit").level == logging.WARNING
    finally:
        root.removeHandler(foreign)
        for n, (handlers, level, propagate) in saved.items():
            lg = logging.getLogger(n)
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate
