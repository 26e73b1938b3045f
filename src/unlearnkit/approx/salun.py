"""SalUn: saliency-masked random-label unlearning, and its soft (proximal) variant.

Fan, Liu, Zhang, Wei, Wong, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency
in Both Image Classification and Generation", ICLR 2024, arXiv 2310.12508 (official code:
``OPTML-Group/Unlearn-Saliency``, ``Classification/generate_mask.py``, ``unlearn/RL.py``, ``unlearn/RL_pro.py``).

``salun`` (paper Eqs. 5-6). Weight saliency at θ_o: g = Σ_batches ∇_θ(−CE(θ_o; D_f batch)); the mask
m_s = 1 for the top ``mask_ratio`` fraction of |g| ranked globally over all entries. Then random labelling
restricted to the mask::

    θ_u = m_s ⊙ (θ_o + Δθ) + (1 − m_s) ⊙ θ_o,   Δθ from min E_{D_f} CE(θ; x, y′) + α·E_{D_r} CE(θ; x, y)

As in the CIFAR-10 code, each epoch is *sequential*: one pass over D_f with labels drawn uniformly from all
classes, then one pass over D_r with true labels (α = 1, maintainers in issue #21); SGD with momentum and
weight decay; gradients multiplied by the mask and, since PR #33, masked-out entries reset to θ_o and
their momentum zeroed after every step, so they stay bitwise equal to θ_o.

``salun_soft`` (``RL_proximal``): no mask. D_f (random labels) and D_r are shuffled together; after every
step the displacement Δ = θ − θ_anchor is soft-thresholded so that the ``k`` smallest |Δ| return to the
anchor and the rest shrink by the k-th smallest |Δ|, with k = ⌊mask_ratio·(1 − t/T)·n⌋ decaying linearly.
As released, the anchor is the start-of-epoch weights and t advances once per epoch; with a moving anchor
and k shrinking to ≈ mask_ratio·n/T in the last epoch, most entries end up changed from θ_o (92-96% on
digits at mask_ratio 0.5), not about ``mask_ratio`` of them.

Deviation: ``generate_mask.py`` takes an SGD step after each forget batch while summing gradients, so its
saliency is not taken at θ_o; here it is (the paper's definition, ∇ℓ_f(θ_o)).

Needs: forget and retain. Cost: one gradient pass for the mask plus T epochs over D_f ∪ D_r (RL-like).
Failure modes: the random-label loss over-forgets (MIA on D_f can overshoot Retrain); mask_ratio trades
forgetting against retained accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import (
    SGDConfig,
    StepCounter,
    batches,
    build_result,
    ce_loss,
    clone_model,
    flat_params,
    random_labels,
    random_other_labels,
    require,
    set_flat_params,
    stopwatch,
    train_loop,
)
from unlearnkit.data import IdDataset, concat
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext

LABEL_MODES = ("all", "other")


@dataclass(frozen=True)
class _RandomLabelConfig(SGDConfig):
    """Fields shared by SalUn and SalUn-soft; defaults from the Unlearn-Saliency README and arg_parser (10
    epochs, lr 0.013, batch 256, SGD momentum 0.9, weight decay 5e-4)."""

    lr: float = field(default=0.013, metadata={"help": "SGD learning rate (> 0)"})
    mask_ratio: float = field(default=0.5, metadata={"help": "fraction of entries in the saliency mask (0, 1]"})
    label_mode: str = field(
        default="all", metadata={"help": "random forget labels from all classes (official) | other (never the true)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 < self.mask_ratio <= 1, f"mask_ratio must lie in (0, 1], got {self.mask_ratio}")
        require(self.label_mode in LABEL_MODES, f"label_mode must be one of {LABEL_MODES}, got {self.label_mode!r}")


@dataclass(frozen=True)
class SalUnConfig(_RandomLabelConfig):
    """SalUn hyper-parameters (README: RL, 10 epochs, lr 0.013, mask 0.5; SGD momentum 0.9, wd 5e-4)."""

    retain_weight: float = field(
        default=1.0, metadata={"help": "α: weight of the retain loss (1 per the maintainers, issue #21; >= 0)"}
    )
    mask_batch_size: int = field(default=256, metadata={"help": "minibatch size of the saliency pass (>= 1)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.retain_weight >= 0, f"retain_weight must be >= 0, got {self.retain_weight}")
        require(self.mask_batch_size >= 1, f"mask_batch_size must be >= 1, got {self.mask_batch_size}")


def saliency_mask(model: nn.Module, forget: IdDataset, mask_ratio: float, batch_size: int) -> dict[str, torch.Tensor]:
    """SalUn's hard mask: 1 for the top ``mask_ratio`` of |Σ_batches ∇(−CE)| at the current weights.

    Ranked globally over every entry of every parameter; exactly ⌊mask_ratio·n⌋ ones (ties broken by a
    stable sort, so the mask is deterministic). The model's weights and gradients are left untouched.
    """
    params = dict(model.named_parameters())
    grads = {n: torch.zeros_like(p) for n, p in params.items()}
    saved = {n: p.grad for n, p in params.items()}
    was = model.training
    model.eval()
    try:
        for x, y, _ in batches(forget, batch_size, None, shuffle=False):
            model.zero_grad(set_to_none=True)
            (-F.cross_entropy(model(x), y)).backward()
            for n, p in params.items():
                if p.grad is not None:
                    grads[n] += p.grad
    finally:
        for n, p in params.items():
            p.grad = saved[n]
        model.train(was)
    flat = torch.cat([g.abs().reshape(-1) for g in grads.values()])
    keep = int(flat.numel() * mask_ratio)
    chosen = torch.zeros(flat.numel(), dtype=torch.bool)
    chosen[torch.sort(flat, descending=True, stable=True).indices[:keep]] = True
    masks, start = {}, 0
    for n, p in params.items():
        masks[n] = chosen[start : start + p.numel()].view_as(p).to(p.dtype)
        start += p.numel()
    return masks


def _forget_labels(cfg: _RandomLabelConfig, forget: IdDataset, generator: torch.Generator) -> IdDataset:
    pick = random_labels if cfg.label_mode == "all" else random_other_labels
    return forget.with_labels(pick(forget.y, forget.num_classes, generator))


@register_method(
    "salun",
    task="classification",
    needs=("forget", "retain"),
    paper="Fan et al., SalUn: Gradient-based Weight Saliency, ICLR 2024 (arXiv 2310.12508)",
)
class SalUn(Unlearner):
    """Random labelling restricted to the weights most salient for the forget loss; the rest stay bitwise."""

    config_cls = SalUnConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"mask_ratio": [0.3, 0.5, 0.7], "lr": [0.005, 0.013]}
    # Digits scale: 10 epochs at lr 0.005-0.013 forget a class fully (UA 100) with RA 91-98 on a ResMLP.
    search_grid: ClassVar[dict[str, list]] = {
        "mask_ratio": [0.3, 0.5, 0.7],
        "lr": [0.005, 0.013],
    }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: SalUnConfig = self.config
        counter = StepCounter(cfg.max_steps)
        history: list[dict[str, Any]] = []
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            masks = saliency_mask(out, split.forget, cfg.mask_ratio, cfg.mask_batch_size)
            theta0 = {n: p.detach().clone() for n, p in out.named_parameters()}
            keep = {n: m.bool() for n, m in masks.items()}
            opt = cfg.optimizer_for(out.parameters())
            params = dict(out.named_parameters())

            @torch.no_grad()
            def pin(model: nn.Module, step: int) -> None:
                # PR #33: masked-out entries back to θ_o (torch.where: bitwise, even for -0.0) and no momentum.
                for n, p in params.items():
                    p.copy_(torch.where(keep[n], p, theta0[n]))
                    buf = opt.state.get(p, {}).get("momentum_buffer")
                    if buf is not None:
                        buf.mul_(masks[n])

            def retain_loss(m: nn.Module, x: torch.Tensor, y: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
                return cfg.retain_weight * F.cross_entropy(m(x), y)

            label_gen = ctx.generator(self.name, "labels")
            batch_gen = ctx.generator(self.name, "batches")
            for epoch in ctx.track(range(cfg.epochs), f"{self.name} epochs"):
                if counter.exhausted:
                    break
                relabelled = _forget_labels(cfg, split.forget, label_gen)
                for part, data, loss_fn in (("forget", relabelled, ce_loss), ("retain", split.retain, retain_loss)):
                    rows = train_loop(
                        out,
                        data,
                        epochs=1,
                        batch_size=cfg.batch_size,
                        optimizer=opt,
                        loss_fn=loss_fn,
                        generator=batch_gen,
                        counter=counter,
                        params_mask=masks,
                        after_step=pin,
                    )
                    history += [{**row, "epoch": epoch, "part": part} for row in rows]
            changed = sum(int((p.detach() != theta0[n]).sum()) for n, p in out.named_parameters())
        total = sum(p.numel() for p in out.parameters())
        metadata = {
            "mask_ratio": cfg.mask_ratio,
            "mask_size": int(sum(int(m.sum()) for m in masks.values())),
            "changed_fraction": changed / max(total, 1),
        }
        return build_result(self, out, seconds=clock[0], steps=counter.steps, history=history, metadata=metadata)


@dataclass(frozen=True)
class SalUnSoftConfig(_RandomLabelConfig):
    """SalUn-soft (``RL_proximal``) hyper-parameters: ``mask_ratio`` is the initial fraction of reset entries."""


@register_method(
    "salun_soft",
    task="classification",
    needs=("forget", "retain"),
    paper="Fan et al., SalUn (soft-thresholding variant), ICLR 2024 (arXiv 2310.12508)",
)
class SalUnSoft(Unlearner):
    """Random labelling with a proximal soft threshold on the displacement from the epoch's start."""

    config_cls = SalUnSoftConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"mask_ratio": [0.3, 0.5, 0.7], "lr": [0.005, 0.013]}
    search_grid: ClassVar[dict[str, list]] = {
        "mask_ratio": [0.3, 0.5, 0.7],
        "lr": [0.005, 0.013],
    }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: SalUnSoftConfig = self.config
        counter = StepCounter(cfg.max_steps)
        history: list[dict[str, Any]] = []
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            theta_o = flat_params(out)
            n_params = theta_o.numel()
            opt = cfg.optimizer_for(out.parameters())
            label_gen = ctx.generator(self.name, "labels")
            batch_gen = ctx.generator(self.name, "batches")
            steps_per_epoch = math.ceil((len(split.forget) + len(split.retain)) / cfg.batch_size)
            total_steps = max(cfg.epochs * steps_per_epoch, 1)
            for epoch in ctx.track(range(cfg.epochs), f"{self.name} epochs"):
                if counter.exhausted:
                    break
                anchor = flat_params(out)
                # As released: the reset count decays once per epoch (``epoch * steps + 1``).
                k = int(cfg.mask_ratio * (total_steps - (epoch * steps_per_epoch + 1)) / total_steps * n_params)

                @torch.no_grad()
                def prox(model: nn.Module, step: int, anchor: torch.Tensor = anchor, k: int = k) -> None:
                    _soft_threshold(model, anchor, k)

                mixed = concat([_forget_labels(cfg, split.forget, label_gen), split.retain])
                rows = train_loop(
                    out,
                    mixed,
                    epochs=1,
                    batch_size=cfg.batch_size,
                    optimizer=opt,
                    loss_fn=ce_loss,
                    generator=batch_gen,
                    counter=counter,
                    after_step=prox,
                )
                history += [{**row, "epoch": epoch, "reset_count": k} for row in rows]
            changed = int((flat_params(out) != theta_o).sum())
        metadata = {"mask_ratio": cfg.mask_ratio, "changed_fraction": changed / max(n_params, 1)}
        return build_result(self, out, seconds=clock[0], steps=counter.steps, history=history, metadata=metadata)


@torch.no_grad()
def _soft_threshold(model: nn.Module, anchor: torch.Tensor, k: int) -> None:
    """Reset the ``k`` smallest |θ − anchor| entries to the anchor; shrink the others by the k-th smallest."""
    flat = flat_params(model)
    diff = flat - anchor
    if k <= 0:
        return
    k = min(k, diff.numel())
    tau = torch.kthvalue(diff.abs(), k).values
    set_flat_params(model, torch.where(diff > tau, flat - tau, torch.where(diff < -tau, flat + tau, anchor)))
