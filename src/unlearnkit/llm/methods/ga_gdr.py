"""GA_GDR: gradient ascent on D_f plus gradient descent on the retain set (MUSE, arXiv 2407.06460, §4).

Loss minimised: −E_{D_f} ℓ(x; θ) + α·E_{D_r} ℓ(x; θ) with D_r = retain1 (MUSE ``loss_type="ga_gdr"``;
OpenUnlearning ``GradDiff`` with ``retain_loss_type: NLL``, α = γ = 1).

Known failure: the retain term keeps retain1 fluent while the forget term keeps pushing, so run long it
*over*-unlearns: the forget set becomes less likely than never-seen text (MUSE News PrivLeak +108).
"""

from __future__ import annotations

from typing import ClassVar

from unlearnkit.llm.methods.base import RegularizedConfig
from unlearnkit.llm.methods.ga import GA
from unlearnkit.registry import register_method


@register_method(
    "llm_ga_gdr",
    task="llm",
    family="llm",
    needs=("forget", "retain"),
    paper="MUSE GA_GDR baseline (Shi et al., arXiv 2407.06460)",
)
class GA_GDR(GA):
    """GA plus NLL on retain1."""

    config_cls = RegularizedConfig
    display = "GA_GDR"
    retain_term = "nll"
    toy: ClassVar[dict] = {"lr": 2e-4, "batch_size": 16, "epochs": 40}
