"""Gradient ascent (GA, "NegGrad") on the forget set.

Paper: Thudi et al., "Unrolling SGD: Understanding Factors Influencing Machine Unlearning", EuroS&P 2022,
arXiv 2109.13398, as the GA baseline of Jia et al., "Model Sparsity Can Simplify Machine Unlearning",
NeurIPS 2023, arXiv 2304.04934 (``unlearn/GA.py``).

Update rule: starting from θ_o, *minimise* −L_CE(θ; D_f), i.e. θ ← θ + η·∇_θ L_CE(θ; B_f) for minibatches
B_f of D_f (SGD, momentum 0.9, weight decay 5e-4). Defaults from Unlearn-Sparse's README: 5 epochs,
lr 1e-4, batch 256.

Needs: forget only. Cost: a few passes over D_f (the cheapest trained method).

Known failure modes: unstable. The loss is unbounded below, so too large a learning rate collapses retain
and test accuracy (lr 1e-2 drops digits RA to ~11%); too small forgets nothing. Report its seed variance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import SGDOptimizerConfig, StepCounter, build_result, clone_model, fit_epochs, stopwatch
from unlearnkit.context import RunContext
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult


@dataclass(frozen=True)
class GAConfig(SGDOptimizerConfig):
    """Unlearn-Sparse's GA defaults (``--unlearn GA --unlearn_epochs 5 --unlearn_lr 1e-4``; SGD momentum 0.9,
    weight decay 5e-4, batch 256)."""

    epochs: int = field(default=5, metadata={"help": "epochs over D_f"})
    lr: float = field(default=1e-4, metadata={"help": "SGD learning rate of the ascent"})


def _ascent_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """−CE: minimising it ascends the cross-entropy."""
    return -F.cross_entropy(m(x), y)


@register_method(
    "ga",
    task="classification",
    needs=("forget",),
    paper="Gradient ascent (Thudi et al., EuroS&P 2022, arXiv 2109.13398; Jia et al., arXiv 2304.04934)",
)
class GA(Unlearner):
    """Ascend the cross-entropy of the forget set."""

    config_cls = GAConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"lr": [1e-4, 1e-3, 3e-3, 1e-2]}
    # CPU scale: D_f is one or a few batches, so 5 epochs are ~5 steps; lr 1e-2 already collapses digits.
    search_grid: ClassVar[dict[str, list]] = {"lr": [1e-3, 3e-3, 1e-2], "epochs": [5, 10]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        with stopwatch() as t:
            out = clone_model(model, ctx)
            history = fit_epochs(
                out, split.forget, cfg, generator=ctx.generator("ga", "forget"), counter=counter, loss_fn=_ascent_loss
            )
        return build_result(
            self,
            out,
            seconds=t[0],
            steps=counter.steps,
            history=[{**h, "forget_ce": -h["loss"]} for h in history],
            metadata={"passes_forget": len(history), "passes_retain": 0},
        )
