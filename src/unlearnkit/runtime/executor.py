"""Executors run independent training tasks (one per shard). Only the coordinator writes to the store.

Tasks are plain picklable callables with picklable arguments, so an executor may run them in this
process, in a process pool, or as Ray tasks, without shared state. Every executor sets torch's thread count
*inside* the task (``threads``, default 1: on a small machine one thread per task is an order of magnitude
faster than torch's default), and has a ``spec`` string that :func:`make_executor` turns back into the same
kind of executor: the model records it, so deletion-time retrains run where fitting ran.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

R = TypeVar("R")


class Executor(Protocol):
    spec: str

    def map(self, fn: Callable[..., R], tasks: Sequence[Any], *, threads: int | None = 1) -> list[R]:
        """Run ``fn(task)`` for every task (torch using ``threads`` threads inside it); results in task order."""
        ...


@dataclass(frozen=True)
class Threaded(Generic[R]):
    """``fn`` with torch's thread count set first, in whichever process runs it (picklable when ``fn`` is)."""

    fn: Callable[[Any], R]
    threads: int | None

    def __call__(self, task: Any) -> R:
        if self.threads is not None:
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
        return self.fn(task)


class LocalExecutor:
    """Run tasks one after another in this process (the default: deterministic, no pickling cost)."""

    spec = "local"

    def map(self, fn: Callable[..., R], tasks: Sequence[Any], *, threads: int | None = 1) -> list[R]:
        if threads is None:
            return [fn(t) for t in tasks]
        import torch

        before = torch.get_num_threads()
        try:
            return [Threaded(fn, threads)(t) for t in tasks]
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)


class ProcessExecutor:
    """Run tasks in a pool of worker processes (each with ``threads`` torch threads)."""

    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            from unlearnkit.errors import ConfigError

            raise ConfigError(f"process executor: the worker count must be positive, got {workers}")
        self.workers = workers

    @property
    def spec(self) -> str:
        return f"process:{self.workers}"

    def map(self, fn: Callable[..., R], tasks: Sequence[Any], *, threads: int | None = 1) -> list[R]:
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures: list[Future[R]] = [pool.submit(Threaded(fn, threads), t) for t in tasks]
            return [f.result() for f in futures]


def make_executor(spec: str | None) -> Executor:
    """``local`` (default), ``process[:N]``, or ``ray[:ADDRESS]`` (needs the ``ray`` extra)."""
    if spec in (None, "", "local"):
        return LocalExecutor()
    kind, _, arg = spec.partition(":")
    if kind == "process":
        try:
            return ProcessExecutor(int(arg or 2))
        except ValueError:
            pass
    elif kind == "ray":
        from unlearnkit.runtime.ray_executor import RayExecutor

        return RayExecutor(address=arg or None)
    from unlearnkit.errors import ConfigError

    raise ConfigError(f"unknown executor {spec!r}: use local, process[:N] or ray[:ADDRESS]")
