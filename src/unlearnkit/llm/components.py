"""Named registries for the parts of an edit-and-attack experiment: deletion objectives/defenses and attacks.

A component is a class with a ``config_cls`` dataclass; :meth:`Registry.register` checks the name (lower-case,
``[a-z0-9_]``) and its uniqueness, and :meth:`Registry.get` discovers the registering package by walking it
(every module is imported; an import error surfaces, it never hides a component). Editors are methods and live
in the shared method registry (``family="llm_edit"``).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Any, TypeVar

from unlearnkit.errors import ConfigError

T = TypeVar("T")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Registry:
    """``kind`` components found in ``package`` (e.g. the deletion objectives in ``llm.editing.objectives``)."""

    def __init__(self, kind: str, package: str) -> None:
        self.kind, self.package = kind, package
        self._items: dict[str, type] = {}
        self._walked = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        if not _NAME.match(name):
            raise ConfigError(f"{self.kind} name must match [a-z][a-z0-9_]*, got {name!r}")

        def deco(cls: type[T]) -> type[T]:
            if name in self._items and self._items[name] is not cls:
                raise ConfigError(f"{self.kind} {name!r} is registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self._items[name] = cls
            return cls

        return deco

    def _discover(self) -> None:
        if self._walked:
            return
        self._walked = True
        pkg = importlib.import_module(self.package)
        for mod in pkgutil.iter_modules(pkg.__path__, prefix=f"{self.package}."):
            if not mod.name.rsplit(".", 1)[-1].startswith("_"):
                importlib.import_module(mod.name)

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._items)

    def get(self, name: str) -> type:
        self._discover()
        if name not in self._items:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._items[name]

    def build(self, name: str, overrides: dict[str, Any] | None = None) -> Any:
        """An instance of ``name`` with its config built from ``overrides`` (unknown keys are one-line errors)."""
        from unlearnkit.approx._common import config_from_dict

        cls = self.get(name)
        return cls(config_from_dict(cls.config_cls, overrides or {}))


__all__ = ["Registry"]
