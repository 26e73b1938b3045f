"""Capability-degradation scores: Jensen–Shannon divergence between a reference model and a damaged one.

PASER (He et al., arXiv 2502.12594, §3.2 "CDAIS") scores a sample by JSD(M_o(x) ‖ M_p(x)) and a cluster by the
mean over its members (CDS). Two changes for unlearning, both from the project's notes:

- language models: the JSD is averaged over the *response* tokens under teacher forcing (the paper's
  ``JSD_avg``); the official code sums over the instruction's positions instead, so longer instructions score
  higher;
- classifiers after class forgetting: both distributions are restricted to the retained classes and
  renormalised, so "no longer predicts the forgotten class" is not counted as damage.

JSD is symmetric, zero for identical distributions and bounded by ln 2 (natural log).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from unlearnkit.llm.data import IGNORE


def jsd(p: torch.Tensor, q: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """½ KL(p‖m) + ½ KL(q‖m), m = (p+q)/2, over ``dim`` (probabilities in, nats out)."""
    m = 0.5 * (p + q)
    kl_p = torch.xlogy(p, p) - torch.xlogy(p, m)
    kl_q = torch.xlogy(q, q) - torch.xlogy(q, m)
    return (0.5 * (kl_p + kl_q)).sum(dim).clamp_min(0.0)


def class_jsd(
    reference_logits: torch.Tensor, current_logits: torch.Tensor, keep_classes: Sequence[int] | None = None
) -> torch.Tensor:
    """Per-row JSD of two classifiers' softmax outputs (n,), restricted to ``keep_classes`` and renormalised."""
    ref, cur = reference_logits.float(), current_logits.float()
    if keep_classes is not None:
        idx = torch.as_tensor(list(keep_classes), dtype=torch.long)
        ref, cur = ref[:, idx], cur[:, idx]
    return jsd(F.softmax(ref, -1), F.softmax(cur, -1))


def token_jsd(reference_logits: torch.Tensor, current_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sequence JSD averaged over the labelled (response) positions (B,); position t predicts token t+1."""
    mask = (labels[:, 1:] != IGNORE).float()
    p = F.softmax(reference_logits[:, :-1].float(), -1)
    q = F.softmax(current_logits[:, :-1].float(), -1)
    per_token = jsd(p, q)
    return (per_token * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)


__all__ = ["class_jsd", "jsd", "token_jsd"]
