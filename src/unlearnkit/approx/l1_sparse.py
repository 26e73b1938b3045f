"""ℓ1-sparse unlearning: fine-tuning on the retain set with a decaying ℓ1 penalty.

Jia, Liu, Ram, Yao, Liu, Liu, Sharma, Liu, "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023,
arXiv 2304.04934 (official code: ``OPTML-Group/Unlearn-Sparse``, ``unlearn/FT.py::FT_l1`` run by
``FT_prune``). Objective (paper Eq. 4), started from the original model θ_o::

    θ_u = argmin_θ  L_CE(θ; D_r) + γ_t ‖θ‖₁,    γ_t = γ · (1 − t / (T − T_0))  for epoch t < T − T_0, else 0

with T the number of epochs and T_0 = ``no_l1_epochs``. As in the code, the ℓ1 norm covers *all*
parameters every step and SGD (momentum 0.9, weight decay 5e-4) optimises the sum; the linear decay
("sparsity-aware" unlearning with a scheduled penalty) starts strong, then lets the retain loss recover
accuracy. Sparsity promotion removes the parameter directions that only the forget data supported, which
is why it forgets a whole class where plain fine-tuning (γ = 0, the same schedule) does not.

Needs: retain (the forget set is not used). Cost: T epochs over D_r (FT-like). Failure modes: γ is
scale-dependent (the sum over parameters grows with model size): too small behaves like FT (no
forgetting), too large drives weights to zero and costs retain/test accuracy. The subgradient of |θ| makes
weights oscillate around 0 rather than reach it exactly, so sparsity is reported as the fraction of
|w| ≤ ``sparsity_tol``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import (
    SGDConfig,
    StepCounter,
    build_result,
    clone_model,
    require,
    stopwatch,
    train_loop,
)
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext


@dataclass(frozen=True)
class L1SparseConfig(SGDConfig):
    """ℓ1-sparse hyper-parameters; defaults from Unlearn-Sparse's README/arg_parser (CIFAR-10, ResNet-18): T = 10
    epochs over D_r, SGD at a constant lr 0.01 (the milestones 91,136 are never hit), momentum 0.9, weight decay
    5e-4, batch 256."""

    gamma: float = field(
        default=1e-4,
        metadata={"help": "γ: initial ℓ1 weight (>= 0; tuned per task; 1e-4 in SalUn-protocol CIFAR-10 scripts)"},
    )
    no_l1_epochs: int = field(default=0, metadata={"help": "T_0: final epochs without the penalty (0 <= T_0 <= T)"})
    sparsity_tol: float = field(
        default=1e-3, metadata={"help": "|w| at or below this counts as zero in the reported sparsity (>= 0)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.gamma >= 0, f"gamma must be >= 0, got {self.gamma}")
        require(0 <= self.no_l1_epochs <= self.epochs, f"no_l1_epochs must lie in [0, epochs], got {self.no_l1_epochs}")
        require(self.sparsity_tol >= 0, f"sparsity_tol must be >= 0, got {self.sparsity_tol}")


def l1_schedule(gamma: float, epoch: int, epochs: int, no_l1_epochs: int) -> float:
    """γ_t of the official ``FT_iter``: linear decay to 0 over the first T − T_0 epochs, then 0."""
    active = epochs - no_l1_epochs
    if active == 0:
        return gamma
    return gamma * (1 - epoch / active) if epoch < active else 0.0


@torch.no_grad()
def weight_sparsity(model: nn.Module, tol: float = 0.0) -> float:
    """Fraction of all parameter entries with ``|w| <= tol``."""
    zeros = sum(int((p.abs() <= tol).sum()) for p in model.parameters())
    total = sum(p.numel() for p in model.parameters())
    return zeros / max(total, 1)


@register_method(
    "l1_sparse",
    task="classification",
    needs=("forget", "retain"),
    paper="Jia et al., Model Sparsity Can Simplify Machine Unlearning, NeurIPS 2023 (arXiv 2304.04934)",
)
class L1Sparse(Unlearner):
    """Fine-tune on D_r with a linearly decaying γ‖θ‖₁ (Unlearn-Sparse ``FT_prune``)."""

    config_cls = L1SparseConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"gamma": [5e-3, 1e-2, 2e-2, 3e-2]}
    # Digits scale, width-64 ResMLP: γ <= 5e-3 behaves like FT (UA 10-35); 1e-2 (batch 128) or 2e-2-3e-2
    # (batch 256) forgets the class with RA within 1-2 points; 5e-2 costs 5-20 points. The γ that works
    # depends on the number of steps (batch size), as the penalty acts per step.
    search_grid: ClassVar[dict[str, list]] = {
        "gamma": [1e-2, 2e-2, 3e-2],
        "batch_size": [128, 256],
    }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: L1SparseConfig = self.config
        counter = StepCounter(cfg.max_steps)
        history: list[dict] = []
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            sparsity_before = weight_sparsity(out, cfg.sparsity_tol)
            opt = cfg.optimizer_for(out.parameters())
            generator = ctx.generator(self.name, "batches")
            for epoch in ctx.track(range(cfg.epochs), f"{self.name} epochs"):
                if counter.exhausted:
                    break
                gamma_t = l1_schedule(cfg.gamma, epoch, cfg.epochs, cfg.no_l1_epochs)

                def loss_fn(m: nn.Module, x: torch.Tensor, y: torch.Tensor, pos: torch.Tensor, g=gamma_t):
                    loss = F.cross_entropy(m(x), y)
                    if g:
                        loss = loss + g * torch.cat([p.reshape(-1) for p in m.parameters()]).abs().sum()
                    return loss

                rows = train_loop(
                    out,
                    split.retain,
                    epochs=1,
                    batch_size=cfg.batch_size,
                    optimizer=opt,
                    loss_fn=loss_fn,
                    generator=generator,
                    counter=counter,
                )
                history += [{**row, "epoch": epoch, "gamma": gamma_t} for row in rows]
            sparsity_after = weight_sparsity(out, cfg.sparsity_tol)
        metadata = {
            "sparsity_before": sparsity_before,
            "sparsity_after": sparsity_after,
            "sparsity_tol": cfg.sparsity_tol,
            "retain_size": len(split.retain),
        }
        return build_result(self, out, seconds=clock[0], steps=counter.steps, history=history, metadata=metadata)
