"""Deep regression unlearning (arXiv 2210.08196): data, models, Blindspot, Gaussian FT, Retrain, metrics."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from unlearnkit.approx._regression import at_distance
from unlearnkit.approx.blindspot import Blindspot
from unlearnkit.approx.gaussian_ft import GaussianFT
from unlearnkit.approx.retrain_regression import RetrainRegression
from unlearnkit.bench.regression import evaluate_regression_claims
from unlearnkit.context import RunContext
from unlearnkit.data import IdDataset
from unlearnkit.data.regression import (
    REGRESSION_DATASETS,
    default_range,
    heldout_range_mask,
    load_regression,
    range_forget,
)
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.eval.regression import evaluate_regression
from unlearnkit.eval.report import ResultRecord
from unlearnkit.models.regression import RegressorSpec, build_regressor, fit_regressor, predict


@pytest.fixture(scope="module")
def digits_task() -> Any:
    """Digits ≤ 2 forgotten from a CNN on a 600-row subset (15 epochs), with its Retrain."""
    bundle = load_regression("digits_reg", 0)
    train = bundle.train.take(torch.arange(600))
    split = range_forget(train, -math.inf, 2.0, test=bundle.test)
    model, hyper = fit_regressor(train, RegressorSpec(arch="cnn", in_features=64), seed=0)
    split.meta["train"] = hyper
    ref = RetrainRegression().unlearn(model, split, ctx=RunContext(seed=0))
    return model, split, ref.model


def test_datasets_are_offline_regression_sets() -> None:
    for name in REGRESSION_DATASETS:
        bundle = load_regression(name, 0)
        assert bundle.train.is_regression and bundle.test is not None and len(bundle.train) > 200
        lo, hi = default_range(name, bundle.train)
        split = range_forget(bundle.train, lo, hi, test=bundle.test)
        assert 0 < len(split.forget) < len(bundle.train) and split.scenario == "range"
        assert bool(((split.forget.y >= lo) & (split.forget.y <= hi)).all())
    with pytest.raises(DataError, match="unknown regression dataset"):
        load_regression("california")


def test_range_forget_errors_and_heldout_mask() -> None:
    bundle = load_regression("digits_reg", 0)
    split = range_forget(bundle.train, -math.inf, 2.0, test=bundle.test)
    mask = heldout_range_mask(split, bundle.test)
    assert bool((bundle.test.y[mask] <= 2).all()) and bool((bundle.test.y[~mask] > 2).all())
    with pytest.raises(DataError, match="no training target"):
        range_forget(bundle.train, 20.0, 30.0)
    with pytest.raises(ConfigError, match="empty"):
        range_forget(bundle.train, 3.0, 1.0)
    classes = IdDataset.create(bundle.train.x[:10], torch.zeros(10, dtype=torch.int64), num_classes=2)
    with pytest.raises(ConfigError, match="regression dataset"):
        range_forget(classes, 0, 1)


def test_attention_transfer_is_zero_on_2d_activations() -> None:
    a, b = torch.randn(8, 16), torch.randn(8, 16)
    assert float(at_distance(a, b)) == 0.0  # the documented pitfall: an MLP gets no layer-wise term
    assert float(at_distance(torch.randn(8, 4, 3, 3), torch.randn(8, 4, 3, 3))) > 0


def test_models_predict_a_scalar_and_expose_activations() -> None:
    for arch in ("mlp", "cnn"):
        model = build_regressor(RegressorSpec(arch=arch, in_features=64), seed=0)
        out, acts = model.forward_with_activations(torch.rand(5, 64))
        assert out.shape == (5,) and len(acts) == 3
    assert any(
        a.ndim == 4
        for a in build_regressor(RegressorSpec(arch="cnn", in_features=64)).forward_with_activations(torch.rand(2, 64))[
            1
        ]
    )
    with pytest.raises(ConfigError, match="square"):
        RegressorSpec(arch="cnn", in_features=10)


def test_retrain_is_bitwise_the_model_trained_on_the_retained_rows(digits_task: Any) -> None:
    model, split, ref = digits_task
    direct, _ = fit_regressor(split.retain, model.spec, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), direct.state_dict().values(), strict=True))


def test_gaussian_relabels_with_the_full_training_statistics(digits_task: Any) -> None:
    model, split, _ = digits_task
    res = GaussianFT(max_steps=0).unlearn(model, split, ctx=RunContext(seed=0))
    all_y = torch.cat([split.retain.y, split.forget.y])
    assert res.metadata["mu"] == pytest.approx(float(all_y.mean())) and res.metadata["sigma"] == pytest.approx(
        float(all_y.std())
    )


def test_blindspot_moves_the_forget_error_toward_retrain_and_keeps_the_retain_error(digits_task: Any) -> None:
    model, split, ref = digits_task
    res = Blindspot(blindspot_epochs=5, epochs=2, batch_size=64).unlearn(model, split, ctx=RunContext(seed=0))
    ev = evaluate_regression(res.model, split, reference=ref)
    orig = evaluate_regression(model, split, reference=ref)
    assert ev["forget_mae_gap"] < orig["forget_mae_gap"] - 0.5  # closer to Retrain's extrapolation
    assert ev["test_forget_mae"] > 1.5 * orig["test_forget_mae"]
    assert ev["test_retain_mae"] <= orig["test_retain_mae"] + 0.3
    assert res.metadata["blindspot_epochs"] == 5 and res.history[0]["phase"] == "blindspot"


def test_regression_methods_refuse_classification_splits(digits_task: Any) -> None:
    from unlearnkit.bench.approx import tiny_task  # noqa: F401  (only the error path is checked)
    from unlearnkit.types import ForgetSplit

    model, split, _ = digits_task
    classes = IdDataset.create(split.retain.x[:20], torch.arange(20) % 2, num_classes=2)
    bad = ForgetSplit(classes.take(torch.arange(5)), classes.take(torch.arange(5, 20)))
    with pytest.raises(ConfigError, match="regression method"):
        Blindspot().unlearn(model, bad, ctx=RunContext(seed=0))


def test_metrics_have_directions_and_zero_gaps_to_themselves(digits_task: Any) -> None:
    from unlearnkit.registry import list_metrics

    model, split, ref = digits_task
    infos = {m.name: m for m in list_metrics("regression")}
    assert {"retain_mae", "forget_mae", "test_mae", "forget_mae_gap", "w1_to_retrain", "reg_mia"} <= set(infos)
    assert infos["forget_mae_gap"].higher_is_better is False and infos["forget_mae_gap"].needs_reference
    ev = evaluate_regression(ref, split, reference=ref, seconds=1.0)
    assert ev["forget_mae_gap"] == ev["retain_mae_gap"] == ev["w1_to_retrain"] == ev["pred_diff_to_retrain"] == 0.0
    assert 0 <= ev["reg_mia"] <= 1 and 0 <= ev["reg_loss_mia_auc"] <= 1 and ev["reg_rte"] == 1.0
    assert "forget_mae_gap" not in evaluate_regression(model, split)  # needs a reference: skipped
    assert float((predict(model, split.forget.x) - split.forget.y).abs().mean()) == pytest.approx(
        evaluate_regression(model, split)["forget_mae"]
    )


def test_regression_claims_count_seeds() -> None:
    def rec(method: str, seed: int, **m: float) -> ResultRecord:
        return ResultRecord(method, "digits_reg", "range", seed, {}, m, git_revision=None)

    recs = []
    for s in (0, 1, 2):
        recs += [rec("original", s, test_forget_mae=0.4), rec("retrain", s, test_forget_mae=5.0 if s < 2 else 0.5)]
    claim = evaluate_regression_claims(recs)[0]
    assert claim["agreed"] == 2 and claim["seeds"] == 3 and claim["reproduced"] is True
