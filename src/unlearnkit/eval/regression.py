"""Forgetting metrics for regression (Tarun et al., Deep Regression Unlearning, arXiv 2210.08196, ``metrics.py``).

Registered with ``task="regression"`` and a direction; ``None`` means "the target is Retrain's value" (the
paper: behave like the gold model on D_f, do not maximise the forget error), for which the ``*_gap``
metrics carry the ↓ direction. Parts: ``forget``/``retain`` (training rows), ``test``, and for target-range
scenarios ``test_forget`` (held-out rows inside the forgotten range) / ``test_retain`` (the rest).

- ``retain_mae``, ``forget_mae`` — MAE on D_r / D_f (training rows); ``test_mae``, ``test_rmse``.
- ``test_retain_mae`` / ``test_forget_mae`` — the paper's "retain error" / "forget error" (test rows
  outside / inside the range); for a non-range split ``test_retain_mae`` is ``test_mae``.
- ``retain_mae_gap`` / ``forget_mae_gap`` — |value − Retrain's| of those two (forget: the train rows when the
  split has no range); ``reg_avg_gap`` — their mean.
- ``w1_to_retrain`` — 1-D Wasserstein distance between the model's and Retrain's predictions on D_f
  (unpaired, ``scipy.stats.wasserstein_distance``); ``pred_diff_to_retrain`` — mean paired |f_u − f_gold|.
- ``reg_mia`` — the paper's MIA: an RBF SVC (C=3, gamma="auto") on per-sample L1 losses of up to 2000
  retained rows (members) against as many test rows (non-members); the fraction of D_f it calls member.
- ``reg_loss_mia_auc`` — AUC of −loss separating D_f from held-out rows (``test_forget`` for a range split,
  else ``test``); 0.5: indistinguishable.
- ``reg_rte`` — seconds of the unlearning update.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from unlearnkit.context import derive_seed
from unlearnkit.data import IdDataset
from unlearnkit.data.regression import heldout_range_mask
from unlearnkit.errors import ConfigError, ReferenceRequiredError
from unlearnkit.eval import mia
from unlearnkit.eval.metrics import MetricNotApplicable
from unlearnkit.models.regression import predict
from unlearnkit.registry import get_metric, list_metrics, register_metric
from unlearnkit.types import ForgetSplit

MIA_ROWS = 2000


@dataclass
class RegressionInputs:
    """What regression metrics read; predictions are cached per (model role, part)."""

    model: nn.Module
    split: ForgetSplit
    reference: nn.Module | None = None
    original: nn.Module | None = None
    seconds: float | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def has_range(self) -> bool:
        return self.split.meta.get("target_range") is not None

    def part(self, name: str) -> IdDataset:
        key = ("part", name)
        if key in self._cache:
            return self._cache[key]
        if name in ("forget", "retain"):
            data = getattr(self.split, name)
        elif name in ("test", "test_retain", "test_forget"):
            test = self.split.test
            if test is None or len(test) == 0:
                raise MetricNotApplicable("the split has no test (held-out) set")
            if name == "test":
                data = test
            elif not self.has_range:
                if name == "test_forget":
                    raise MetricNotApplicable("test_forget is defined for target-range scenarios only")
                data = test
            else:
                mask = heldout_range_mask(self.split, test)
                data = test.filter(mask) if name == "test_forget" else test.filter(~mask)
        else:
            raise ConfigError(f"unknown split part {name!r}")
        if len(data) == 0:
            raise MetricNotApplicable(f"the {name} set is empty")
        self._cache[key] = data
        return data

    def _model(self, which: str) -> nn.Module:
        if which == "model":
            return self.model
        if which == "reference":
            if self.reference is None:
                raise ReferenceRequiredError("this metric needs a Retrain reference model")
            return self.reference
        raise ConfigError(f"unknown model role {which!r}")

    def preds(self, part: str, which: str = "model") -> torch.Tensor:
        key = ("preds", which, part)
        if key not in self._cache:
            out = predict(self._model(which), self.part(part).x)
            self._cache[key] = torch.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)
        return self._cache[key]

    def abs_err(self, part: str, which: str = "model") -> np.ndarray:
        return (self.preds(part, which) - self.part(part).y).abs().double().numpy()

    def mae(self, part: str, which: str = "model") -> float:
        return float(self.abs_err(part, which).mean())

    def value(self, name: str) -> float:
        key = ("metric", name)
        if key not in self._cache:
            self._cache[key] = float(get_metric(name).fn(self))
        return self._cache[key]

    def for_reference(self) -> RegressionInputs:
        if "reference_inputs" not in self._cache:
            self._cache["reference_inputs"] = RegressionInputs(self._model("reference"), self.split)
        return self._cache["reference_inputs"]


def _reg(name: str, hib: bool | None, description: str, needs_reference: bool = False):
    return register_metric(
        name, higher_is_better=hib, needs_reference=needs_reference, task="regression", description=description
    )


@_reg("retain_mae", False, "MAE on the retained training rows D_r")
def retain_mae(inputs: RegressionInputs) -> float:
    return inputs.mae("retain")


@_reg("forget_mae", None, "MAE on the forgotten training rows D_f (target: Retrain's)")
def forget_mae(inputs: RegressionInputs) -> float:
    return inputs.mae("forget")


@_reg("test_mae", False, "MAE on the whole test set")
def test_mae(inputs: RegressionInputs) -> float:
    return inputs.mae("test")


@_reg("test_rmse", False, "RMSE on the whole test set")
def test_rmse(inputs: RegressionInputs) -> float:
    return float(np.sqrt((inputs.abs_err("test") ** 2).mean()))


@_reg("test_retain_mae", False, "the paper's retain error: MAE on test rows outside the forgotten range")
def test_retain_mae(inputs: RegressionInputs) -> float:
    return inputs.mae("test_retain")


@_reg("test_forget_mae", None, "the paper's forget error: MAE on test rows inside the range (target: Retrain's)")
def test_forget_mae(inputs: RegressionInputs) -> float:
    return inputs.mae("test_forget")


def _forget_target(inputs: RegressionInputs) -> float:
    return (
        inputs.value("test_forget_mae")
        if inputs.has_range and inputs.split.test is not None
        else inputs.value("forget_mae")
    )


@_reg("retain_mae_gap", False, "|retain error - Retrain's| (test rows outside the range)", True)
def retain_mae_gap(inputs: RegressionInputs) -> float:
    return abs(inputs.value("test_retain_mae") - inputs.for_reference().value("test_retain_mae"))


@_reg("forget_mae_gap", False, "|forget error - Retrain's| (test rows in the range; D_f without a range)", True)
def forget_mae_gap(inputs: RegressionInputs) -> float:
    return abs(_forget_target(inputs) - _forget_target(inputs.for_reference()))


@_reg("reg_avg_gap", False, "mean of retain_mae_gap and forget_mae_gap", True)
def reg_avg_gap(inputs: RegressionInputs) -> float:
    return 0.5 * (inputs.value("retain_mae_gap") + inputs.value("forget_mae_gap"))


@_reg("w1_to_retrain", False, "Wasserstein-1 between the model's and Retrain's predictions on D_f", True)
def w1_to_retrain(inputs: RegressionInputs) -> float:
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(inputs.preds("forget").numpy(), inputs.preds("forget", "reference").numpy()))


@_reg("pred_diff_to_retrain", False, "mean paired |f(x) - f_Retrain(x)| on D_f", True)
def pred_diff_to_retrain(inputs: RegressionInputs) -> float:
    return float((inputs.preds("forget") - inputs.preds("forget", "reference")).abs().mean())


def _shuffled(values: np.ndarray, *parts: object) -> np.ndarray:
    rng = np.random.default_rng(derive_seed("reg-mia", *parts) % (2**32))
    return values[rng.permutation(len(values))]


@_reg("reg_mia", None, "the paper's SVC loss MIA: fraction of D_f called member (target: Retrain's)")
def reg_mia(inputs: RegressionInputs) -> float:
    members = _shuffled(inputs.abs_err("retain"), "members", len(inputs.part("retain")))
    nonmembers = _shuffled(inputs.abs_err("test"), "nonmembers", len(inputs.part("test")))
    return mia.svc_loss_member_rate(members, nonmembers, inputs.abs_err("forget"), MIA_ROWS)


@_reg("reg_loss_mia_auc", False, "AUC of -loss separating D_f from held-out rows of the same range (0.5: hidden)")
def reg_loss_mia_auc(inputs: RegressionInputs) -> float:
    held = "test_forget" if inputs.has_range else "test"
    return mia.auc_of_losses(inputs.abs_err("forget"), inputs.abs_err(held))


@_reg("reg_rte", False, "seconds of the unlearning update")
def reg_rte(inputs: RegressionInputs) -> float:
    if inputs.seconds is None:
        raise MetricNotApplicable("reg_rte needs the run time (seconds) of the unlearning update")
    return float(inputs.seconds)


def evaluate_regression(
    model: nn.Module,
    split: ForgetSplit,
    *,
    reference: nn.Module | None = None,
    original: nn.Module | None = None,
    metrics: Iterable[str] | None = None,
    seconds: float | None = None,
) -> dict[str, float]:
    """Every requested regression metric (all that apply when ``metrics`` is None; explicit ones raise)."""
    inputs = RegressionInputs(model, split, reference=reference, original=original, seconds=seconds)
    explicit = metrics is not None
    names = list(metrics) if explicit else [m.name for m in list_metrics("regression")]
    out: dict[str, float] = {}
    for name in names:
        try:
            out[name] = inputs.value(name)
        except (ReferenceRequiredError, MetricNotApplicable):
            if explicit:
                raise
    return out


__all__ = ["MIA_ROWS", "RegressionInputs", "evaluate_regression"]
