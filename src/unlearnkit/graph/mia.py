"""The membership-inference attack of GNNDelete on links (after Olatunji et al., ``iyempissy/rebMIGraph``).

A shadow GNN of the same architecture is trained on the *test* edges (message graph and positives alike).
An MLP attacker learns to tell the shadow's training edges ("present") from the test negatives ("absent")
from the feature [1 − p, p] of the shadow's edge probability p (``framework/trainer/member_infer.py``). Applied
to a target model, it gives P(present) for E_d, with the target's embeddings on the E_r graph.

GNNDelete's MI ratio compares P(present | E_d) before and after unlearning. The released code logs
mean(P_after / P_before), which falls below 1 when forgetting works; the paper and its reviews read it as
"higher = less residual information". :func:`mi_ratio` therefore reports P_before / P_after (means over E_d;
higher = more forgotten) and :func:`mi_ratio_code` the released orientation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from unlearnkit.approx._common import StepCounter
from unlearnkit.context import RunContext
from unlearnkit.graph.models import GNN, GNNSpec, build_gnn
from unlearnkit.graph.tasks import GraphDeletion, LinkSplit
from unlearnkit.graph.train import GraphTrainConfig, fit_link


def _features(p: Tensor) -> np.ndarray:
    p = p.detach().double().clamp(0, 1).numpy()
    return np.stack([1 - p, p], axis=1)


@torch.no_grad()
def retained_link_probs(model: GNN, deletion: GraphDeletion, pairs: Tensor) -> Tensor:
    """σ(z_u · z_v) with the model's embeddings on the E_r graph (GNNDelete's evaluation graph)."""
    z = model.encode(deletion.retain_x(), deletion.retain_index())[-1]
    return torch.sigmoid(model.decode(z, pairs))


@dataclass
class LinkMembershipAttack:
    """A fitted attacker; :meth:`present_prob` gives its P(present) for node pairs under a target model."""

    attacker: object
    shadow_auc: float

    @classmethod
    def fit(
        cls, deletion: GraphDeletion, spec: GNNSpec, cfg: GraphTrainConfig, ctx: RunContext
    ) -> LinkMembershipAttack:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.metrics import roc_auc_score
        from sklearn.neural_network import MLPClassifier

        split = deletion.split
        if not isinstance(split, LinkSplit):
            raise TypeError("the link membership attack needs a link-prediction task")
        ctx.seed_everything("mia-shadow", spec.arch)
        shadow = build_gnn(GNNSpec(**{**spec.to_dict(), "deletion_layers": False}))
        x = deletion.retain_x()
        index = torch.cat([split.test_pos, split.test_pos.flip(0)], dim=1)
        fit_link(shadow, x, index, split.test_pos, cfg, ctx, StepCounter(None), tag="mia-shadow")
        with torch.no_grad():
            z = shadow.encode(x, index)[-1]
            p_in = torch.sigmoid(shadow.decode(z, split.test_pos))
            p_out = torch.sigmoid(shadow.decode(z, split.test_neg))
        feats = np.concatenate([_features(p_in), _features(p_out)])
        labels = np.concatenate([np.ones(p_in.numel()), np.zeros(p_out.numel())])
        attacker = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1000, random_state=ctx.seed % (2**31))
        with warnings.catch_warnings():  # two input features: convergence to a tolerance is not the point
            warnings.simplefilter("ignore", ConvergenceWarning)
            attacker.fit(feats, labels)
        auc = float(roc_auc_score(labels, attacker.predict_proba(feats)[:, 1]))
        return cls(attacker, auc)

    def present_prob(self, model: GNN, deletion: GraphDeletion) -> Tensor:
        """P(present) for every forget edge under ``model``."""
        p = retained_link_probs(model, deletion, deletion.forget_pairs())
        return torch.from_numpy(self.attacker.predict_proba(_features(p))[:, 1])  # type: ignore[attr-defined]


def mi_ratio(before: Tensor, after: Tensor) -> float:
    """mean P_before / mean P_after over E_d (higher = less membership signal left)."""
    return float(before.mean() / after.mean().clamp_min(1e-12))


def mi_ratio_code(before: Tensor, after: Tensor) -> float:
    """The released code's orientation: mean over E_d of P_after / P_before (lower = more forgotten)."""
    return float((after / before.clamp_min(1e-12)).mean())
