"""Task Vector negation (Ilharco et al., "Editing Models with Task Arithmetic", ICLR 2023, arXiv 2212.04089),
as MUSE's ``baselines/baselines/task_vector.py`` applies it to unlearning.

θ_ft = the target fine-tuned on D_f (AdamW lr 1e-5, cosine, 10 epochs: MUSE's TV recipe), then
θ = θ_tgt − α·(θ_ft − θ_tgt). α = 1 by default; MUSE sweeps α ∈ {1, 2, 4, …} with its stop rule.

Needs: D_f. Known behaviour: when the target already memorised D_f the fine-tune moves little, so the task
vector is small and negating it changes little (MUSE News: VerbMem 56.3 vs the target's 58.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import MethodConfig, StepCounter, build_result, require, stopwatch
from unlearnkit.context import RunContext
from unlearnkit.llm.data import LMSplit
from unlearnkit.llm.methods.base import LMUnlearner, finetune
from unlearnkit.registry import register_method
from unlearnkit.types import UnlearnResult


@dataclass(frozen=True)
class FinetuneConfig(MethodConfig):
    """The fine-tune on D_f that Task Vector and WHP share (MUSE: 10 epochs, lr 1e-5, cosine, batch 32)."""

    epochs: int = field(default=10, metadata={"help": "fine-tune epochs over D_f"})
    lr: float = field(default=1e-5, metadata={"help": "fine-tune AdamW learning rate (cosine schedule)"})
    batch_size: int = field(default=32, metadata={"help": "texts per step"})
    alpha: float = field(default=1.0, metadata={"help": "scale of the negated task vector / logit offset"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.alpha >= 0, f"alpha must be >= 0, got {self.alpha}")


def reinforce(
    method: LMUnlearner, model: nn.Module, split: LMSplit, ctx: RunContext, counter: StepCounter, stream: str
) -> tuple[nn.Module, nn.Module, list[float]]:
    """(a copy of the target, a second copy fine-tuned on D_f, the fine-tune losses): Task Vector's and WHP's start."""
    cfg = method.config
    target = method._prepare(model, split, ctx)
    tuned = method._prepare(target, split, RunContext(seed=ctx.seed, threads=ctx.threads))
    losses = finetune(
        tuned,
        split.batch("forget"),
        epochs=cfg.epochs,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        counter=counter,
        generator=ctx.generator(method.name, stream),
    )
    return target, tuned, losses


def negate_task_vector(target: nn.Module, finetuned: nn.Module, alpha: float) -> None:
    """θ_tgt ← θ_tgt − α·(θ_ft − θ_tgt), in place on ``target`` (floating-point tensors only)."""
    ft = finetuned.state_dict()
    with torch.no_grad():
        for name, value in target.state_dict().items():
            if value.is_floating_point():
                value.sub_(alpha * (ft[name] - value))


@register_method(
    "llm_task_vector",
    task="llm",
    family="llm",
    needs=("forget",),
    paper="Task arithmetic (Ilharco et al., ICLR 2023, arXiv 2212.04089)",
)
class TaskVector(LMUnlearner):
    """Fine-tune a copy on D_f, then subtract α times the weight change from the target."""

    config_cls = FinetuneConfig
    display = "TaskVector"
    toy: ClassVar[dict] = {"lr": 1e-3, "batch_size": 16, "epochs": 10, "alpha": 1.0}

    def unlearn(self, model: nn.Module, split: LMSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        with stopwatch() as t:
            out, tuned, losses = reinforce(self, model, split, ctx, counter, "finetune")
            if counter.steps:
                negate_task_vector(out, tuned, cfg.alpha)
        return build_result(
            self,
            out,
            seconds=t[0],
            steps=counter.steps,
            history=[{"step": i + 1, "finetune_loss": v} for i, v in enumerate(losses)],
            metadata={"display": self.display, "alpha": cfg.alpha},
        )
