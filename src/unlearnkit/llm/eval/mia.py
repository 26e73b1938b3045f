"""Membership-inference scores for texts and the MUSE AUC convention.

Every score is *lower = more member-like*:

- ``min_k``: Min-K% Prob (Shi et al., arXiv 2310.16789): −mean of the lowest ``k`` fraction of the token
  log-probs (``int(n·k)`` tokens as the reference code, at least one).
- ``min_k_pp``: Min-K%++ (Zhang et al., arXiv 2404.02936): each token's log-prob standardised by the mean μ_t
  and standard deviation σ_t of log p over the vocabulary at that position, then the same −mean of the lowest k.
- ``zlib``: the mean NLL divided by the zlib-compressed length of the text in bytes (Carlini et al.,
  arXiv 2012.07805).
- ``loss``: the mean NLL (Yeom et al.).

:func:`mia_auc` follows MUSE's ``privleak``: forget texts are labelled 0, holdout texts 1, and the ROC-AUC is
taken on −score, so a model that memorised D_f gets AUC ≈ 0 and one that never saw it ≈ 0.5.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from unlearnkit.errors import DataError


def min_k(logprobs: Sequence[float], k: float = 0.4) -> float:
    lp = np.sort(np.asarray(logprobs, dtype=float))
    if lp.size == 0:
        raise DataError("Min-K% needs at least one scored token")
    n = max(1, int(lp.size * k))
    return float(-lp[:n].mean())


def min_k_pp(logprobs: Sequence[float], mu: Sequence[float], sigma: Sequence[float], k: float = 0.4) -> float:
    z = (np.asarray(logprobs, float) - np.asarray(mu, float)) / np.maximum(np.asarray(sigma, float), 1e-12)
    return min_k(z, k)


def loss_score(logprobs: Sequence[float]) -> float:
    lp = np.asarray(logprobs, dtype=float)
    if lp.size == 0:
        raise DataError("the loss attack needs at least one scored token")
    return float(-lp.mean())


def zlib_score(logprobs: Sequence[float], text: str) -> float:
    return loss_score(logprobs) / len(zlib.compress(text.encode("utf-8")))


def mia_auc(forget_scores: Sequence[float], holdout_scores: Sequence[float]) -> float:
    """ROC-AUC of −score with forget = 0 and holdout = 1 (MUSE: memorised → 0, never seen → 0.5)."""
    from sklearn.metrics import roc_auc_score

    if len(forget_scores) == 0 or len(holdout_scores) == 0:
        raise DataError("a membership AUC needs forget and holdout texts")
    labels = np.r_[np.zeros(len(forget_scores)), np.ones(len(holdout_scores))]
    scores = -np.r_[np.asarray(forget_scores, float), np.asarray(holdout_scores, float)]
    return float(roc_auc_score(labels, scores))


def privleak(auc: float, auc_retrain: float) -> float:
    """MUSE PrivLeak in percent: (AUC − AUC_retrain) / AUC_retrain × 100."""
    if auc_retrain <= 0:
        raise DataError(f"the retrained model's AUC must be > 0 for PrivLeak, got {auc_retrain}")
    return (auc - auc_retrain) / auc_retrain * 100.0


SCORES = ("min_k", "min_k_pp", "zlib", "loss")
__all__ = ["SCORES", "loss_score", "mia_auc", "min_k", "min_k_pp", "privleak", "zlib_score"]
