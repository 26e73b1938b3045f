"""The Ray executor trains shards as Ray tasks (fit and deletion-time retrains) and gives the bits of in-process
training; torch's thread count is set inside each task."""

from __future__ import annotations

import pytest

from tests.conftest import TINY
from unlearnkit.runtime import LocalExecutor, make_executor

pytestmark = pytest.mark.ray


# a lambda travels by value (a function of this module would be imported by name, and workers lack tests/)
_threads = lambda _: __import__("torch").get_num_threads()  # noqa: E731


def test_ray_tasks_set_threads_and_ship_the_package(ray_cluster):
    from unlearnkit.runtime.ray_executor import RayExecutor

    ex = RayExecutor()
    assert ex.spec == "ray" and make_executor("ray").spec == "ray"
    assert ex.map(_threads, [0, 1], threads=1) == [1, 1]
    assert ex.map(_threads, [0], threads=2) == [2]
    assert any(m.endswith("unlearnkit") for m in ex.runtime_env["py_modules"])


class CountingRay:
    """A RayExecutor that counts the shard tasks it ran (to see deletion-time retrains go through Ray)."""

    def __init__(self) -> None:
        from unlearnkit.runtime.ray_executor import RayExecutor

        self.inner, self.tasks = RayExecutor(), 0
        self.spec = self.inner.spec

    def map(self, fn, tasks, *, threads=1):
        self.tasks += len(tasks)
        return self.inner.map(fn, tasks, threads=threads)


def test_ray_fit_and_deletion_time_retrain_match_local(ray_cluster, small_train, public, digits_bundle, tmp_path):
    from unlearnkit.exact import SISA, load_strategy
    from unlearnkit.runtime.ray_executor import RayExecutor

    x = digits_bundle.test.x[:64]
    ray_ex = CountingRay()
    remote = SISA(shards=2, slices=2, executor=ray_ex, **TINY).fit(small_train, public, directory=tmp_path / "ray")
    local = SISA(shards=2, slices=2, executor=LocalExecutor(), **TINY).fit(
        small_train, public, directory=tmp_path / "local"
    )
    try:
        assert ray_ex.tasks == 2
        assert (remote.predict_proba(x) == local.predict_proba(x)).all()
    finally:
        remote.close()
    # the executor kind is recorded with the model: a reloaded model retrains at deletion time on Ray too
    reloaded = load_strategy(tmp_path / "ray")
    try:
        assert reloaded.config_["executor"] == "ray"
        victim = small_train.id_list()[3]
        r1, r2 = reloaded.forget([victim]), local.forget([victim])
        assert isinstance(reloaded.executor, RayExecutor)
        nodes = [[(n["shard"], n["prefix"]) for n in r.retrained] for r in (r1, r2)]
        assert nodes[0] and nodes[0] == nodes[1]  # SISA retrains the hit shard at deletion time
        assert reloaded.predict_proba(x).tobytes() == local.predict_proba(x).tobytes()
    finally:
        reloaded.close()
        local.close()
