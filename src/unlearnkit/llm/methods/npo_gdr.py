"""NPO_GDR: NPO on D_f plus gradient descent on retain1 (MUSE, arXiv 2407.06460, §4; NPO: arXiv 2404.05868).

Loss minimised: NPO(D_f) + α·E_{D_r} ℓ(x; θ) (OpenUnlearning's ``NPO`` with ``retain_loss_type: NLL``).
Known failure: like GA_GDR, over-unlearns when run long (MUSE News PrivLeak +106).
"""

from __future__ import annotations

from typing import ClassVar

from unlearnkit.llm.methods.npo import NPO, NPORegularizedConfig
from unlearnkit.registry import register_method


@register_method(
    "llm_npo_gdr",
    task="llm",
    family="llm",
    needs=("forget", "retain"),
    paper="MUSE NPO_GDR (Shi et al., arXiv 2407.06460)",
)
class NPO_GDR(NPO):
    """NPO plus NLL on retain1."""

    config_cls = NPORegularizedConfig
    display = "NPO_GDR"
    retain_term = "nll"
    toy: ClassVar[dict] = {"lr": 2e-4, "batch_size": 16, "epochs": 40}
