"""RunContext: device, seeds, threads and progress, so methods stay free of that plumbing.

Importing this module does not import torch (``unlearnkit forget`` on a fast path never needs it). A context's
thread count is applied to torch at construction when torch is already imported, and otherwise the moment torch
is first imported (:func:`apply_threads_when_imported`), so a path that trains or predicts always runs with the
context's threads, whichever comes first.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
log = logging.getLogger("unlearnkit")

_pending_threads: int | None = None  # the thread count to set when torch is imported


def _loaded_torch() -> Any:
    """The torch module if it is (fully) imported, else None; never imports it."""
    mod = sys.modules.get("torch")
    return mod if mod is not None and hasattr(mod, "set_num_threads") else None


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op thread count now (imports torch)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class _ThreadsOnTorchImport:
    """A one-shot import hook: once the ``torch`` package has executed, set the pending thread count."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "torch":
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        real = loader.exec_module

        def exec_module(module: Any) -> None:
            real(module)
            with contextlib.suppress(AttributeError):
                del loader.exec_module  # the loader's own method again
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
            if _pending_threads is not None:
                set_torch_threads(_pending_threads)

        loader.exec_module = exec_module
        return spec


def apply_threads_when_imported(threads: int) -> None:
    """Set torch's thread count to ``threads`` now if torch is imported, else as soon as it is imported."""
    global _pending_threads
    if _loaded_torch() is not None:
        set_torch_threads(threads)
        return
    _pending_threads = threads
    if not any(isinstance(f, _ThreadsOnTorchImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _ThreadsOnTorchImport())


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any printable parts; stable across processes and Python versions."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


@dataclass
class RunContext:
    """Where and how a run executes.

    ``threads`` defaults to 1: the models here are small, and on a 2-core machine one thread is an order
    of magnitude faster than two (thread hand-off dominates a 64-wide matmul).
    """

    seed: int = 0
    device: str = "cpu"
    threads: int | None = 1
    progress: bool = False
    inplace: bool = False
    artifact_dir: Path | None = None
    _applied: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.apply_threads()

    def apply_threads(self) -> None:
        """Give torch this context's thread count: now if torch is imported, else the moment it is (this never
        imports torch, so a path that needs no torch stays fast)."""
        if self.threads is not None:
            apply_threads_when_imported(self.threads)

    def torch_module(self) -> Any:
        """The torch module with this context's thread count applied (imports torch): call it where a path is
        about to train or predict."""
        import torch

        if self.threads is not None:
            set_torch_threads(self.threads)
        return torch

    @property
    def torch_device(self) -> torch.device:
        return self.torch_module().device(self.device)

    def generator(self, *parts: object) -> torch.Generator:
        """A CPU generator seeded from the run seed and ``parts`` (never the global RNG)."""
        torch = self.torch_module()
        g = torch.Generator()
        g.manual_seed(derive_seed(self.seed, *parts))
        return g

    def seed_everything(self, *parts: object) -> int:
        """Seed torch's global RNG (used by dropout) deterministically from ``parts``; returns the seed."""
        s = derive_seed(self.seed, *parts)
        self.torch_module().manual_seed(s)
        return s

    def track(self, it: Iterable[T], description: str = "", total: int | None = None) -> Iterator[T]:
        """Wrap ``it`` in a rich progress bar when ``progress`` is on."""
        if not self.progress:
            yield from it
            return
        from rich.progress import track

        yield from track(it, description=description or "working", total=total, transient=True)

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        prev, self.progress = self.progress, False
        try:
            yield
        finally:
            self.progress = prev
