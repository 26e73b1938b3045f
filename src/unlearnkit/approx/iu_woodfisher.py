"""IU with the corrected WoodFisher solver: the exact damped-Fisher inverse-Hessian-vector product.

Influence unlearning of Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023,
arXiv 2304.04934, with the WoodFisher Hessian of Singh & Alistarh (NeurIPS 2020, arXiv 2004.14340). The
update is the one of :mod:`unlearnkit.approx.iu` (θ_u = θ_o + α·H⁻¹v, H = λI + (1/N)Σ g gᵀ); only the
solver differs: where the released recursion returns v plus a rank-one correction along the first retain
gradient, this variant solves H⁻¹v exactly by the Woodbury identity,

    H⁻¹v = (v − Gᵀ(NλI + GGᵀ)⁻¹Gv) / λ        (G: the (m, p) per-sample retain gradients)

Registered apart from ``iu`` so tables keep the released method under its name. Needs: forget and retain.
Cost: as IU plus an m × m solve. Failure modes: as IU (too large an α collapses the model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from unlearnkit.approx.iu import IU, IUConfig
from unlearnkit.registry import register_method


@dataclass(frozen=True)
class IUWoodFisherConfig(IUConfig):
    """IU's defaults (α = 10, m = 1000, N = 1000, λ = 1) with the exact Woodbury solver."""

    solver: str = field(
        default="woodbury", metadata={"help": "woodbury (exact H⁻¹v) | official (the released recursion)"}
    )


@register_method(
    "iu_woodfisher",
    task="classification",
    needs=("forget", "retain"),
    paper="Jia et al., IU with an exact WoodFisher solve, NeurIPS 2023 (arXiv 2304.04934; arXiv 2004.14340)",
)
class IUWoodFisher(IU):
    """IU whose H⁻¹v is solved exactly (the corrected WoodFisher solver)."""

    config_cls = IUWoodFisherConfig
    search_grid: ClassVar[dict[str, list]] = {"alpha": [2.0, 5.0, 10.0, 20.0]}
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"alpha": [2.0, 5.0, 10.0, 20.0]}
