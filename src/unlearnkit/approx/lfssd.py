"""Loss-Free (label-free) Selective Synaptic Dampening (LFSSD).

Foster, Schoepf, Brintrup, "Loss-Free Machine Unlearning", ICLR 2024 Tiny Paper, arXiv 2402.19308
(implemented as the README of ``if-loops/selective-synaptic-dampening`` describes).

SSD (:mod:`unlearnkit.approx.ssd`) with a label-free importance: the loss becomes the squared ℓ2 norm of
the model output, averaged over the batch, and the importance accumulates the *absolute* gradient::

    I[i] = mean over batches | ∂/∂θ_i  mean_x ‖f_θ(x)‖²₂ |

(the sensitivity of the output norm, a first-order l2-norm "Lipschitz" proxy of the Fisher). Selection and
dampening are SSD's: select I_f[i] > α·I_D[i], then θ_i ← min(λ·I_D[i]/I_f[i], 1)·θ_i. No label is read
anywhere, so the method applies to unlabelled forget requests.

Needs: forget and retain inputs (no labels). Cost: two gradient passes, no optimizer steps. Failure modes
as SSD: the ratio I_f/I_D and so the working α depend on batch size, order and forget fraction; a too
large α is a (reported) no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from unlearnkit.approx._common import require
from unlearnkit.approx.ssd import SSD, SSDConfig
from unlearnkit.registry import register_method


@dataclass(frozen=True)
class LFSSDConfig(SSDConfig):
    """LFSSD hyper-parameters: SSD's fields and defaults (α = 10, λ = 1, batch 64), as the README prescribes.

    The batch order defaults to ``sequential`` (retain then forget, unshuffled): SSD's ``grouped`` order
    sorts by label, which a label-free method may not read.
    """

    order: str = field(
        default="sequential",
        metadata={"help": "batches: sequential (unshuffled, retain then forget) | shuffled; never grouped by label"},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.order not in ("grouped", "auto"), f"lfssd is label-free: order={self.order!r} would sort by label")


@register_method(
    "lfssd",
    task="classification",
    needs=("forget", "retain"),
    paper="Foster et al., Loss-Free Machine Unlearning, ICLR 2024 Tiny Paper (arXiv 2402.19308)",
)
class LFSSD(SSD):
    """SSD whose importance is the absolute gradient of the squared output norm (no labels)."""

    config_cls = LFSSDConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"selection_weighting": [10.0, 5.0, 2.0], "dampening_constant": [1.0, 0.5]}
    search_grid: ClassVar[dict[str, list]] = {
        "selection_weighting": [2.0, 5.0, 10.0],
        "dampening_constant": [0.5, 1.0],
    }
    power: ClassVar[float] = 1.0

    def importance_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean squared ℓ2 norm of the outputs; ``y`` is ignored (label-free)."""
        return logits.pow(2).sum(dim=1).mean()
