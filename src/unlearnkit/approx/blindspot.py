"""Blindspot unlearning for regression (Tarun et al., "Deep Regression Unlearning", ICML 2023, arXiv 2210.08196).

Algorithm 1 of the paper as the authors' ``unlearn.py`` (``forget_loss``, ``fit_one_forget_cycle``) does it:

1. A *blindspot* model B of the same architecture, freshly initialised, is trained briefly on D_r only
   (``blindspot_epochs``; Adam, ``blindspot_lr``; the authors: 2 epochs for AgeDB/AllCNN, 10 for STS-B).
   B is then frozen: it knows the retain distribution roughly and has never seen D_f.
2. The student M starts from the original and trains on D = D_r ∪ D_f with each row flagged forget or retain
   (Adam, ``lr``; ``epochs``: 1 vision / 5 STS-B). Per batch, with p the fraction of forget rows::

       L_r = ℓ(M(x_r), y_r)
       L_f = ℓ(M(x_f), B(x_f)) + β · Σ_l AT(a_l^M(x_f), a_l^B(x_f))
       L   = p · L_f + (1 − p) · L_r                                   (paper Eq. 3; β = 50)

   ℓ is L1 (vision) or MSE (STS-B); AT is the attention-transfer distance of every activation the model
   returns (:func:`~unlearnkit.approx._regression.at_distance`, exactly 0 on 2-D activations, so an MLP
   gets the output term only — the authors' code does the same to its linear layers).

Needs: forget and retain. Cost: ``blindspot_epochs`` over D_r plus ``epochs`` over D. Failure modes: a
blindspot model trained too long copies Retrain's extrapolation exactly (fine) but costs as much; too short
and its forget predictions are noise that the student then imitates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import (
    StepCounter,
    build_result,
    clone_model,
    make_optimizer,
    require,
    stopwatch,
    train_loop,
)
from unlearnkit.approx._regression import (
    RegressionConfig,
    activations,
    at_distance,
    pointwise,
    regression_loss_fn,
    require_regression,
)
from unlearnkit.context import derive_seed
from unlearnkit.data import concat
from unlearnkit.errors import ConfigError
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext


@dataclass(frozen=True)
class BlindspotConfig(RegressionConfig):
    """Defaults of the authors' AgeDB notebook: student 1 epoch at Adam 1e-3, batch 256, β = 50; B 2 epochs at 1e-2."""

    epochs: int = field(default=1, metadata={"help": "student epochs over D_r ∪ D_f (vision 1, STS-B 5)"})
    lr: float = field(default=1e-3, metadata={"help": "student Adam learning rate"})
    batch_size: int = field(default=256, metadata={"help": "student minibatch size"})
    beta: float = field(default=50.0, metadata={"help": "β: weight of the layer-wise attention-transfer term (>= 0)"})
    blindspot_epochs: int = field(default=2, metadata={"help": "epochs of the blindspot model on D_r (vision 2)"})
    blindspot_lr: float = field(default=1e-2, metadata={"help": "Adam learning rate of the blindspot model"})
    blindspot_batch_size: int = field(default=64, metadata={"help": "minibatch size of the blindspot model"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        require(self.blindspot_epochs >= 0, f"blindspot_epochs must be >= 0, got {self.blindspot_epochs}")
        require(self.blindspot_lr > 0, f"blindspot_lr must be > 0, got {self.blindspot_lr}")
        require(self.blindspot_batch_size >= 1, f"blindspot_batch_size must be >= 1, got {self.blindspot_batch_size}")


def _fresh_like(model: nn.Module, seed: int) -> nn.Module:
    """A re-initialised copy of ``model``'s architecture (every module's ``reset_parameters``)."""
    import copy

    fresh = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in fresh.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()
    for p in fresh.parameters():
        p.requires_grad_(True)
    return fresh


@register_method(
    "blindspot",
    task="regression",
    family="regressor",
    needs=("forget", "retain"),
    paper="Tarun et al., Deep Regression Unlearning (Blindspot), ICML 2023 (arXiv 2210.08196)",
)
class Blindspot(Unlearner):
    """Pull the forget outputs and activations toward a briefly trained model that never saw D_f."""

    config_cls = BlindspotConfig
    search_grid: ClassVar[dict[str, list]] = {"epochs": [1, 2], "beta": [0.0, 50.0]}
    strength: ClassVar[dict[str, list]] = {"epochs": [1, 2, 3], "lr": [1e-3, 3e-3]}

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: BlindspotConfig = self.config
        require_regression(split, self.name)
        if len(split.retain) == 0:
            raise ConfigError("blindspot needs retained rows to train the blindspot model on")
        counter = StepCounter(cfg.max_steps)
        history: list[dict] = []
        with stopwatch() as clock:
            blind = _fresh_like(model, derive_seed(ctx.seed, self.name, "blindspot-init")).to(ctx.torch_device)
            opt_b = make_optimizer("adam", blind.parameters(), cfg.blindspot_lr)
            rows = train_loop(
                blind,
                split.retain,
                epochs=cfg.blindspot_epochs,
                batch_size=cfg.blindspot_batch_size,
                optimizer=opt_b,
                loss_fn=regression_loss_fn(cfg.loss),
                generator=ctx.generator(self.name, "blindspot"),
                counter=counter,
            )
            history += [{**r, "phase": "blindspot"} for r in rows]
            blind.eval()
            for p in blind.parameters():
                p.requires_grad_(False)
            out = clone_model(model, ctx)
            full = concat([split.retain, split.forget]) if len(split.forget) else split.retain
            forget_ids = torch.tensor(sorted(split.forget.id_list()), dtype=torch.int64)
            is_forget = torch.isin(full.ids, forget_ids)

            def loss_fn(m: nn.Module, x: torch.Tensor, y: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
                flag = is_forget[pos]
                p = float(flag.float().mean())
                pred, acts = activations(m, x)  # one forward over the batch, as the authors' loop
                total = (1 - p) * pointwise(cfg.loss, pred[~flag], y[~flag]) if p < 1 else torch.zeros(())
                if p > 0:
                    with torch.no_grad():
                        target, b_acts = activations(blind, x[flag])
                    lf = pointwise(cfg.loss, pred[flag], target)
                    if cfg.beta:
                        lf = lf + cfg.beta * sum(
                            (at_distance(a[flag], b) for a, b in zip(acts, b_acts, strict=True)), torch.zeros(())
                        )
                    total = total + p * lf
                return total

            rows = train_loop(
                out,
                full,
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                optimizer=cfg.optimizer_for(out.parameters()),
                loss_fn=loss_fn,
                generator=ctx.generator(self.name, "student"),
                counter=counter,
            )
            history += [{**r, "phase": "student"} for r in rows]
        metadata = {"blindspot_epochs": cfg.blindspot_epochs, "beta": cfg.beta, "forget_size": len(split.forget)}
        return build_result(self, out, seconds=clock[0], steps=counter.steps, history=history, metadata=metadata)


__all__ = ["Blindspot", "BlindspotConfig"]
