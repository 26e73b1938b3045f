"""One local 2-CPU Ray instance for the whole session (Ray tests run in CI; starting Ray takes seconds)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'unlearnkit[ray]')")
    from unlearnkit.runtime.ray_executor import package_runtime_env

    # a real local cluster (no local_mode): tasks run in worker processes that get the package as a py_module
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=package_runtime_env())
    try:
        yield ray
    finally:
        ray.shutdown()
