"""The LM method class tree (OpenUnlearning's shape): a loop that every gradient method shares, and hooks.

``GradientUnlearner.run`` draws a forget batch (and a retain batch when the method has a retain term) per
step and minimises ``gamma · forget_loss + alpha · retain_loss`` with AdamW at a constant learning rate
(MUSE's unlearning schedule). A method overrides only :meth:`forget_loss` and picks its retain term by name
(``retain_term``: ``None``, ``"nll"`` = gradient descent on retain (GDR), ``"kl"`` = KL to the frozen input
(KLR)). A frozen copy of the input model is made only when the method reads it (``uses_reference``).

Step count: ``epochs × ⌈|D_f| / batch_size⌉`` (MUSE counts epochs over D_f; the retain set is cycled to match),
capped by ``max_steps``. ``run(..., callback=fn)`` calls ``fn(step, model)`` after every step; a true return
stops the run (the MUSE stop rule and the step curves of the benchmark use it).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import MethodConfig, StepCounter, build_result, require, stopwatch
from unlearnkit.context import RunContext
from unlearnkit.llm.data import LMSplit, TextBatch, cycle_batches
from unlearnkit.llm.losses import kl_divergence, sequence_nll
from unlearnkit.types import Unlearner, UnlearnResult

Callback = Callable[[int, nn.Module], bool]
RETAIN_TERMS = (None, "nll", "kl")


@dataclass(frozen=True)
class LMUnlearnConfig(MethodConfig):
    """MUSE's unlearning defaults (``baselines/scripts/*.sh``): AdamW lr 1e-5, constant, batch 32, 10 epochs.

    At the embedded world's scale those defaults barely move a 0.2 M-parameter model in the budget of a test;
    each method's ``toy`` overrides (e.g. lr 2e-4, batch 16; notes §4.3) are what the benchmark runs.
    """

    epochs: int = field(default=10, metadata={"help": "epochs over D_f"})
    lr: float = field(default=1e-5, metadata={"help": "AdamW learning rate (constant schedule)"})
    batch_size: int = field(default=32, metadata={"help": "forget (and retain) texts per step"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    gamma: float = field(default=1.0, metadata={"help": "weight of the forget term"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")


@dataclass(frozen=True)
class RegularizedConfig(LMUnlearnConfig):
    """Adds the retain term's weight (OpenUnlearning's GradDiff ``alpha``; MUSE adds the terms with weight 1)."""

    alpha: float = field(default=1.0, metadata={"help": "weight of the retain term (GDR / KLR)"})


def frozen(model: nn.Module) -> nn.Module:
    out = copy.deepcopy(model).eval()
    for p in out.parameters():
        p.requires_grad_(False)
    return out


def forward(model: nn.Module, batch: TextBatch, **kwargs: Any) -> Any:
    return model(**batch.inputs(), **kwargs)


class LMUnlearner(Unlearner):
    """Base of every LM method: the methods take an :class:`LMSplit` and any HF causal LM."""

    display: ClassVar[str] = ""
    toy: ClassVar[dict[str, Any]] = {}
    """Config overrides used on the embedded world (the benchmark and the conformance suite)."""

    def _check(self, split: LMSplit) -> None:
        if not isinstance(split, LMSplit):
            raise TypeError(f"{self.name} unlearns language models and takes an LMSplit, got {type(split).__name__}")

    def _prepare(self, model: nn.Module, split: LMSplit, ctx: RunContext) -> nn.Module:
        self._check(split)
        ctx.apply_threads()
        out = model if ctx.inplace else copy.deepcopy(model)
        out.to(ctx.torch_device)
        for p in out.parameters():
            p.requires_grad_(True)
        return out


class GradientUnlearner(LMUnlearner):
    """The shared loop; subclasses implement :meth:`forget_loss` and set ``retain_term``/``uses_reference``."""

    config_cls = LMUnlearnConfig
    retain_term: ClassVar[str | None] = None
    uses_reference: ClassVar[bool] = False

    def forget_loss(self, model: nn.Module, batch: TextBatch, reference: nn.Module | None) -> torch.Tensor:
        raise NotImplementedError

    def retain_loss(self, model: nn.Module, batch: TextBatch, reference: nn.Module | None) -> torch.Tensor:
        logits = forward(model, batch).logits
        if self.retain_term == "nll":
            return sequence_nll(logits, batch.labels).mean()
        if self.retain_term == "kl":
            if reference is None:
                raise RuntimeError("the KL retain term needs the reference model")
            with torch.no_grad():
                ref_logits = forward(reference, batch).logits
            return kl_divergence(ref_logits, logits, batch.labels)
        raise RuntimeError(f"unknown retain term {self.retain_term!r}")

    def needs_reference(self) -> bool:
        return self.uses_reference or self.retain_term == "kl"

    def total_steps(self, split: LMSplit) -> int:
        return self.config.epochs * math.ceil(len(split.forget) / self.config.batch_size)

    def parameters_to_train(self, model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.requires_grad]

    def unlearn(self, model: nn.Module, split: LMSplit, *, ctx: RunContext) -> UnlearnResult:
        return self.run(model, split, ctx=ctx)

    def run(
        self, model: nn.Module, split: LMSplit, *, ctx: RunContext, callback: Callback | None = None
    ) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        history: list[dict[str, Any]] = []
        with stopwatch() as t:
            out = self._prepare(model, split, ctx)
            reference = frozen(out) if self.needs_reference() else None
            forget = cycle_batches(split.batch("forget"), cfg.batch_size, ctx.generator(self.name, "forget"))
            retain = None
            if self.retain_term is not None:
                retain = cycle_batches(split.batch("retain"), cfg.batch_size, ctx.generator(self.name, "retain"))
            params = self.parameters_to_train(out)
            opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
            out.train()
            for _ in range(self.total_steps(split)):
                if not counter.step():
                    break
                f_loss = self.forget_loss(out, next(forget), reference)
                loss = cfg.gamma * f_loss
                row = {"step": counter.steps, "forget_loss": float(f_loss.detach())}
                if retain is not None:
                    r_loss = self.retain_loss(out, next(retain), reference)
                    loss = loss + cfg.alpha * r_loss
                    row["retain_loss"] = float(r_loss.detach())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                history.append(row)
                if callback is not None:
                    out.eval()
                    stop = callback(counter.steps, out)
                    out.train()
                    if stop:
                        break
            out.eval()
        return build_result(
            self, out, seconds=t[0], steps=counter.steps, history=history, metadata={"display": self.display}
        )


def finetune(
    model: nn.Module,
    batch: TextBatch,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    counter: StepCounter,
    generator: torch.Generator,
    schedule: str = "cosine",
) -> list[float]:
    """Fine-tune in place on ``batch`` (Task Vector's θ_ft and WHP's reinforced model); returns the losses."""
    from unlearnkit.llm.losses import mean_nll

    steps = epochs * math.ceil(len(batch) / batch_size)
    if counter.remaining is not None:
        steps = min(steps, counter.remaining)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1)) if schedule == "cosine" else None
    batches = cycle_batches(batch, batch_size, generator)
    losses = []
    model.train()
    for _ in range(steps):
        if not counter.step():
            break
        b = next(batches)
        loss = mean_nll(forward(model, b).logits, b.labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


__all__ = [
    "RETAIN_TERMS",
    "Callback",
    "GradientUnlearner",
    "LMUnlearnConfig",
    "LMUnlearner",
    "RegularizedConfig",
    "finetune",
    "forward",
    "frozen",
]
