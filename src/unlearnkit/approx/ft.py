"""Fine-tuning (FT) on the retained data: forgetting by catastrophic interference.

Paper: Warnecke et al., "Machine Unlearning of Features and Labels", NDSS 2023, arXiv 2108.11577, as the FT
baseline of Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023, arXiv 2304.04934
(``unlearn/FT.py``) and of SSD (Foster et al., AAAI 2024, arXiv 2308.07707, ``finetune``).

Update rule: starting from θ_o, minimise L_CE(θ; D_r) with SGD (momentum 0.9, weight decay 5e-4),
θ ← θ − η·∇_θ L_CE(θ; B_r) for minibatches B_r of D_r. Defaults are Unlearn-Sparse's README (10 epochs,
lr 0.01, batch 256); SSD's variant is 5 epochs at lr 0.02.

Needs: retain. Cost: a few epochs over D_r.

Known failure mode: FT *fails to forget* classes at small learning rates (UA ≪ 100 in class-wise
forgetting, Unlearn-Sparse Table 3); that is the motivation for ℓ1-sparse unlearning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from unlearnkit.approx._common import SGDOptimizerConfig, StepCounter, build_result, clone_model, fit_epochs, stopwatch
from unlearnkit.context import RunContext
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult


@dataclass(frozen=True)
class FTConfig(SGDOptimizerConfig):
    """Unlearn-Sparse's FT defaults (``--unlearn FT --unlearn_epochs 10 --unlearn_lr 0.01``; SGD momentum 0.9,
    weight decay 5e-4, batch 256: the shared training defaults). SSD's variant uses 5 epochs at lr 0.02."""


@register_method(
    "ft",
    task="classification",
    needs=("retain",),
    paper="Fine-tuning baseline (Warnecke et al., NDSS 2023, arXiv 2108.11577; Jia et al., arXiv 2304.04934)",
)
class FT(Unlearner):
    """Fine-tune the whole model on D_r with cross-entropy."""

    config_cls = FTConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"epochs": [5, 10], "lr": [0.01, 0.03, 0.1]}
    # CPU scale: ~5 steps per epoch on 1k retained digits; the CIFAR lr is too small to move anything.
    search_grid: ClassVar[dict[str, list]] = {"lr": [0.01, 0.03, 0.1], "epochs": [5, 10]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        with stopwatch() as t:
            out = clone_model(model, ctx)
            history = fit_epochs(out, split.retain, cfg, generator=ctx.generator("ft", "retain"), counter=counter)
        return build_result(
            self, out, seconds=t[0], steps=counter.steps, history=history, metadata={"passes_retain": len(history)}
        )
