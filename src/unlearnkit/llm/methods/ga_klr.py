"""GA_KLR: gradient ascent on D_f plus a KL regulariser to the target on retain (MUSE, arXiv 2407.06460, §4).

Loss minimised: −E_{D_f} ℓ(x; θ) + α·E_{D_r} KL(π_ref(·|x_<t) ‖ π_θ(·|x_<t)) per token, π_ref the frozen
target. Both distributions are ``log_softmax``-ed: MUSE's ``iterative.py`` passes raw logits to ``F.kl_div``
with ``log_target=True`` (a known bug; OpenUnlearning's ``compute_kl_divergence`` is the fix followed here).

Known failure: at MUSE's stop point the KL term keeps the model close to the target, so PrivLeak stays
strongly negative (News −96).
"""

from __future__ import annotations

from typing import ClassVar

from unlearnkit.llm.methods.base import RegularizedConfig
from unlearnkit.llm.methods.ga import GA
from unlearnkit.registry import register_method


@register_method(
    "llm_ga_klr",
    task="llm",
    family="llm",
    needs=("forget", "retain"),
    paper="MUSE GA_KLR baseline (Shi et al., arXiv 2407.06460)",
)
class GA_KLR(GA):
    """GA plus KL(target ‖ model) on retain1."""

    config_cls = RegularizedConfig
    display = "GA_KLR"
    retain_term = "kl"
    toy: ClassVar[dict] = {"lr": 2e-4, "batch_size": 16, "epochs": 40}
