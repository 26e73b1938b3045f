"""Influence unlearning (IU) with a WoodFisher inverse-Hessian-vector product.

Koh & Liang's influence-function removal, as implemented in Jia et al., "Model Sparsity Can Simplify
Machine Unlearning", NeurIPS 2023, arXiv 2304.04934 (official code: ``OPTML-Group/Unlearn-Sparse``,
``unlearn/Wfisher.py``); the Hessian is the WoodFisher estimate (Singh & Alistarh, NeurIPS 2020,
arXiv 2004.14340). With n = |D|, n_f = |D_f|, n_r = |D_r| and per-sample losses ℓ::

    v   = (1/n) Σ_{D_f} ∇ℓ  −  n_f / (n·n_r) · Σ_{D_r} ∇ℓ          (first-order effect of dropping D_f)
    H   = λ·I + (1/N) Σ_{i ≤ m} g_i g_iᵀ                         (damped empirical Fisher, retain samples)
    θ_u = θ_o + α · H⁻¹ v

g_i are per-sample retain gradients of the first m retain samples (dataset order, as the official batch-1
loader with ``shuffle=False``), N = 1000 and λ = 1 as in the code (its recursion starts from the identity).

The released recursion keeps a single vector ``o`` for H⁻¹g, initialised from the first gradient and
only ever rescaled, so its result is v plus a rank-one correction along g_0, not H⁻¹v. ``iu`` is the
released method: its default ``solver="official"`` reproduces that recursion, so tables that say "IU"
report what the paper ran. The corrected solver, ``solver="woodbury"``, computes the intended H⁻¹v
exactly in sample space, H⁻¹v = (v − Gᵀ(NλI + GGᵀ)⁻¹Gv)/λ with G the (m, p) gradient matrix; it is
registered as its own method, ``iu_woodfisher`` (``approx/iu_woodfisher.py``).

Needs: forget and retain. Cost: one gradient pass over D_f and D_r plus m per-sample gradients (memory
m × #parameters) and an m × m solve; one parameter update, no training. Failure modes: α too large
collapses the model (one big step along v); the linear approximation is poor far from θ_o.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import (
    MethodConfig,
    StepCounter,
    batches,
    build_result,
    clone_model,
    flat_params,
    per_sample_grads,
    require,
    set_flat_params,
    stopwatch,
)
from unlearnkit.data import IdDataset
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext

SOLVERS = ("woodbury", "official")


@dataclass(frozen=True)
class IUConfig(MethodConfig):
    """IU hyper-parameters; defaults from ``Wfisher.py`` (N, m, λ) and SalUn-protocol CIFAR-10 scripts (α)."""

    alpha: float = field(default=10.0, metadata={"help": "α: step along H⁻¹v (> 0; tuned; 10 on CIFAR-10)"})
    fisher_samples: int = field(
        default=1000, metadata={"help": "m: retain samples whose per-sample gradients build H (>= 1)"}
    )
    fisher_norm: float = field(default=1000.0, metadata={"help": "N in H = λI + (1/N)Σ g gᵀ (> 0; code: 1000)"})
    damping: float = field(default=1.0, metadata={"help": "λ: weight of the identity in H (> 0; code: 1)"})
    solver: str = field(
        default="official",
        metadata={"help": "official (the released rank-one recursion) | woodbury (exact H⁻¹v: iu_woodfisher)"},
    )
    batch_size: int = field(default=256, metadata={"help": "minibatch size of the gradient passes (>= 1)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.alpha > 0, f"alpha must be > 0, got {self.alpha}")
        require(self.fisher_samples >= 1, f"fisher_samples must be >= 1, got {self.fisher_samples}")
        require(self.fisher_norm > 0, f"fisher_norm must be > 0, got {self.fisher_norm}")
        require(self.damping > 0, f"damping must be > 0, got {self.damping}")
        require(self.solver in SOLVERS, f"solver must be one of {SOLVERS}, got {self.solver!r}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")


def _loss_grad_sum(model: nn.Module, data: IdDataset, batch_size: int) -> torch.Tensor:
    """Σ_i ∇ℓ_i over ``data`` (cross-entropy, eval mode) as one flat vector in ``parameters()`` order."""
    params = list(model.parameters())
    total = [torch.zeros_like(p) for p in params]
    for x, y, _ in batches(data, batch_size, None, shuffle=False):
        grads = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), params, allow_unused=True)
        for acc, g in zip(total, grads, strict=True):
            if g is not None:
                acc += g
    return torch.cat([t.reshape(-1) for t in total])


def woodfisher_ihvp(g: torch.Tensor, v: torch.Tensor, *, norm: float, damping: float) -> torch.Tensor:
    """(λI + (1/N) GᵀG)⁻¹ v for G = ``g`` of shape (m, p), by the Woodbury identity.

    H⁻¹v = (v − Gᵀ(NλI + GGᵀ)⁻¹Gv)/λ: an m × m solve instead of a p × p one. The Gram matrix is formed in
    the input precision (its diagonal is shifted by Nλ, so it is well conditioned) and solved in float64.
    """
    gram = (g @ g.T).double()
    gram.diagonal().add_(norm * damping)
    coef = torch.linalg.solve(gram, (g @ v).double()).to(g.dtype)
    return (v - g.T @ coef) / damping


def woodfisher_official(g: torch.Tensor, v: torch.Tensor, *, norm: float) -> torch.Tensor:
    """The released ``woodfisher`` recursion (H_0 = I; one running vector; see the module docstring)."""
    k = v.clone()
    o: torch.Tensor | None = None
    for row in g:
        if o is None:
            o = row.clone()
            continue
        tmp = torch.dot(o, row)
        k -= (torch.dot(k, row) / (norm + tmp)) * o
        o -= (tmp / (norm + tmp)) * o
    return k


@register_method(
    "iu",
    task="classification",
    needs=("forget", "retain"),
    paper="Jia et al., Model Sparsity Can Simplify Machine Unlearning (IU/WoodFisher), NeurIPS 2023 (arXiv 2304.04934)",
)
class IU(Unlearner):
    """One influence step θ ← θ + α·H⁻¹v with a damped WoodFisher Hessian of the retain loss."""

    config_cls = IUConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"alpha": [2.0, 5.0, 10.0, 20.0]}
    # Digits scale: α = 5-10 forgets a class (UA >= 97) with RA 77-100 on ResMLPs, depending on the class
    # and model; 20 collapses some classes, 50 all (notes §6.1 saw the same with α = 100 on a wider MLP).
    search_grid: ClassVar[dict[str, list]] = {
        "alpha": [2.0, 5.0, 10.0, 20.0],
    }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: IUConfig = self.config
        counter = StepCounter(cfg.max_steps)
        metadata: dict = {"solver": cfg.solver}
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            n_f, n_r = len(split.forget), len(split.retain)
            if n_f and n_r and counter.step():
                n = n_f + n_r
                forget_sum = _loss_grad_sum(out, split.forget, cfg.batch_size)
                retain_sum = _loss_grad_sum(out, split.retain, cfg.batch_size)
                v = forget_sum / n - retain_sum * (n_f / (n * n_r))
                hess_data = split.retain.take(torch.arange(min(cfg.fisher_samples, n_r)))
                g = per_sample_grads(out, hess_data)
                if cfg.solver == "woodbury":
                    step = woodfisher_ihvp(g, v, norm=cfg.fisher_norm, damping=cfg.damping)
                else:
                    step = woodfisher_official(g, v, norm=cfg.fisher_norm)
                set_flat_params(out, flat_params(out) + cfg.alpha * step)
                metadata.update(
                    fisher_samples=len(hess_data),
                    v_norm=float(v.norm()),
                    step_norm=float(cfg.alpha * step.norm()),
                )
        return build_result(self, out, seconds=clock[0], steps=counter.steps, history=[], metadata=metadata)
