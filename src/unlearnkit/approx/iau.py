"""IAU: unlearning by influence approximation — one incremental step, no Hessian.

Liu, Wu, Lian, Chen, "Efficient Machine Unlearning via Influence Approximation", arXiv 2507.23257
(official code: ``Lolo1222/IAU``, ``IAU_unlearn.py`` and ``train_model.py``).

Removing z⁻ has the same first-order influence as *adding* a point whose gradient is −∇ℓ(z⁻), so deletion
becomes one incremental-learning step: gradient ascent on D_f (incremental approximation) plus a descent
term on D_r (gradient correction). As the code does, the two full-batch mean losses are backpropagated into
the same gradient and a single Adam step is taken from θ_o::

    θ_u = θ_o − Adam_step_lr( ∇L̄(D_r) − ∇L̄(D_f) )

(the first Adam step moves each coordinate by about lr·sign(g)). Gradient restriction (GR) belongs to
*training*: ℓ_GR(z, θ) = ℓ(z, θ) + α_GR · Σ_tensors ‖∇_θ ℓ(z, θ)‖₂ (double backward) keeps gradients small
so that later deletions stay first-order. :func:`train_gradient_restricted` trains such a model;
``gr_epochs > 0`` instead fine-tunes the given model with the GR loss on D_r ∪ D_f right before the step
(a stand-in when the original was not GR-trained; its steps count toward ``max_steps``, which always
keeps one step for the unlearning update).

Needs: forget and retain. Cost: one gradient pass over D_r and D_f and one update (≈ 1 D_r pass).
Failure modes: the step size is the only knob — too small forgets partly, too large costs utility.

GR's claimed benefit (lower utility loss at equal lr) did not reproduce on digits-scale ResMLPs: at the
default α_GR = 0.005 retain accuracy after the same step moved by < 3 points (2 seeds × 2 classes; see
``tests/approx/test_iau.py``); α_GR = 0.05 raised it by 1-12 points at lr 1e-2 but forgot less at smaller
lr (a shift along the trade-off, not past it) and *raised* mean per-sample gradient norms; α_GR = 0.5
prevented training. GR is offered, not claimed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import (
    MethodConfig,
    StepCounter,
    batches,
    build_result,
    clone_model,
    make_optimizer,
    require,
    stopwatch,
    train_loop,
)
from unlearnkit.data import IdDataset, concat
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext


@dataclass(frozen=True)
class IAUConfig(MethodConfig):
    """IAU hyper-parameters; defaults from ``utility/parser.py`` of the official code."""

    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate of the single unlearning step (> 0)"})
    batch_size: int = field(
        default=1024, metadata={"help": "chunk size of the full-batch gradient passes (memory only; >= 1)"}
    )
    gr_epochs: int = field(
        default=0, metadata={"help": "epochs of GR fine-tuning on D_r ∪ D_f before the step (0: none, as the code)"}
    )
    gr_alpha: float = field(default=0.005, metadata={"help": "α_GR: weight of Σ‖∇ℓ‖₂ in the GR loss (>= 0)"})
    gr_lr: float = field(default=1e-3, metadata={"help": "Adam learning rate of GR fine-tuning (> 0)"})
    gr_batch_size: int = field(default=64, metadata={"help": "minibatch size of GR fine-tuning (>= 1)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.gr_epochs >= 0, f"gr_epochs must be >= 0, got {self.gr_epochs}")
        require(self.gr_alpha >= 0, f"gr_alpha must be >= 0, got {self.gr_alpha}")
        require(self.gr_lr > 0, f"gr_lr must be > 0, got {self.gr_lr}")
        require(self.gr_batch_size >= 1, f"gr_batch_size must be >= 1, got {self.gr_batch_size}")


def gradient_restricted_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    """ℓ + α·Σ_tensors ‖∇_θ ℓ‖₂ with ℓ the batch-mean cross-entropy (``train_model.py``, model_fix_flag=1)."""
    loss = F.cross_entropy(model(x), y)
    if not alpha:
        return loss
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, create_graph=True)
    return loss + alpha * sum(g.norm() for g in grads)


def train_gradient_restricted(
    model: nn.Module,
    data: IdDataset,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    alpha: float = 0.005,
    generator: torch.Generator,
    max_steps: int | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` in place with Adam on the GR loss (IAU's training-time gradient restriction)."""
    opt = make_optimizer("adam", model.parameters(), lr)
    return train_loop(
        model,
        data,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=opt,
        loss_fn=lambda m, x, y, pos: gradient_restricted_loss(m, x, y, alpha),
        generator=generator,
        counter=StepCounter(max_steps),
    )


