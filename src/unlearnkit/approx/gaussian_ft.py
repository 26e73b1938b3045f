"""Gaussian fine-tuning ("Gaussian-Amnesiac") for regression (Tarun et al., arXiv 2210.08196, Algorithm 2).

The regression version of Amnesiac / random-label unlearning, as the authors' notebooks do it: every
forget row's target is replaced, once (not per epoch), by a draw from N(μ, σ²), μ and σ the mean and
standard deviation of the *whole training set's* targets (D_r ∪ D_f); the original model is then
fine-tuned on D_r ∪ relabelled D_f with the normal loss::

    ỹ_f ~ N(μ_D, σ_D²)   (one draw per forget row)
    θ_u = fine-tune(θ_o; D_r ∪ {(x_f, ỹ_f)}),  Adam lr 1e-3, 1 epoch (AgeDB) / 5 (STS-B)

Needs: forget and retain. Cost: ``epochs`` passes over D. Failure modes: the noise pulls forget
predictions toward μ, which is Retrain-like only when Retrain's extrapolation is also near μ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import StepCounter, build_result, clone_model, fit_epochs, stopwatch
from unlearnkit.approx._regression import RegressionConfig, regression_loss_fn, require_regression
from unlearnkit.data import concat
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext


@dataclass(frozen=True)
class GaussianFTConfig(RegressionConfig):
    """The AgeDB notebook's Gaussian-Amnesiac: 1 epoch of Adam at 1e-3, batch 256, L1."""

    epochs: int = field(default=1, metadata={"help": "fine-tuning epochs over D_r ∪ relabelled D_f"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    batch_size: int = field(default=256, metadata={"help": "minibatch size"})


@register_method(
    "gaussian_ft",
    task="regression",
    family="regressor",
    needs=("forget", "retain"),
    paper="Tarun et al., Deep Regression Unlearning (Gaussian fine-tuning), ICML 2023 (arXiv 2210.08196)",
)
class GaussianFT(Unlearner):
    """Relabel D_f with N(μ, σ²) draws of the training targets' statistics, then fine-tune on D."""

    config_cls = GaussianFTConfig
    search_grid: ClassVar[dict[str, list]] = {"epochs": [1, 3], "lr": [1e-3, 3e-3]}
    strength: ClassVar[dict[str, list]] = {"epochs": [1, 2, 3], "lr": [1e-3, 3e-3]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: GaussianFTConfig = self.config
        require_regression(split, self.name)
        counter = StepCounter(cfg.max_steps)
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            all_y = torch.cat([split.retain.y, split.forget.y])
            mu, sigma = float(all_y.mean()), float(all_y.std()) if len(all_y) > 1 else 0.0
            noisy = torch.randn(len(split.forget), generator=ctx.generator(self.name, "relabel")) * sigma + mu
            relabelled = split.forget.with_labels(noisy.to(split.forget.y.dtype))
            data = concat([split.retain, relabelled]) if len(split.forget) else split.retain
            history = fit_epochs(
                out,
                data,
                cfg,
                generator=ctx.generator(self.name, "order"),
                counter=counter,
                loss_fn=regression_loss_fn(cfg.loss),
            )
        metadata = {"mu": mu, "sigma": sigma, "forget_size": len(split.forget)}
        return build_result(self, out, seconds=clock[0], steps=counter.steps, history=history, metadata=metadata)
