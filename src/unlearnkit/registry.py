"""Method and metric registries, filled by decorators and found by walking the package.

Adding a method is one file: a module under ``unlearnkit/approx`` (or ``llm``/``graph``) whose class
carries ``@register_method``. :func:`discover` imports every such module; third parties register through
the ``unlearnkit.methods`` entry-point group.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from unlearnkit.errors import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")

METHOD_PACKAGES = ("unlearnkit.approx", "unlearnkit.llm", "unlearnkit.graph")
METRIC_PACKAGES = ("unlearnkit.eval", "unlearnkit.recovery")


@dataclass(frozen=True)
class MethodInfo:
    name: str
    cls: type
    task: str
    needs: tuple[str, ...]
    paper: str
    family: str = "classifier"


@dataclass(frozen=True)
class MetricInfo:
    name: str
    fn: Callable[..., Any]
    higher_is_better: bool | None
    needs_reference: bool
    task: str
    description: str


_METHODS: dict[str, MethodInfo] = {}
_METRICS: dict[str, MetricInfo] = {}
_discovered: set[str] = set()


def register_method(
    name: str,
    *,
    task: str = "classification",
    needs: tuple[str, ...] = ("forget",),
    paper: str = "",
    family: str = "classifier",
) -> Callable[[type[T]], type[T]]:
    """Class decorator: register an :class:`~unlearnkit.types.Unlearner` under ``name``.

    ``family`` names the model family the method edits (``classifier``, ``graph``, ...): each family has its
    own conformance suite and CLI, driven by :func:`list_methods` with ``family=``.
    """

    def deco(cls: type[T]) -> type[T]:
        if name in _METHODS and _METHODS[name].cls is not cls:
            raise ConfigError(f"method {name!r} is registered twice ({_METHODS[name].cls} and {cls})")
        cls.name = name  # type: ignore[attr-defined]
        cls.needs = needs  # type: ignore[attr-defined]
        cls.paper = paper or getattr(cls, "paper", "")  # type: ignore[attr-defined]
        cls.family = family  # type: ignore[attr-defined]
        _METHODS[name] = MethodInfo(name, cls, task, needs, cls.paper, family)  # type: ignore[attr-defined]
        return cls

    return deco


def register_metric(
    name: str,
    *,
    higher_is_better: bool | None,
    needs_reference: bool = False,
    task: str = "classification",
    description: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Function decorator: register a metric with its direction and whether it needs a retrained reference."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        old = _METRICS.get(name)
        if old is not None and (old.fn.__module__, old.fn.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ConfigError(f"metric {name!r} is registered twice ({old.fn.__module__} and {fn.__module__})")
        _METRICS[name] = MetricInfo(
            name, fn, higher_is_better, needs_reference, task, description or (fn.__doc__ or "").strip().split("\n")[0]
        )
        return fn

    return deco


def _walk(package: str) -> None:
    if package in _discovered:
        return
    _discovered.add(package)
    try:
        pkg = importlib.import_module(package)
    except ImportError:
        return
    for mod in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        if mod.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        try:
            importlib.import_module(mod.name)
        except ImportError as exc:
            culprit = str(getattr(exc, "name", None) or "")
            if not culprit or culprit.split(".")[0] == "unlearnkit":
                raise  # our own code is broken: say so instead of silently dropping its methods
            if isinstance(exc, ModuleNotFoundError):  # an optional extra is not installed
                log.debug("skipping %s: %s", mod.name, exc)
            else:  # an extra is installed but does not import (version mismatch, broken wheel)
                log.warning("skipping %s: %s", mod.name, exc)


def discover() -> None:
    """Import every method and metric module, then entry-point plugins."""
    for package in (*METHOD_PACKAGES, *METRIC_PACKAGES):
        _walk(package)
    if "entry-points" not in _discovered:
        _discovered.add("entry-points")
        for ep in entry_points(group="unlearnkit.methods"):
            ep.load()


def get_method(name: str) -> MethodInfo:
    discover()
    if name not in _METHODS:
        raise ConfigError(f"unknown method {name!r}; registered: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def list_methods(task: str | None = None, family: str | None = None) -> list[MethodInfo]:
    discover()
    return sorted(
        (m for m in _METHODS.values() if (task is None or m.task == task) and (family is None or m.family == family)),
        key=lambda m: m.name,
    )


def get_metric(name: str) -> MetricInfo:
    discover()
    if name not in _METRICS:
        raise ConfigError(f"unknown metric {name!r}; registered: {', '.join(sorted(_METRICS))}")
    return _METRICS[name]


def list_metrics(task: str | None = None) -> list[MetricInfo]:
    discover()
    return sorted((m for m in _METRICS.values() if task is None or m.task == task), key=lambda m: m.name)
