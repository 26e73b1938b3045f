"""Random labelling (RL): train the forget set towards random labels, then repair on the retained data.

Paper: Golatkar, Achille, Soatto, "Eternal Sunshine of the Spotless Net", CVPR 2020, arXiv 1911.04933
(random-label forgetting), in the form of the RL baseline of Fan et al., "SalUn: Empowering Machine Unlearning
via Gradient-based Weight Saliency", ICLR 2024, arXiv 2310.12508 (``unlearn/RL.py``; SalUn = RL restricted
to a saliency mask).

Update rule (SalUn's CIFAR-10/SVHN code, sequential as the maintainers confirm in issue #21): every epoch,
(1) one pass over D_f minimising L_CE(θ; x, y′) with y′ drawn uniformly from *all* classes (redrawn each
epoch; ``label_mode="other"`` excludes the true label), then (2) one pass over D_r minimising
L_CE(θ; x, y). ``order="mixed"`` shuffles both into one stream instead (SalUn's CIFAR-100 variant). SGD
momentum 0.9, weight decay 5e-4; README defaults: 10 epochs, lr 0.013, batch 256.

Needs: forget and retain. Cost: a few epochs over D_f ∪ D_r.

Known failure mode: over-forgetting in random forgetting — MIA-Efficacy overshoots Retrain's (SalUn Table 1:
37.4 vs 12.9), which Avg. Gap penalises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from torch import nn

from unlearnkit.approx._common import (
    SGDOptimizerConfig,
    StepCounter,
    build_result,
    ce_loss,
    clone_model,
    random_labels,
    random_other_labels,
    require,
    stopwatch,
    train_loop,
)
from unlearnkit.context import RunContext
from unlearnkit.data import concat
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult


@dataclass(frozen=True)
class RandomLabelConfig(SGDOptimizerConfig):
    """SalUn README's RL defaults (``--unlearn RL --unlearn_epochs 10 --unlearn_lr 0.013``; SGD momentum 0.9,
    weight decay 5e-4, batch 256). Each epoch is a D_f pass then a D_r pass."""

    lr: float = field(default=0.013, metadata={"help": "SGD learning rate"})
    label_mode: str = field(default="any", metadata={"help": "any: uniform over all classes (SalUn) | other: y' != y"})
    order: str = field(default="sequential", metadata={"help": "sequential: D_f then D_r | mixed: one shuffled stream"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.label_mode in ("any", "other"), f"label_mode must be any or other, got {self.label_mode!r}")
        require(self.order in ("sequential", "mixed"), f"order must be sequential or mixed, got {self.order!r}")


@register_method(
    "random_label",
    task="classification",
    needs=("forget", "retain"),
    paper="Random labels (Golatkar et al., CVPR 2020, arXiv 1911.04933; SalUn's RL, ICLR 2024, arXiv 2310.12508)",
)
class RandomLabel(Unlearner):
    """Relabel D_f at random and train on it, then on D_r, every epoch."""

    config_cls = RandomLabelConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"lr": [0.001, 0.003, 0.013], "epochs": [5, 10]}
    # CPU scale: an Adam-trained digits model is sharp; SGD(0.9) at lr >= 0.01 over 5 epochs already costs RA.
    search_grid: ClassVar[dict[str, list]] = {"lr": [0.001, 0.003, 0.01], "epochs": [5, 10]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        label_gen = ctx.generator("random_label", "labels")
        order_gen = ctx.generator("random_label", "order")
        draw = random_labels if cfg.label_mode == "any" else random_other_labels
        num_classes = split.forget.num_classes
        history: list[dict] = []
        with stopwatch() as t:
            out = clone_model(model, ctx)
            opt = cfg.optimizer_for(out.parameters())
            for epoch in ctx.track(range(cfg.epochs), "random labels"):
                if counter.exhausted:
                    break
                relabelled = split.forget.with_labels(draw(split.forget.y, num_classes, label_gen))
                if cfg.order == "mixed":
                    stages = [("mixed", concat([relabelled, split.retain]))]
                else:
                    stages = [("forget", relabelled), ("retain", split.retain)]
                row: dict = {"epoch": epoch}
                for stage, data in stages:
                    h = train_loop(
                        out,
                        data,
                        epochs=1,
                        batch_size=cfg.batch_size,
                        optimizer=opt,
                        loss_fn=ce_loss,
                        generator=order_gen,
                        counter=counter,
                    )
                    if h:
                        row[f"{stage}_loss"] = h[0]["loss"]
                row["steps"] = counter.steps
                history.append(row)
        return build_result(
            self,
            out,
            seconds=t[0],
            steps=counter.steps,
            history=history,
            metadata={"passes_retain": len(history), "passes_forget": len(history), "label_mode": cfg.label_mode},
        )
