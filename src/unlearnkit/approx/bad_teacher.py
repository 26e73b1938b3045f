"""Bad Teacher ("blindspot"): distil from an incompetent teacher on D_f and the original on D_r.

Paper: Chundawat, Tarun, Mandal, Kankanhalli, "Can Bad Teaching Induce Forgetting? Unlearning in Deep
Networks Using an Incompetent Teacher", AAAI 2023, arXiv 2205.08096 (official code
``vikram2000b/bad-teaching-unlearning``; the SSD repository runs it as ``blindspot``).

Update rule (paper Eq. 2–3, as ``UnlearnerLoss`` computes it). The student θ starts at θ_o. For a sample
with forget flag l ∈ {0, 1} the target distribution is
    t(x) = l·softmax(f_bad(x)/T) + (1 − l)·softmax(f_o(x)/T),
where f_bad is a **randomly initialised** model of the same architecture (the incompetent teacher) and f_o
the frozen original (the competent one); the loss is KL(t ‖ softmax(f_θ(x)/T)) with PyTorch's default
``kl_div`` reduction (mean over batch × classes). The training data is D_f (l = 1) shuffled together with a
random 30 % of D_r (l = 0). Official defaults: Adam lr 1e-4, 1 epoch, batch 256, T = 1.

Needs: forget and retain (a subset). Cost: one short pass over D_f plus 30 % of D_r. Labels are not used.

Known failure modes: the forget samples are pulled to the random teacher's near-uniform outputs, so their
confidence drops *below* what a retrained model gives on unseen data of the same distribution (random
forgetting over-forgets; the paper's ZRF metric measures closeness to the random teacher, not to Retrain).
At CPU scale the official single Adam epoch at 1e-4 is only a handful of steps (notes §6.1 used Adam 1e-3,
10 epochs); tune with ``search_grid``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import (
    OptimizerConfig,
    StepCounter,
    build_result,
    clone_model,
    fit_epochs,
    frozen_copy,
    require,
    stopwatch,
    subsample,
)
from unlearnkit.context import RunContext
from unlearnkit.data import concat
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult


@dataclass(frozen=True)
class BadTeacherConfig(OptimizerConfig):
    """Defaults of ``blindspot`` in the SSD repository (ResNet18 settings; batch 256 of mixed forget and retain
    samples)."""

    epochs: int = field(default=1, metadata={"help": "passes over D_f ∪ (retain subset)"})
    lr: float = field(default=1e-4, metadata={"help": "learning rate (> 0)"})
    optimizer: str = field(default="adam", metadata={"help": "sgd | adam | adamw"})
    temperature: float = field(default=1.0, metadata={"help": "KL temperature T (> 0)"})
    retain_fraction: float = field(default=0.3, metadata={"help": "fraction of D_r distilled from θ_o, in [0, 1]"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.temperature > 0, f"temperature must be > 0, got {self.temperature}")
        require(0 <= self.retain_fraction <= 1, f"retain_fraction must lie in [0, 1], got {self.retain_fraction}")


def random_init_like(model: nn.Module, ctx: RunContext, *parts: object) -> nn.Module:
    """A freshly initialised model with ``model``'s architecture, seeded from ``ctx`` and ``parts``.

    Zoo models are rebuilt from their ``spec`` (every weight re-drawn as at construction); other models are
    deep-copied and every submodule's ``reset_parameters()`` is called. The global RNG is restored after.
    """
    from unlearnkit.models import ModelSpec, build_model

    spec = getattr(model, "spec", None)
    with torch.random.fork_rng(devices=[]):
        seed = ctx.seed_everything(*parts)
        if isinstance(spec, ModelSpec):
            fresh = build_model(spec, seed=seed)
        else:
            fresh = copy.deepcopy(model)
            for module in fresh.modules():
                reset = getattr(module, "reset_parameters", None)
                if callable(reset):
                    reset()
    return fresh.to(ctx.torch_device).eval()


@register_method(
    "bad_teacher",
    task="classification",
    needs=("forget", "retain"),
    paper="Bad Teacher (Chundawat et al., AAAI 2023, arXiv 2205.08096)",
)
class BadTeacher(Unlearner):
    """KL-distil the forget set from a random teacher and a retain subset from the original model."""

    config_cls = BadTeacherConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"lr": [1e-4, 1e-3, 3e-3], "epochs": [1, 5]}
    # CPU scale: one Adam epoch at 1e-4 is 1–5 steps on digits (a no-op); Adam 1e-3 for 10 epochs was
    # Retrain-like class-wise (notes §6.1: Avg. Gap 0.71); here 3e-3 for 10 epochs gave Avg. Gap 0.5–1.8.
    search_grid: ClassVar[dict[str, list]] = {"lr": [1e-3, 3e-3], "epochs": [5, 10]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        history: list[dict] = []
        with stopwatch() as t:
            competent = frozen_copy(model, ctx)
            incompetent = random_init_like(model, ctx, "bad_teacher", "incompetent")
            for p in incompetent.parameters():
                p.requires_grad_(False)
            student = clone_model(model, ctx)
            retain = subsample(
                split.retain, int(cfg.retain_fraction * len(split.retain)), ctx.generator("bad_teacher", "retain")
            )
            # The forget flag travels as the label (UnLearningData: 1 = forget, 0 = retain); labels are unused.
            flags = concat(
                [
                    split.forget.with_labels(torch.ones(len(split.forget), dtype=torch.int64)),
                    retain.with_labels(torch.zeros(len(retain), dtype=torch.int64)),
                ]
            )
            temperature = cfg.temperature

            def loss_fn(m: nn.Module, x: torch.Tensor, flag: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
                with torch.no_grad():
                    good = F.softmax(competent(x) / temperature, dim=1)
                    bad = F.softmax(incompetent(x) / temperature, dim=1)
                    lf = flag.unsqueeze(1).to(good.dtype)
                    target = lf * bad + (1 - lf) * good
                # kl_div's "mean" reduction (the official default) = sum / (batch × classes), spelt out.
                kl = F.kl_div(F.log_softmax(m(x) / temperature, dim=1), target, reduction="sum")
                return kl / target.numel()

            history = fit_epochs(
                student,
                flags,
                cfg,
                loss_fn=loss_fn,
                generator=ctx.generator("bad_teacher", "order"),
                counter=counter,
                track=ctx.track,
                description="bad teacher",
            )
        return build_result(
            self,
            student,
            seconds=t[0],
            steps=counter.steps,
            history=history,
            metadata={"retain_used": len(retain), "forget_used": len(split.forget), "passes": len(history)},
        )
