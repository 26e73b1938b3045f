"""A named-class registry shared by recovery's pruners and filters (one file per entry, found by import)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from unlearnkit.errors import ConfigError


def registrar(table: dict[str, Any], what: str) -> Callable[..., Callable[[type], type]]:
    """A ``@register(name, **attrs)`` decorator for ``table``: sets ``cls.name`` (and ``attrs``), refuses twins."""

    def register(name: str, **attrs: Any) -> Callable[[type], type]:
        def deco(cls: type) -> type:
            if name in table and table[name] is not cls:
                raise ConfigError(f"{what} {name!r} is registered twice")
            cls.name = name  # type: ignore[attr-defined]
            for key, value in attrs.items():
                setattr(cls, key, value)
            table[name] = cls
            return cls

        return deco

    return register


def lookup(table: dict[str, Any], what: str, package: str, name: str) -> Any:
    """``table[name]`` after importing ``package`` (whose ``__init__`` imports every entry's file)."""
    importlib.import_module(package)
    if name not in table:
        raise ConfigError(f"unknown {what} {name!r}; registered: {', '.join(sorted(table))}")
    return table[name]
