"""Retrain from scratch on the retained data: the exact-unlearning gold standard every gap is measured against.

Paper: the "Retrain" baseline of Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023,
arXiv 2304.04934 (and of every approximate-unlearning benchmark since): θ_RT = argmin_θ L_CE(θ; D_r), trained
from a fresh initialisation with the original model's schedule.

Update rule: rebuild the architecture with :func:`unlearnkit.models.build_model` from the run seed (every
parameter re-initialised), then train with the original's optimiser (Adam), epochs, learning rate, batch
size and weight decay, read from ``split.meta["train"]`` (a standard model's ``model.json``) unless the
config sets them. With the original's run seed, the result is bitwise the model that
:func:`unlearnkit.models.standard.fit_standard` trains on D_r alone.

Needs: retain. Cost: a full training run (the most expensive row of every table).

Deliberate deviation: SSD's repository "retrain" calls ``reset_parameters()`` on direct children only, which
for its ResNet18 resets the final layer alone; here every parameter is re-initialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import (
    MethodConfig,
    StepCounter,
    build_result,
    ce_loss,
    make_optimizer,
    require,
    stopwatch,
    train_loop,
)
from unlearnkit.context import RunContext
from unlearnkit.errors import ConfigError
from unlearnkit.models import build_model
from unlearnkit.models.standard import STANDARD_DEFAULTS, init_seed, order_seed
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner


@dataclass(frozen=True)
class RetrainConfig(MethodConfig):
    """Training schedule of the from-scratch retrain; ``None`` fields come from ``split.meta["train"]``."""

    epochs: int | None = field(default=None, metadata={"help": "training epochs (None: the original's, else 60)"})
    lr: float | None = field(default=None, metadata={"help": "Adam learning rate (None: the original's, else 1e-3)"})
    batch_size: int | None = field(default=None, metadata={"help": "minibatch size (None: the original's, else 64)"})
    weight_decay: float | None = field(
        default=None, metadata={"help": "Adam weight decay (None: the original's, else 0)"}
    )
    seed: int | None = field(
        default=None, metadata={"help": "initialisation/batch-order seed (None: the run seed, ctx.seed)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs is None or self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.lr is None or self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.batch_size is None or self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(
            self.weight_decay is None or self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"
        )


@register_method(
    "retrain",
    task="classification",
    needs=("retain",),
    paper="Retrain from scratch (exact baseline; Jia et al., NeurIPS 2023, arXiv 2304.04934)",
)
class Retrain(Unlearner):
    """Re-initialise every parameter and train on D_r with the original's schedule."""

    config_cls = RetrainConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {}  # exact: nothing to calibrate
    search_grid: ClassVar[dict[str, list]] = {}  # the reference itself: nothing to tune

    def schedule(self, split: ForgetSplit) -> dict[str, Any]:
        """The resolved schedule: config values, else ``split.meta["train"]``, else the standard defaults."""
        stored = dict(split.meta.get("train") or {})
        out = {}
        for key, default in STANDARD_DEFAULTS.items():
            value = getattr(self.config, key)
            out[key] = value if value is not None else stored.get(key, default)
        return out

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> Any:
        spec = getattr(model, "spec", None)
        if spec is None:
            raise ConfigError("retrain needs a model built by unlearnkit.models.build_model (it has no .spec)")
        sched = self.schedule(split)
        seed = ctx.seed if self.config.seed is None else self.config.seed
        counter = StepCounter(self.config.max_steps)
        with stopwatch() as t:
            fresh = build_model(spec, seed=init_seed(seed)).to(ctx.torch_device)
            if ctx.inplace:  # the caller asked for the input object back: load the fresh weights into it
                model.load_state_dict(fresh.state_dict())
                fresh = model
            gen = torch.Generator()
            gen.manual_seed(order_seed(seed))
            opt = make_optimizer("adam", fresh.parameters(), sched["lr"], weight_decay=sched["weight_decay"])
            history = train_loop(
                fresh,
                split.retain,
                epochs=int(sched["epochs"]),
                batch_size=int(sched["batch_size"]),
                optimizer=opt,
                loss_fn=ce_loss,
                generator=gen,
                counter=counter,
                track=ctx.track,
                description="retrain",
            )
        return build_result(
            self,
            fresh,
            seconds=t[0],
            steps=counter.steps,
            history=history,
            metadata={"schedule": sched, "seed": int(seed), "passes_retain": len(history)},
        )
