"""NegGrad+ (a.k.a. GradDiff): descend on the retained data while ascending on the forget set.

Paper: Kurmanji, Triantafillou, Hayes, Triantafillou, "Towards Unbounded Machine Unlearning", NeurIPS 2023,
arXiv 2302.09880 (the NegGrad+ baseline of the SCRUB paper; official notebook
``meghdadk/SCRUB/small_scale_unlearning.ipynb``).

Update rule: for each retain minibatch B_r paired with the next forget minibatch B_f (the forget batches
cycle), minimise  L(θ) = α·L_CE(θ; B_r) − (1 − α)·L_CE(θ; B_f)  with SGD. Defaults from the official
notebook: α = 0.95, 10 epochs, lr 0.01, SGD without momentum or weight decay; batch 256.

Needs: forget and retain. Cost: a few epochs over D_r (FT-like).

Known failure modes: the ascent term is unbounded, so a small α or a large lr still collapses utility; a
large α reduces it to fine-tuning (FT's failure to forget classes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import (
    SGDOptimizerConfig,
    StepCounter,
    batches,
    build_result,
    clone_model,
    fit_epochs,
    require,
    stopwatch,
)
from unlearnkit.context import RunContext
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult


@dataclass(frozen=True)
class NegGradPlusConfig(SGDOptimizerConfig):
    """Defaults of the SCRUB notebook's NegGrad+ (``alpha=0.95``, 10 epochs, SGD lr 0.01 without momentum or
    weight decay; batch 256, used for both sets)."""

    momentum: float = field(default=0.0, metadata={"help": "SGD momentum in [0, 1)"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 weight decay (>= 0)"})
    alpha: float = field(default=0.95, metadata={"help": "weight of the retain loss in [0, 1]; 1 - alpha on forget"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.alpha <= 1, f"alpha must lie in [0, 1], got {self.alpha}")


@register_method(
    "neggrad_plus",
    task="classification",
    needs=("forget", "retain"),
    paper="NegGrad+ (Kurmanji et al., Towards Unbounded Machine Unlearning, NeurIPS 2023, arXiv 2302.09880)",
)
class NegGradPlus(Unlearner):
    """α·CE(D_r) − (1−α)·CE(D_f) per paired minibatch."""

    config_cls = NegGradPlusConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"lr": [0.01, 0.02, 0.05], "alpha": [0.95, 0.9]}
    # CPU scale: forgetting switches on sharply between lr 0.01 and 0.05 on digits; alpha sets how soon it collapses.
    search_grid: ClassVar[dict[str, list]] = {"lr": [0.01, 0.02, 0.05], "alpha": [0.9, 0.95]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        forget_gen = ctx.generator("neggrad_plus", "forget")
        stream: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = iter(())

        def next_forget() -> tuple[torch.Tensor, torch.Tensor]:
            nonlocal stream
            batch = next(stream, None)
            if batch is None:  # cycle through D_f, reshuffled on every pass
                stream = batches(split.forget, cfg.batch_size, forget_gen)
                batch = next(stream)
            return batch[0], batch[1]

        def loss_fn(m: nn.Module, x: torch.Tensor, y: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
            xf, yf = next_forget()
            out = m(torch.cat([x, xf]))
            retain_ce = F.cross_entropy(out[: len(x)], y)
            forget_ce = F.cross_entropy(out[len(x) :], yf)
            return cfg.alpha * retain_ce - (1 - cfg.alpha) * forget_ce

        with stopwatch() as t:
            out = clone_model(model, ctx)
            if len(split.forget) == 0:
                history: list[dict] = []
            else:
                history = fit_epochs(
                    out,
                    split.retain,
                    cfg,
                    generator=ctx.generator("neggrad_plus", "retain"),
                    counter=counter,
                    loss_fn=loss_fn,
                    track=ctx.track,
                    description="neggrad+",
                )
        return build_result(
            self, out, seconds=t[0], steps=counter.steps, history=history, metadata={"passes_retain": len(history)}
        )
