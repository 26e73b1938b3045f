"""Ray executor: one ``ray.remote`` task per shard, retried on failure. Needs ``pip install 'unlearnkit[ray]'``.

Retries are safe because every task is a pure function of its arguments (ids, seeds, weights) and the
coordinator alone writes checkpoints and the lineage store. Workers on other machines get this package's code
through the job's ``runtime_env`` (``py_modules``: the installed ``unlearnkit`` directory is uploaded once per
job), set torch's thread count inside each task, and read the rows a task trains on themselves (the task names
held-data files by path, so the model directory must be on storage every node mounts at the same path); only
the small task description travels. Run ``ray start --head`` on one machine and ``ray start --address=…`` on the
others, then train with ``--executor ray:HOST:PORT`` (``ray`` alone starts or joins a local instance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from unlearnkit.runtime.executor import Threaded

R = TypeVar("R")


def package_runtime_env(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Ray ``runtime_env`` shipping the unlearnkit package to every worker (merged over ``extra``)."""
    import unlearnkit

    env = dict(extra or {})
    modules = list(env.get("py_modules", []))
    pkg = str(Path(unlearnkit.__file__).resolve().parent)
    if pkg not in modules:
        modules.append(pkg)
    env["py_modules"] = modules
    return env


class RayExecutor:
    """Shard tasks as Ray tasks. ``address``: a running cluster (``None``: join the one this process already
    started or start a local one); ``runtime_env``: extra Ray runtime environment (the package is always added).

    Ray uploads local directories only for a whole job, so the package travels when this executor connects
    (``ray.init``); a process that called ``ray.init`` itself passes ``runtime_env=package_runtime_env()`` there.
    """

    def __init__(
        self,
        address: str | None = None,
        max_retries: int = 3,
        num_cpus: float = 1.0,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the extra
            from unlearnkit.errors import ConfigError

            raise ConfigError("the ray executor needs the 'ray' extra: pip install 'unlearnkit[ray]'") from exc
        self._ray = ray
        self.address = address
        self.runtime_env = package_runtime_env(runtime_env)
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, runtime_env=self.runtime_env)
        self.max_retries = max_retries
        self.num_cpus = num_cpus

    @property
    def spec(self) -> str:
        return f"ray:{self.address}" if self.address else "ray"

    def map(self, fn: Callable[..., R], tasks: Sequence[Any], *, threads: int | None = 1) -> list[R]:
        remote = self._ray.remote(
            num_cpus=self.num_cpus,
            max_retries=self.max_retries,
            retry_exceptions=True,
        )(_run)
        return self._ray.get([remote.remote(fn, threads, t) for t in tasks])


def _run(fn: Callable[[Any], R], threads: int | None, task: Any) -> R:
    """The body of every Ray task (module-level: Ray wraps functions, not callable objects)."""
    return Threaded(fn, threads)(task)
