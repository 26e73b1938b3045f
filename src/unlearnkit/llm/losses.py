"""The loss maths of LM unlearning as pure functions of logits / log-probabilities (unit-tested by hand).

Shapes: ``logits`` (B, T, V) from a causal LM on ``input_ids`` (B, T); ``labels`` (B, T) with −100 on pads
and prompt tokens. Position t predicts token t+1 (the usual shift). Every function works on log-probabilities
(``log_softmax``), never on raw logits: MUSE's reference NPO and KL terms use raw logits, a known bug
(muse_bench issue #2; Unlearn-Simple issue #5), and OpenUnlearning's ``compute_kl_divergence`` shows the fix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearnkit.llm.data import IGNORE


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each next label token, and the mask of positions that carry a label; (B, T−1) each."""
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    target = labels[:, 1:]
    mask = target != IGNORE
    picked = logp.gather(-1, target.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return picked * mask, mask


def sequence_logprob(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Σ_t log π(x_t | x_<t) over labelled tokens, per sequence (B,)."""
    lp, _ = token_logprobs(logits, labels)
    return lp.sum(-1)


def sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Token-averaged NLL per sequence (B,); a sequence without labels gets 0."""
    lp, mask = token_logprobs(logits, labels)
    return -lp.sum(-1) / mask.sum(-1).clamp_min(1)


def mean_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """NLL averaged over every labelled token of the batch (the usual LM loss)."""
    lp, mask = token_logprobs(logits, labels)
    return -lp.sum() / mask.sum().clamp_min(1)


def npo_loss(logp_current: torch.Tensor, logp_reference: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO (Zhang et al., arXiv 2404.05868, eq. 3): mean of −(2/β)·logsigmoid(−β·[log π_θ(x) − log π_ref(x)]).

    ``logp_*`` are sequence log-likelihoods (B,), e.g. from :func:`sequence_logprob`. As β → 0 the gradient
    tends to gradient ascent's; the loss is bounded below by 0, which is what slows NPO's collapse.
    """
    ratio = logp_current - logp_reference
    return (-(2.0 / beta) * F.logsigmoid(-beta * ratio)).mean()


def simnpo_loss(avg_nll: torch.Tensor, beta: float, delta: float = 0.0) -> torch.Tensor:
    """SimNPO (Fan et al., arXiv 2410.07163): mean of −(2/β)·logsigmoid(β·(ℓ̄(x) − δ)), ℓ̄ = token-averaged NLL.

    Reference-free and length-normalised (OpenUnlearning ``trainer/unlearn/simnpo.py``).
    """
    return (-(2.0 / beta) * F.logsigmoid(beta * (avg_nll - delta))).mean()


def kl_divergence(logits_reference: torch.Tensor, logits_current: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """KL(π_ref ‖ π_θ) of the next-token distributions, averaged over labelled positions (both log-softmaxed)."""
    ref = F.log_softmax(logits_reference[:, :-1].float(), dim=-1)
    cur = F.log_softmax(logits_current[:, :-1].float(), dim=-1)
    per_token = (ref.exp() * (ref - cur)).sum(-1)
    mask = labels[:, 1:] != IGNORE
    return (per_token * mask).sum() / mask.sum().clamp_min(1)


def masked_mse(hidden: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error of hidden states (B, T, d) against ``target`` over positions where ``mask`` is set."""
    per_pos = ((hidden - target) ** 2).mean(-1)
    m = mask.to(per_pos.dtype)
    return (per_pos * m).sum() / m.sum().clamp_min(1)


__all__ = [
    "kl_divergence",
    "masked_mse",
    "mean_nll",
    "npo_loss",
    "sequence_logprob",
    "sequence_nll",
    "simnpo_loss",
    "token_logprobs",
]
