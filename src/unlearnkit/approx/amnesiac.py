"""Amnesiac unlearning, the benchmark suites' relabelling variant: train D_r ∪ (D_f with wrong labels).

Paper: Graves, Nagisetty, Ganesh, "Amnesiac Machine Learning", AAAI 2021, arXiv 2010.10981. The original
method *logs every training batch's parameter update* and unlearns by subtracting the updates of the
batches that contained forget samples (followed by optional fine-tuning). That needs the training-time log,
which a trained model does not carry. What the benchmark suites call "amnesiac" — the Bad Teacher
authors' ``vikram2000b/bad-teaching-unlearning`` code, run as a baseline by SSD (Foster et al., AAAI
2024, arXiv 2308.07707, ``forget_*_strategies.py``) — is the paper's *relabelling* alternative, and that is
what this module implements:

    y′_i ~ Uniform({0..C−1} \\ {y_i}) for every (x_i, y_i) ∈ D_f (drawn once),
    θ_u = argmin_θ  Σ_{D_r} CE(f_θ(x), y) + Σ_{D_f} CE(f_θ(x), y′),  started from θ_o,

i.e. the relabelled forget set is shuffled together with the whole retain set (``fit_one_unlearning_cycle``:
Adam lr 1e-4, 3 epochs, batch 128). In full-class forgetting y′ is therefore any label but the forget class.

Needs: forget and retain. Cost: 3 epochs over D_r ∪ D_f.

Known failure modes: in random forgetting the wrong labels push D_f's confidence below a retrained model's
(over-forgetting, visible to a loss-based MIA). At CPU scale the official lr barely moves a digits model
(notes §6.1 used Adam 1e-3 for Retrain-like results); tune with ``search_grid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from torch import nn

from unlearnkit.approx._common import (
    OptimizerConfig,
    StepCounter,
    build_result,
    clone_model,
    fit_epochs,
    random_other_labels,
    stopwatch,
)
from unlearnkit.context import RunContext
from unlearnkit.data import concat
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult


@dataclass(frozen=True)
class AmnesiacConfig(OptimizerConfig):
    """Defaults of ``amnesiac`` in the SSD repository (``fit_one_unlearning_cycle``)."""

    epochs: int = field(default=3, metadata={"help": "epochs over D_r ∪ relabelled D_f"})
    lr: float = field(default=1e-4, metadata={"help": "learning rate (> 0)"})
    batch_size: int = field(default=128, metadata={"help": "minibatch size"})
    optimizer: str = field(default="adam", metadata={"help": "sgd | adam | adamw"})


@register_method(
    "amnesiac",
    task="classification",
    needs=("forget", "retain"),
    paper="Amnesiac ML, relabelling variant (Graves et al., AAAI 2021, arXiv 2010.10981)",
)
class Amnesiac(Unlearner):
    """Relabel every forget sample to a random wrong class once, then train on it mixed with D_r."""

    config_cls = AmnesiacConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"lr": [1e-4, 3e-4, 1e-3, 3e-3]}
    # CPU scale: Adam 1e-3 for 3 epochs was Retrain-like on digits class-wise (notes §6.1: Avg. Gap 0.41).
    search_grid: ClassVar[dict[str, list]] = {"lr": [3e-4, 1e-3, 3e-3], "epochs": [3, 5]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        num_classes = max(split.forget.num_classes, split.retain.num_classes)
        with stopwatch() as t:
            out = clone_model(model, ctx)
            wrong = random_other_labels(split.forget.y, num_classes, ctx.generator("amnesiac", "labels"))
            data = concat([split.retain, split.forget.with_labels(wrong)])
            history = fit_epochs(
                out,
                data,
                cfg,
                generator=ctx.generator("amnesiac", "order"),
                counter=counter,
                track=ctx.track,
                description="amnesiac",
            )
        return build_result(
            self,
            out,
            seconds=t[0],
            steps=counter.steps,
            history=history,
            metadata={"passes_retain": len(history), "passes_forget": len(history)},
        )
