"""Selective Synaptic Dampening (SSD).

Foster, Schoepf, Brintrup, "Fast Machine Unlearning Without Retraining Through Selective Synaptic
Dampening", AAAI 2024, arXiv 2308.07707 (official code: ``if-loops/selective-synaptic-dampening``).

Update rule (paper Eqs. 3-4, ``ssd.py::ParameterPerturber.modify_weight``), with importances ``I_D`` over
the whole training set D = D_r ∪ D_f and ``I_f`` over the forget set::

    select i   where  I_f[i] > α · I_D[i]
    θ_i  ←  β_i · θ_i,   β_i = min(λ · I_D[i] / I_f[i], 1)

No training loop: two importance passes (``I_D`` can be precomputed before any deletion) and one
elementwise dampening, so |θ_i| never grows and a parameter the forget set does not use (``I_f = 0``) is
never touched.

Importance. The official ``calc_importance`` does not build a per-sample Fisher: per minibatch it
backpropagates the *mean* cross-entropy and adds the squared batch gradient, then divides by the number of
batches (``importance="batch_mean_sq"``, the default here). Its loaders are unshuffled: ``full_train_dl``
is the retain set (grouped by class) followed by the forget set, so forget batches are pure and their
gradients add up coherently (``order="grouped"``) — in the full-class and sub-class scripts, whose data
sets are built class by class; the random-forgetting script (``forget_random_main.py``) splits with
``random_split`` and never groups (``order="sequential"``). The default ``order="auto"`` follows the script
of the split's scenario. The ratio ``I_f / I_D`` therefore depends on batch size,
order and forget fraction, and α = 10 was tuned for that estimator (with C balanced classes a full-class
forget gives ratios near C: on digits the largest was 8-30 by class, so α = 10 was a no-op for two of three
classes while α = 5 forgot all three with RA within 1-8 points). The per-sample empirical Fisher
(``importance="per_sample"``) bounds the ratio by about 1/f for a forget fraction f, so α ≥ 1/f selects
(almost) nothing: SSD then silently does nothing, which this implementation reports with a warning and in
``metadata["warnings"]``.

Needs: forget and retain (the retain set only for ``I_D``, never for a training pass). Cost: two
gradient passes, no optimizer steps. Failure modes: α too large is a no-op; α too small dampens shared
weights and collapses retain accuracy (on CIFAR-10 third parties saw 12-18% retain accuracy for some
classes at α = 10); defaults do not transfer across model sizes (the paper rescales α per architecture).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import (
    MethodConfig,
    StepCounter,
    build_result,
    clone_model,
    fisher_diagonal,
    require,
    stopwatch,
)
from unlearnkit.data import IdDataset
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext

log = logging.getLogger(__name__)

IMPORTANCES = ("batch_mean_sq", "per_sample")
ORDERS = ("auto", "grouped", "sequential", "shuffled")
#: scenarios whose official script builds grouped loaders (``forget_full_class_main.py``, ``forget_subclass_main.py``
#: iterate the classes); ``forget_random_main.py`` uses ``random_split`` and no grouping.
GROUPED_SCENARIOS = ("class", "subclass")


@dataclass(frozen=True)
class SSDConfig(MethodConfig):
    """SSD hyper-parameters; defaults from ``forget_*_main.py`` (ResNet18, full-class)."""

    selection_weighting: float = field(
        default=10.0, metadata={"help": "α: select parameter i when I_f[i] > α·I_D[i] (> 0; paper: 10 × size scaler)"}
    )
    dampening_constant: float = field(
        default=1.0, metadata={"help": "λ: β = min(λ·I_D/I_f, 1) (> 0; 1 everywhere in the paper)"}
    )
    batch_size: int = field(
        default=64, metadata={"help": "minibatch size of the importance passes (64 full-class, 128 random)"}
    )
    importance: str = field(
        default="batch_mean_sq",
        metadata={"help": "batch_mean_sq (official: mean over batches of squared batch gradient) | per_sample"},
    )
    order: str = field(
        default="auto",
        metadata={
            "help": "batches: auto (as the official script of the scenario: grouped for class/subclass, else "
            "sequential) | grouped (unshuffled, by label, retain then forget) | sequential (unshuffled, retain "
            "then forget, no label read) | shuffled"
        },
    )
    warn_fraction: float = field(
        default=1e-3,
        metadata={"help": "warn when fewer than this fraction of parameters is selected ([0, 1); 0 disables)"},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.selection_weighting > 0, f"selection_weighting must be > 0, got {self.selection_weighting}")
        require(self.dampening_constant > 0, f"dampening_constant must be > 0, got {self.dampening_constant}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.importance in IMPORTANCES, f"importance must be one of {IMPORTANCES}, got {self.importance!r}")
        require(self.order in ORDERS, f"order must be one of {ORDERS}, got {self.order!r}")
        require(0 <= self.warn_fraction < 1, f"warn_fraction must be in [0, 1), got {self.warn_fraction}")


def _in_row_order(parts: list[IdDataset], grouped: bool) -> IdDataset:
    """``parts`` back to back as one dataset whose id order is the batch order.

    Datasets are kept sorted by id, so the batch order of the official loaders (each part grouped by label,
    parts in sequence) is expressed by re-numbering the rows; ids play no role in an importance pass.
    """
    xs, ys = [], []
    for part in parts:
        order = torch.argsort(part.y, stable=True) if grouped else torch.arange(len(part))
        xs.append(part.x[order])
        ys.append(part.y[order])
    return IdDataset.create(torch.cat(xs), torch.cat(ys), num_classes=parts[0].num_classes, name="ssd-importance")


@torch.no_grad()
def dampen(
    model: nn.Module,
    imp_full: dict[str, torch.Tensor],
    imp_forget: dict[str, torch.Tensor],
    *,
    alpha: float,
    lam: float,
) -> dict[str, Any]:
    """Apply SSD's selection and dampening to ``model`` in place; returns selection statistics.

    Only entries with ``imp_forget > alpha * imp_full`` change, each multiplied by
    ``min(lam * imp_full / imp_forget, 1)``, so no magnitude ever grows.
    """
    selected, total, max_ratio = 0, 0, 0.0
    per_param: dict[str, int] = {}
    for name, p in model.named_parameters():
        i_d, i_f = imp_full[name], imp_forget[name]
        total += p.numel()
        used = (i_f > 0) & (i_d > 0)
        if used.any():
            max_ratio = max(max_ratio, float((i_f[used] / i_d[used]).max()))
        where = i_f > alpha * i_d
        count = int(where.sum())
        per_param[name] = count
        if count:
            selected += count
            beta = (lam * i_d[where] / i_f[where]).clamp(max=1.0)
            p[where] = p[where] * beta
    return {
        "selected": selected,
        "total": total,
        "selected_fraction": selected / max(total, 1),
        "max_ratio": max_ratio,
        "selected_per_param": per_param,
    }


@register_method(
    "ssd",
    task="classification",
    needs=("forget", "retain"),
    paper="Foster et al., Selective Synaptic Dampening, AAAI 2024 (arXiv 2308.07707)",
)
class SSD(Unlearner):
    """Selective Synaptic Dampening: shrink the parameters far more important to D_f than to D."""

    config_cls = SSDConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"selection_weighting": [10.0, 5.0, 2.0], "dampening_constant": [1.0, 0.5]}
    # α rescaled for small models on digits (notes §6.1: α = 10 is a no-op there, 5 works, 3 costs RA).
    search_grid: ClassVar[dict[str, list]] = {
        "selection_weighting": [2.0, 5.0, 10.0],
        "dampening_constant": [0.5, 1.0],
    }
    #: exponent of |gradient| accumulated into the importance (2: squared gradient, SSD).
    power: ClassVar[float] = 2.0

    def importance_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss whose gradient measures importance (SSD: cross-entropy with the true label)."""
        return F.cross_entropy(logits, y)

    def importance(self, model: nn.Module, data: IdDataset, ctx: RunContext, part: str) -> dict[str, torch.Tensor]:
        """The configured importance of every parameter on ``data`` (in batch order; model not modified)."""
        cfg = self.config
        return fisher_diagonal(
            model,
            data,
            batch_size=cfg.batch_size,
            mode=cfg.importance,
            generator=ctx.generator(self.name, "importance", part) if cfg.order == "shuffled" else None,
            loss_fn=self.importance_loss,
            power=self.power,
        )

    def resolved_order(self, split: ForgetSplit) -> str:
        """The batch order used on ``split``: ``auto`` becomes grouped for class/subclass, else sequential."""
        if self.config.order != "auto":
            return self.config.order
        return "grouped" if split.scenario in GROUPED_SCENARIOS else "sequential"

    def importances(
        self, model: nn.Module, split: ForgetSplit, ctx: RunContext
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """``(I_D, I_f)``: importances over D = D_r ∪ D_f (not D_r, as the official ``full_train_dl``; it can
        be precomputed before any deletion) and over D_f, in the configured batch order."""
        grouped = self.resolved_order(split) == "grouped"
        full = _in_row_order([p for p in (split.retain, split.forget) if len(p)], grouped)
        imp_full = self.importance(model, full, ctx, "full")
        imp_forget = self.importance(model, _in_row_order([split.forget], grouped), ctx, "forget")
        return imp_full, imp_forget

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: SSDConfig = self.config
        counter = StepCounter(cfg.max_steps)
        stats: dict[str, Any] = {"selected": 0, "total": 0, "selected_fraction": 0.0}
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            if len(split.forget) and counter.step():
                imp_full, imp_forget = self.importances(out, split, ctx)
                stats = dampen(out, imp_full, imp_forget, alpha=cfg.selection_weighting, lam=cfg.dampening_constant)
        warnings: list[str] = []
        if counter.steps and stats["selected_fraction"] < cfg.warn_fraction:
            f = len(split.forget) / (len(split.forget) + len(split.retain))
            msg = (
                f"{self.name}: selection_weighting={cfg.selection_weighting:g} selected {stats['selected']} of "
                f"{stats['total']} parameters ({stats['selected_fraction']:.1e} < warn_fraction "
                f"{cfg.warn_fraction:g}), so the model is (almost) unchanged. The largest ratio I_f/I_D is "
                f"{stats['max_ratio']:.3g}; the forget fraction is {f:.3f} (a per-sample Fisher bounds the ratio "
                f"near 1/f = {1 / f:.3g}). Choose selection_weighting below the ratios of the parameters to dampen."
            )
            log.warning(msg)
            warnings.append(msg)
        metadata = {
            "importance": cfg.importance,
            "order": self.resolved_order(split),
            "forget_size": len(split.forget),
            "full_size": len(split.forget) + len(split.retain),
            "retain_training_passes": 0,
            "warnings": warnings,
            **stats,
        }
        return build_result(self, out, seconds=clock[0], steps=counter.steps, history=[], metadata=metadata)
