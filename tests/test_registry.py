"""The registries refuse silent overwrites and only skip modules whose optional extra is missing."""

from __future__ import annotations

import sys

import pytest

from unlearnkit import registry
from unlearnkit.errors import ConfigError


def test_a_metric_name_cannot_be_taken_twice() -> None:
    @registry.register_metric("_test_once", higher_is_better=True)
    def first(*_: object) -> float:
        return 1.0

    def second(*_: object) -> float:
        return 2.0

    try:
        with pytest.raises(ConfigError, match="_test_once"):
            registry.register_metric("_test_once", higher_is_better=True)(second)
        # re-registering the same function (a module reload) is allowed
        registry.register_metric("_test_once", higher_is_better=True)(first)
        assert registry.get_metric("_test_once").fn is first
    finally:
        registry._METRICS.pop("_test_once", None)


def _package(monkeypatch: pytest.MonkeyPatch, tmp_path, body: str) -> str:
    name = f"_uk_test_pkg_{abs(hash(body)) % 10**8}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "mod.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_discovery_skips_a_missing_extra(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    name = _package(monkeypatch, tmp_path, "import a_package_that_is_not_installed_xyz\n")
    registry._walk(name)  # skipped with a debug log, no error
    assert f"{name}.mod" not in sys.modules


def test_discovery_reports_a_broken_module(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    name = _package(monkeypatch, tmp_path, "from unlearnkit.registry import no_such_name\n")
    with pytest.raises(ImportError, match="no_such_name"):
        registry._walk(name)
