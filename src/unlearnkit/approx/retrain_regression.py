"""Retrain a regressor from scratch on D_r: the "gold" model of Deep Regression Unlearning (arXiv 2210.08196).

Tarun et al., ICML 2023 (arXiv 2210.08196) compare every method with a gold model trained from scratch on D_r
with the original's recipe. Update rule: rebuild the architecture from the run seed
(:func:`unlearnkit.models.regression.fit_regressor`'s initialisation) and train with the original's
epochs, learning rate, batch size and loss, read from ``split.meta["train"]`` unless the config sets them;
with the original's seed the result is bitwise the model ``fit_regressor`` trains on D_r alone.

Needs: retain. Cost: a full training run. The one exact method of the regression family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import (
    MethodConfig,
    StepCounter,
    build_result,
    make_optimizer,
    require,
    stopwatch,
    train_loop,
)
from unlearnkit.approx._regression import regression_loss_fn, require_regression
from unlearnkit.context import derive_seed
from unlearnkit.errors import ConfigError
from unlearnkit.models.regression import LOSSES, RegressorSpec, build_regressor
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext

DEFAULTS: dict[str, Any] = {"epochs": 15, "lr": 1e-2, "batch_size": 64, "loss": "l1"}


@dataclass(frozen=True)
class RetrainRegressionConfig(MethodConfig):
    """Schedule of the from-scratch retrain; ``None`` fields come from ``split.meta["train"]``."""

    epochs: int | None = field(default=None, metadata={"help": "epochs (None: the original's, else 15)"})
    lr: float | None = field(default=None, metadata={"help": "Adam learning rate (None: the original's, else 0.01)"})
    batch_size: int | None = field(default=None, metadata={"help": "minibatch size (None: the original's, else 64)"})
    loss: str | None = field(default=None, metadata={"help": "l1 | mse (None: the original's, else l1)"})
    seed: int | None = field(default=None, metadata={"help": "init/batch-order seed (None: the run seed)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs is None or self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.lr is None or self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.batch_size is None or self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.loss is None or self.loss in LOSSES, f"loss must be one of {LOSSES}, got {self.loss!r}")


@register_method(
    "retrain_regression",
    task="regression",
    family="regressor",
    needs=("retain",),
    paper="Gold model (retrain on D_r) of Tarun et al., Deep Regression Unlearning, ICML 2023 (arXiv 2210.08196)",
)
class RetrainRegression(Unlearner):
    """Re-initialise every parameter and train on D_r with the original's schedule."""

    config_cls = RetrainRegressionConfig
    search_grid: ClassVar[dict[str, list]] = {}
    strength: ClassVar[dict[str, list]] = {}

    def schedule(self, split: ForgetSplit) -> dict[str, Any]:
        stored = dict(split.meta.get("train") or {})
        return {
            k: getattr(self.config, k) if getattr(self.config, k) is not None else stored.get(k, d)
            for k, d in DEFAULTS.items()
        }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        require_regression(split, self.name)
        spec = getattr(model, "spec", None)
        if not isinstance(spec, RegressorSpec):
            raise ConfigError("retrain_regression needs a model built by unlearnkit.models.regression (no .spec)")
        sched = self.schedule(split)
        seed = ctx.seed if self.config.seed is None else self.config.seed
        counter = StepCounter(self.config.max_steps)
        with stopwatch() as clock:
            fresh = build_regressor(spec, seed=derive_seed(seed, "regressor", "init")).to(ctx.torch_device)
            if ctx.inplace:
                model.load_state_dict(fresh.state_dict())
                fresh = model
            gen = torch.Generator()
            gen.manual_seed(derive_seed(seed, "regressor", "order"))
            history = train_loop(
                fresh,
                split.retain,
                epochs=int(sched["epochs"]),
                batch_size=int(sched["batch_size"]),
                optimizer=make_optimizer("adam", fresh.parameters(), float(sched["lr"])),
                loss_fn=regression_loss_fn(str(sched["loss"])),
                generator=gen,
                counter=counter,
            )
        return build_result(
            self,
            fresh,
            seconds=clock[0],
            steps=counter.steps,
            history=history,
            metadata={"schedule": sched, "seed": seed},
        )
