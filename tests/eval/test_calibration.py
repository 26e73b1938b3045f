"""Calibration searches the declared strength knobs against a target that needs no retrained model."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from unlearnkit.context import RunContext
from unlearnkit.errors import ConfigError
from unlearnkit.eval.calibration import calibrate, strength_knobs, target_reached, unlearn
from unlearnkit.eval.tuning import grid_combos
from unlearnkit.registry import list_methods


@pytest.fixture(scope="module")
def class_task(small_class_task: Any) -> Any:
    return small_class_task


@pytest.fixture(scope="module")
def random_task(small_random_task: Any) -> Any:
    return small_random_task


def test_every_approximate_method_declares_a_small_strength_grid() -> None:
    for info in [*list_methods("classification"), *list_methods("regression")]:
        knobs = strength_knobs(info.name)
        if info.name in ("retrain", "retrain_regression"):
            assert knobs == {}
            continue
        assert knobs, f"{info.name} declares no strength knob"
        assert len(grid_combos(knobs)) <= 8, f"{info.name}: strength grid too large"
        fields = {f.name for f in dataclasses.fields(info.cls.config_cls)}
        assert set(knobs) <= fields, f"{info.name}: strength knob is not a config field"


def test_ga_defaults_forget_nothing_and_calibration_fixes_it(class_task: Any) -> None:
    ctx = RunContext(seed=0)
    plain = unlearn("ga", class_task.original, class_task.split, ctx=ctx)
    assert target_reached(plain.model, class_task.split)[0] is False  # lr 1e-4 barely moves a digits model
    res = unlearn("ga", class_task.original, class_task.split, ctx=ctx, calibrate=True)
    cal = res.metadata["calibration"]
    assert cal["reached"] and cal["final"]["reached"] and cal["final"]["forget_acc"] <= 10.0
    assert res.config["lr"] == cal["chosen"]["lr"] > 1e-4
    assert cal["table"][0]["values"] == {"lr": 1e-4}  # the paper default is the first candidate
    assert not cal["table"][0]["reached"]
    # the chosen setting has the most retain-validation accuracy among those that reach the target
    best = max(r["retain_val_acc"] for r in cal["table"] if r["reached"])
    assert next(r for r in cal["table"] if r["values"] == cal["chosen"])["retain_val_acc"] == best
    assert cal["val_size"] >= 10 and len(cal["val_ids_hash"]) == 64


def test_validation_rows_are_carved_from_the_retain_set_and_never_trained_on(class_task: Any) -> None:
    cal = calibrate("ft", class_task.original, class_task.split, ctx=RunContext(seed=0), base={"epochs": 1})
    assert cal.val_size < len(class_task.split.retain)
    assert "retain_val_acc" in cal.original and cal.kind == "class"


def test_random_forgetting_targets_indistinguishability(random_task: Any) -> None:
    cal = calibrate("ga", random_task.original, random_task.split, ctx=RunContext(seed=0))
    assert cal.kind == "heldout" and "indistinguishable" in cal.target
    assert all({"auc", "tol_auc", "heldout_acc", "tol_acc"} <= set(r) for r in cal.table)
    assert cal.original["auc"] > 0.5 + cal.original["tol_auc"]  # the memorising original is distinguishable
    assert ("NO setting" in cal.message) == (not cal.reached)


def test_clear_errors(class_task: Any) -> None:
    with pytest.raises(ConfigError, match="no strength knob"):
        calibrate("retrain", class_task.original, class_task.split)
    no_heldout = dataclasses.replace(class_task.split, scenario="ids", test=None, val=None)
    with pytest.raises(ConfigError, match="held-out"):
        calibrate("ga", class_task.original, no_heldout)
