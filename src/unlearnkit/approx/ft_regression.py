"""Fine-tuning baseline for regression: the original trained on D_r alone (arXiv 2210.08196, notebooks).

The "Fine-tune" row of Tarun et al., "Deep Regression Unlearning", ICML 2023 (arXiv 2210.08196): the
original model trained on D_r for 5 epochs with Adam at 1e-3 (batch 256, L1), relying on catastrophic
forgetting of D_f::

    θ_u = argmin_θ ℓ(θ; D_r), started from θ_o (``epochs`` passes)

Needs: retain. Cost: ``epochs`` passes over D_r. Failure mode: under-forgets (the forget error barely moves
from the original's: the notebooks' AgeDB forget MAE 14.8 against the original's 12.8 and gold's 24.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from torch import nn

from unlearnkit.approx._common import StepCounter, build_result, clone_model, fit_epochs, stopwatch
from unlearnkit.approx._regression import RegressionConfig, regression_loss_fn, require_regression
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext


@dataclass(frozen=True)
class FTRegressionConfig(RegressionConfig):
    """The notebooks' fine-tune: 5 epochs of Adam at 1e-3, batch 256, L1."""

    epochs: int = field(default=5, metadata={"help": "epochs over D_r"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    batch_size: int = field(default=256, metadata={"help": "minibatch size"})


@register_method(
    "ft_regression",
    task="regression",
    family="regressor",
    needs=("retain",),
    paper="Fine-tune baseline of Tarun et al., Deep Regression Unlearning, ICML 2023 (arXiv 2210.08196)",
)
class FTRegression(Unlearner):
    """Fine-tune the whole regressor on D_r."""

    config_cls = FTRegressionConfig
    search_grid: ClassVar[dict[str, list]] = {"epochs": [3, 5, 10], "lr": [1e-3, 3e-3]}
    strength: ClassVar[dict[str, list]] = {"epochs": [3, 5, 10], "lr": [1e-3, 3e-3]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: FTRegressionConfig = self.config
        require_regression(split, self.name)
        counter = StepCounter(cfg.max_steps)
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            history = fit_epochs(
                out,
                split.retain,
                cfg,
                generator=ctx.generator(self.name, "retain"),
                counter=counter,
                loss_fn=regression_loss_fn(cfg.loss),
            )
        return build_result(
            self, out, seconds=clock[0], steps=counter.steps, history=history, metadata={"passes_retain": len(history)}
        )
