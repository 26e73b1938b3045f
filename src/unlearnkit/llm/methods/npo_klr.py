"""NPO_KLR: NPO on D_f plus KL(target ‖ model) on retain1 (MUSE, arXiv 2407.06460, §4; NPO: arXiv 2404.05868).

Both terms on log-probabilities (the reference code's KL on raw logits is not copied). Known behaviour: keeps
the most utility of the trained baselines in MUSE but leaves PrivLeak strongly negative (News −96).
"""

from __future__ import annotations

from typing import ClassVar

from unlearnkit.llm.methods.npo import NPO, NPORegularizedConfig
from unlearnkit.registry import register_method


@register_method(
    "llm_npo_klr",
    task="llm",
    family="llm",
    needs=("forget", "retain"),
    paper="MUSE NPO_KLR (Shi et al., arXiv 2407.06460)",
)
class NPO_KLR(NPO):
    """NPO plus KL to the target on retain1."""

    config_cls = NPORegularizedConfig
    display = "NPO_KLR"
    retain_term = "kl"
    toy: ClassVar[dict] = {"lr": 2e-4, "batch_size": 16, "epochs": 40}