def _accumulate_mean_loss_grad(model: nn.Module, data: IdDataset, sign: float, chunk: int) -> None:
    """Add ``sign · ∇ mean CE(data)`` into ``.grad`` (full batch, computed in chunks)."""
    n = len(data)
    for x, y, _ in batches(data, chunk, None, shuffle=False):
        (sign * F.cross_entropy(model(x), y, reduction="sum") / n).backward()


@register_method(
    "iau",
    task="classification",
    needs=("forget", "retain"),
    paper="Liu et al., Efficient Machine Unlearning via Influence Approximation (arXiv 2507.23257)",
)
class IAU(Unlearner):
    """One Adam step on ∇L̄(D_r) − ∇L̄(D_f) from the original (optionally GR-tuned) model."""

    config_cls = IAUConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"lr": [1e-3, 3e-3, 5e-3, 1e-2]}
    # Digits scale: the official 1e-3 barely forgets (UA 4-23); 3e-3 to 7e-3 forgets a class (UA 93-100)
    # at a 2-25 point RA cost, depending on the model; 1e-2 costs 12-70 points (as notes §6.1 saw).
    search_grid: ClassVar[dict[str, list]] = {
        "lr": [1e-3, 3e-3, 5e-3, 7e-3, 1e-2],
    }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: IAUConfig = self.config
        # The optional GR phase leaves the last step of the budget to the unlearning step itself.
        gr_counter = StepCounter(None if cfg.max_steps is None else max(cfg.max_steps - 1, 0))
        history: list[dict[str, Any]] = []
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            if cfg.gr_epochs:
                history += [
                    {**row, "phase": "gradient_restriction"}
                    for row in train_loop(
                        out,
                        concat([split.retain, split.forget]),
                        epochs=cfg.gr_epochs,
                        batch_size=cfg.gr_batch_size,
                        optimizer=make_optimizer("adam", out.parameters(), cfg.gr_lr),
                        loss_fn=lambda m, x, y, pos: gradient_restricted_loss(m, x, y, cfg.gr_alpha),
                        generator=ctx.generator(self.name, "gr"),
                        counter=gr_counter,
                    )
                ]
            counter = StepCounter(None if cfg.max_steps is None else cfg.max_steps - gr_counter.steps)
            if len(split.forget) and counter.step():
                opt = make_optimizer("adam", out.parameters(), cfg.lr)
                opt.zero_grad(set_to_none=True)
                out.eval()
                if len(split.retain):
                    _accumulate_mean_loss_grad(out, split.retain, 1.0, cfg.batch_size)
                _accumulate_mean_loss_grad(out, split.forget, -1.0, cfg.batch_size)
                grad_norm = float(
                    torch.cat([p.grad.reshape(-1) for p in out.parameters() if p.grad is not None]).norm()
                )
                opt.step()
                history.append({"phase": "unlearn", "steps": gr_counter.steps + 1, "grad_norm": grad_norm})
        metadata = {"gr_epochs": cfg.gr_epochs, "retain_gradient_passes": 1}
        steps = gr_counter.steps + counter.steps
        return build_result(self, out, seconds=clock[0], steps=steps, history=history, metadata=metadata)
