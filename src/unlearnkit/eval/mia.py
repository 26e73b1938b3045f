"""Membership-inference attacks used as forgetting metrics, each exactly as its reference code computes it.

- :func:`svc_mia_efficacy` — Unlearn-Sparse / SalUn ``evaluation/SVC_MIA.py`` with the ``confidence``
  feature (the published "MIA-Efficacy"): an RBF ``SVC(C=3, gamma="auto")`` is fit on the evaluated model's
  true-label confidences of the first |D_t| retained samples (members, label 1) against the test set
  (non-members, label 0); efficacy is the share of forget samples it calls *non-members*. The buggy
  ``m_entropy`` variant of that file is not ported.
- :func:`entropy_mia_ssd` — SSD's ``metrics.py`` (from the Bad Teacher code): a class-balanced
  ``LogisticRegression`` on the softmax entropy, members = all of D_r, non-members = the test set; the
  score is the share of forget samples called *members*.
- :func:`loss_mia` — a threshold-free loss attack: ROC AUC and TPR at 1% FPR of ``-loss`` separating the
  forget set (members) from held-out samples (non-members).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from unlearnkit.errors import DataError


def true_label_confidence(probs: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """p(y|x) of each sample, shape (n, 1)."""
    return probs.gather(1, y[:, None]).double().numpy().reshape(-1, 1)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each row, with 0·log 0 = 0 (as the reference code)."""
    return -torch.where(probs > 0, probs * probs.log(), torch.zeros_like(probs)).sum(dim=1)


def svc_mia_efficacy(
    retain_probs: torch.Tensor,
    retain_y: torch.Tensor,
    test_probs: torch.Tensor,
    test_y: torch.Tensor,
    forget_probs: torch.Tensor,
    forget_y: torch.Tensor,
) -> float:
    """MIA-Efficacy in percent: share of D_f the confidence SVC classifies as non-training data.

    Inputs are the evaluated model's softmax outputs; ``retain_*`` in dataset (id) order, of which the first
    ``len(test)`` rows are the shadow members, as ``main_forget.py`` builds its shadow set.
    """
    from sklearn.svm import SVC

    if len(test_probs) == 0 or len(retain_probs) == 0:
        raise DataError("MIA-Efficacy needs retained and test samples")
    if len(forget_probs) == 0:
        raise DataError("MIA-Efficacy needs a non-empty forget set")
    n = min(len(test_probs), len(retain_probs))
    x_shadow = np.concatenate(
        [true_label_confidence(retain_probs[:n], retain_y[:n]), true_label_confidence(test_probs, test_y)]
    )
    y_shadow = np.concatenate([np.ones(n), np.zeros(len(test_probs))])
    clf = SVC(C=3, gamma="auto", kernel="rbf")
    clf.fit(x_shadow, y_shadow)
    pred = clf.predict(true_label_confidence(forget_probs, forget_y))
    return float(100.0 * (1.0 - pred.mean()))


def entropy_mia_ssd(retain_probs: torch.Tensor, test_probs: torch.Tensor, forget_probs: torch.Tensor) -> float:
    """SSD's MIA in percent: share of D_f that a balanced entropy logistic regression calls members."""
    from sklearn.linear_model import LogisticRegression

    if len(test_probs) == 0 or len(retain_probs) == 0 or len(forget_probs) == 0:
        raise DataError("the entropy MIA needs retained, test and forget samples")
    x = torch.cat([entropy(retain_probs), entropy(test_probs)]).double().numpy().reshape(-1, 1)
    y = np.concatenate([np.ones(len(retain_probs)), np.zeros(len(test_probs))])
    clf = LogisticRegression(class_weight="balanced", solver="lbfgs")
    clf.fit(x, y)
    return float(100.0 * clf.predict(entropy(forget_probs).double().numpy().reshape(-1, 1)).mean())


def per_sample_loss(logits: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    return F.cross_entropy(logits, y, reduction="none").double().numpy()


def loss_mia(
    member_logits: torch.Tensor, member_y: torch.Tensor, nonmember_logits: torch.Tensor, nonmember_y: torch.Tensor
) -> tuple[float, float]:
    """``(AUC, TPR at 1% FPR)`` of the score ``-loss`` for members (label 1) vs non-members (label 0)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(member_y) == 0 or len(nonmember_y) == 0:
        raise DataError("the loss attack needs members and non-members")
    scores = -np.concatenate([per_sample_loss(member_logits, member_y), per_sample_loss(nonmember_logits, nonmember_y)])
    labels = np.concatenate([np.ones(len(member_y)), np.zeros(len(nonmember_y))])
    auc = float(roc_auc_score(labels, scores))
    fpr, tpr, _ = roc_curve(labels, scores)
    tpr_at = float(tpr[fpr <= 0.01].max()) if (fpr <= 0.01).any() else 0.0
    return auc, tpr_at


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per-row Jensen–Shannon divergence (nats, in [0, ln 2]) between probability rows."""
    m = 0.5 * (p + q)

    def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(a > 0, a * (a.clamp_min(1e-30).log() - b.clamp_min(1e-30).log()), torch.zeros_like(a)).sum(
            dim=1
        )

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def auc_of_losses(member_losses: np.ndarray, nonmember_losses: np.ndarray) -> float:
    """ROC AUC of the score ``-loss`` for members (label 1) vs non-members (label 0); 0.5: indistinguishable."""
    from sklearn.metrics import roc_auc_score

    if len(member_losses) == 0 or len(nonmember_losses) == 0:
        raise DataError("the loss attack needs members and non-members")
    scores = -np.concatenate([member_losses, nonmember_losses])
    labels = np.concatenate([np.ones(len(member_losses)), np.zeros(len(nonmember_losses))])
    return float(roc_auc_score(labels, scores))


def svc_loss_member_rate(
    member_losses: np.ndarray, nonmember_losses: np.ndarray, target_losses: np.ndarray, n: int = 2000
) -> float:
    """Deep Regression Unlearning's MIA (``metrics.py``): an RBF ``SVC(C=3, gamma="auto")`` fit on per-sample
    losses of ``n`` members (label 1) against ``n`` non-members (label 0); returns the fraction of the target
    rows it calls members. Members/non-members are the first ``n`` of each array (callers pass them in a
    seeded random order)."""
    from sklearn.svm import SVC

    k = min(n, len(member_losses), len(nonmember_losses))
    if k == 0 or len(target_losses) == 0:
        raise DataError("the regression MIA needs members, non-members and target rows")
    x = np.concatenate([member_losses[:k], nonmember_losses[:k]]).reshape(-1, 1)
    y = np.concatenate([np.ones(k), np.zeros(k)])
    clf = SVC(C=3, gamma="auto", kernel="rbf")
    clf.fit(x, y)
    return float(clf.predict(np.asarray(target_losses).reshape(-1, 1)).mean())
