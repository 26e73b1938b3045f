"""One local 2-CPU Ray instance for the Ray tests (they run in CI; starting Ray takes seconds).

Module-scoped and shut down afterwards, with the process's signal handlers put back, so nothing of Ray outlives
the tests that use it.
"""

from __future__ import annotations

import signal

import pytest


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'unlearnkit[ray]')")
    from unlearnkit.runtime.ray_executor import package_runtime_env

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # a real local cluster (no local_mode): tasks run in worker processes that get the package as a py_module
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=package_runtime_env())
    try:
        yield ray
    finally:
        ray.shutdown()
        for s, h in handlers.items():
            signal.signal(s, h)
