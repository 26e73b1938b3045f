"""Fault injection for crash and concurrency tests (``UNLEARNKIT_FAULT``); inert unless the variable is set.

``UNLEARNKIT_FAULT`` is a comma-separated list of ``step=exit`` (``os._exit``, like ``kill -9``) or
``step=sleep:SECONDS``. The service worker and ``unlearnkit forget`` install it on the strategy, whose steps are
``before_commit``, ``after_plan`` (planned, not yet committed), ``after_commit``, ``after_swap``,
``before_purge``, ``after_purge`` and ``mid_retrain`` (checkpoint files written, not yet committed).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from unlearnkit.errors import ConfigError

log = logging.getLogger(__name__)
FAULT_ENV = "UNLEARNKIT_FAULT"


def fault_injector_from_env(value: str | None = None) -> Callable[[str], None] | None:
    """The ``UNLEARNKIT_FAULT`` hook, or None when unset."""
    spec = os.environ.get(FAULT_ENV, "") if value is None else value
    actions: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        step, _, action = part.partition("=")
        if action != "exit" and not action.startswith("sleep:"):
            raise ConfigError(f"{FAULT_ENV}: expected step=exit or step=sleep:SECONDS, got {part!r}")
        actions[step] = action
    if not actions:
        return None

    def inject(step: str) -> None:
        action = actions.get(step)
        if action == "exit":
            log.warning("fault injection: exiting at %s", step)
            os._exit(137)
        elif action is not None:
            time.sleep(float(action.split(":", 1)[1]))

    return inject
