"""Tuning picks the smallest Avg. Gap on the validation split and never reads the test split."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from unlearnkit.context import RunContext
from unlearnkit.errors import ConfigError
from unlearnkit.eval.tuning import grid_combos, tune


@pytest.fixture(scope="module")
def task(small_class_task: Any) -> Any:
    return small_class_task


def test_grid_combos() -> None:
    assert grid_combos({}) == [{}]
    assert grid_combos({"b": [1, 2], "a": [3]}) == [{"a": 3, "b": 1}, {"a": 3, "b": 2}]
    with pytest.raises(ConfigError):
        grid_combos({"a": []})


def test_tune_selects_min_val_gap_without_test(task: Any) -> None:
    split = dataclasses.replace(task.split, test=None)  # tuning must not need (or read) the test split
    grid = {"lr": [1e-4, 1e-2], "epochs": [5]}
    best, table = tune("random_label", task.original, split, task.retrain, grid=grid, ctx=RunContext(seed=0))
    assert len(table) == 2 and {row["lr"] for row in table} == {1e-4, 1e-2}
    gaps = [row["avg_gap"] for row in table]
    assert best.lr == table[gaps.index(min(gaps))]["lr"]
    assert best.epochs == 5


def test_tune_default_grid_and_overrides(task: Any) -> None:
    from unlearnkit.approx.ga import GA

    best, table = tune("ga", task.original, task.split, task.retrain, overrides={"max_steps": 2})
    assert len(table) == len(grid_combos(GA.search_grid))
    assert best.max_steps == 2 and all("avg_gap" in row for row in table)


def test_tune_needs_val(task: Any) -> None:
    with pytest.raises(ConfigError, match="validation"):
        tune("ft", task.original, dataclasses.replace(task.split, val=None), task.retrain, grid={"lr": [0.01]})
