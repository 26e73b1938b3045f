"""Graph-unlearning metrics as GNNDelete computes them (``framework/evaluation.py``, ``trainer/base.py``).

Every model is evaluated with its embeddings on the E_r graph and the post-deletion features (GNNDelete's
``model(x, train_pos_edge_index[:, dr_mask])``), the original model included. Registered with
``task="graph"`` and a direction:

- ``dt_auroc`` / ``dt_auprc`` (↑): test positives vs test negatives — utility.
- ``df_auroc`` / ``df_auprc`` (↑, as the papers read them): the forget edges E_d with label 0 against as
  many random retained training edges with label 1, averaged over ``draws`` (500 in GNNDelete) draws. The
  original model sits near 0.5; ``df_auroc_gap`` (↓, needs the Retrain reference) is |df_auroc − Retrain's|,
  because "higher is better" also rewards forgetting past Retrain.
- ``df_prob_mean`` (no direction): mean σ(z_u·z_v) over E_d.
- ``mi_ratio`` (↑, needs the original and a fitted attack): P_before / P_after of the membership attack on
  E_d (:mod:`unlearnkit.graph.mia`); ``mi_ratio_code`` (↓) is the released code's P_after / P_before.
- ``node_acc`` (↑): node-classification accuracy on the test nodes; ``node_forget_acc`` (no direction;
  Retrain is the target) on the deleted nodes.
- ``unlearn_seconds`` (↓), ``flops_forward`` (↓: FLOPs of one forward pass over the graph, counted by
  :class:`torch.utils.flop_counter.FlopCounterMode` — dense products; the sparse message aggregation is the
  same for every model of a graph and is not counted), ``added_params`` (↓: parameters beyond the original
  architecture).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from unlearnkit.errors import ConfigError, ReferenceRequiredError
from unlearnkit.graph.mia import LinkMembershipAttack, mi_ratio, mi_ratio_code
from unlearnkit.graph.models import GNN
from unlearnkit.graph.tasks import GraphDeletion, LinkSplit, NodeSplit
from unlearnkit.registry import get_metric, list_metrics, register_metric


class GraphMetricNotApplicable(ConfigError):
    """The metric is undefined for this task or run (e.g. AUROC on a node-classification task)."""


@dataclass
class GraphEvalInputs:
    """What graph metrics read; embeddings and attack probabilities are cached per model."""

    model: GNN
    deletion: GraphDeletion
    original: GNN | None = None
    reference: GNN | None = None
    seconds: float | None = None
    attack: LinkMembershipAttack | None = None
    draws: int = 500
    seed: int = 0
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def embeddings(self, which: str = "model") -> Tensor:
        key = ("z", which)
        if key not in self._cache:
            model = getattr(self, which)
            with torch.no_grad():
                self._cache[key] = model.encode(self.deletion.retain_x(), self.deletion.retain_index())[-1]
        return self._cache[key]

    def link_split(self) -> LinkSplit:
        if not isinstance(self.deletion.split, LinkSplit):
            raise GraphMetricNotApplicable("link metrics need a link-prediction task")
        return self.deletion.split

    def node_split(self) -> NodeSplit:
        if not isinstance(self.deletion.split, NodeSplit):
            raise GraphMetricNotApplicable("node metrics need a node-classification task")
        return self.deletion.split

    def scores(self, pairs: Tensor, which: str = "model") -> Tensor:
        return torch.sigmoid(GNN.decode(self.embeddings(which), pairs))


def batched_auroc_auprc(pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor]:
    """AUROC and average precision of rows of positive scores ``(D, k)`` against negatives ``(D, m)``.

    AUROC is the Mann-Whitney statistic (ties count half); AP is the mean precision at each positive's rank
    (sklearn's ``average_precision_score`` when no scores tie). One call scores all D draws at once.
    """
    greater = (pos.unsqueeze(2) > neg.unsqueeze(1)).float().mean((1, 2))
    ties = (pos.unsqueeze(2) == neg.unsqueeze(1)).float().mean((1, 2))
    scores = torch.cat([pos, neg], dim=1)
    labels = torch.cat([torch.ones_like(pos), torch.zeros_like(neg)], dim=1)
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    ranked = torch.gather(labels, 1, order)
    precision = ranked.cumsum(1) / torch.arange(1, ranked.shape[1] + 1, dtype=ranked.dtype)
    ap = (precision * ranked).sum(1) / ranked.sum(1)
    return greater + 0.5 * ties, ap


def _dt(inp: GraphEvalInputs) -> tuple[float, float]:
    if "dt" not in inp._cache:
        split = inp.link_split()
        pos, neg = inp.scores(split.test_pos).double(), inp.scores(split.test_neg).double()
        auroc, auprc = batched_auroc_auprc(pos.unsqueeze(0), neg.unsqueeze(0))
        inp._cache["dt"] = (float(auroc[0]), float(auprc[0]))
    return inp._cache["dt"]


def _df(inp: GraphEvalInputs, which: str = "model") -> tuple[float, float]:
    """E_d (label 0) vs random retained training edges (label 1), mean over ``draws`` draws."""
    key = ("df", which)
    if key not in inp._cache:
        d = inp.deletion
        if d.task != "link":
            raise GraphMetricNotApplicable("E_d AUROC needs a link-prediction task")
        forget = torch.zeros(d.data.num_edges, dtype=torch.bool)
        forget[d.forget_edges] = True
        pool = d.retain_edges[~forget[d.retain_edges]]
        df = inp.scores(d.forget_pairs(), which).double()
        pool_scores = inp.scores(d.data.edge_index[:, pool], which).double()
        g = torch.Generator().manual_seed(inp.seed)
        k = min(df.numel(), pool.numel())
        draws = max(inp.draws, 1)
        idx = torch.stack([torch.randperm(pool.numel(), generator=g)[:k] for _ in range(draws)])
        auroc, auprc = batched_auroc_auprc(pool_scores[idx], df.expand(draws, -1))
        inp._cache[key] = (float(auroc.mean()), float(auprc.mean()))
    return inp._cache[key]


@register_metric("dt_auroc", higher_is_better=True, task="graph", description="AUROC on the test edges (utility)")
def dt_auroc(inp: GraphEvalInputs) -> float:
    return _dt(inp)[0]


@register_metric("dt_auprc", higher_is_better=True, task="graph", description="AUPRC on the test edges (utility)")
def dt_auprc(inp: GraphEvalInputs) -> float:
    return _dt(inp)[1]


@register_metric(
    "df_auroc", higher_is_better=True, task="graph", description="AUROC separating E_r (1) from deleted E_d (0)"
)
def df_auroc(inp: GraphEvalInputs) -> float:
    return _df(inp)[0]


@register_metric(
    "df_auprc", higher_is_better=True, task="graph", description="AUPRC separating E_r (1) from deleted E_d (0)"
)
def df_auprc(inp: GraphEvalInputs) -> float:
    return _df(inp)[1]


@register_metric(
    "df_auroc_gap",
    higher_is_better=False,
    needs_reference=True,
    task="graph",
    description="|E_d AUROC − Retrain's E_d AUROC|",
)
def df_auroc_gap(inp: GraphEvalInputs) -> float:
    if inp.reference is None:
        raise ReferenceRequiredError("df_auroc_gap needs a Retrain reference model")
    return abs(_df(inp)[0] - _df(inp, "reference")[0])


@register_metric("df_prob_mean", higher_is_better=None, task="graph", description="mean link probability on E_d")
def df_prob_mean(inp: GraphEvalInputs) -> float:
    if inp.deletion.task != "link":
        raise GraphMetricNotApplicable("df_prob_mean needs a link-prediction task")
    return float(inp.scores(inp.deletion.forget_pairs()).mean())


def _mi(inp: GraphEvalInputs) -> tuple[Tensor, Tensor]:
    if inp.attack is None or inp.original is None:
        raise GraphMetricNotApplicable("the MI ratio needs a fitted attack and the original model")
    if "mi" not in inp._cache:
        inp._cache["mi"] = (
            inp.attack.present_prob(inp.original, inp.deletion),
            inp.attack.present_prob(inp.model, inp.deletion),
        )
    return inp._cache["mi"]


@register_metric(
    "mi_ratio", higher_is_better=True, task="graph", description="membership attack on E_d: P_before / P_after"
)
def mi_ratio_metric(inp: GraphEvalInputs) -> float:
    return mi_ratio(*_mi(inp))


@register_metric(
    "mi_ratio_code",
    higher_is_better=False,
    task="graph",
    description="membership attack on E_d, released-code orientation: mean P_after / P_before",
)
def mi_ratio_code_metric(inp: GraphEvalInputs) -> float:
    return mi_ratio_code(*_mi(inp))


def _node_acc(inp: GraphEvalInputs, mask: Tensor) -> float:
    if not mask.any():
        raise GraphMetricNotApplicable("no node to score")
    pred = inp.embeddings().argmax(1)
    return float((pred[mask] == inp.deletion.data.y[mask]).float().mean())


@register_metric("node_acc", higher_is_better=True, task="graph", description="node-classification test accuracy")
def node_acc(inp: GraphEvalInputs) -> float:
    return _node_acc(inp, inp.node_split().test_mask)


@register_metric(
    "node_forget_acc", higher_is_better=None, task="graph", description="accuracy on the deleted nodes (→ Retrain)"
)
def node_forget_acc(inp: GraphEvalInputs) -> float:
    inp.node_split()
    mask = torch.zeros(inp.deletion.data.num_nodes, dtype=torch.bool)
    mask[inp.deletion.deleted_nodes] = True
    return _node_acc(inp, mask)


@register_metric("unlearn_seconds", higher_is_better=False, task="graph", description="wall time of the update")
def unlearn_seconds(inp: GraphEvalInputs) -> float:
    if inp.seconds is None:
        raise GraphMetricNotApplicable("no run time recorded")
    return float(inp.seconds)


def count_flops(model: GNN, x: Tensor, edge_index: Tensor) -> int:
    """FLOPs of one forward pass (``FlopCounterMode``: dense products; sparse aggregation not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.encode(model.masked(x), edge_index)
    return int(counter.get_total_flops())


@register_metric("flops_forward", higher_is_better=False, task="graph", description="FLOPs per forward pass")
def flops_forward(inp: GraphEvalInputs) -> float:
    return float(count_flops(inp.model, inp.deletion.data.x, inp.deletion.retain_index()))


@register_metric(
    "added_params", higher_is_better=False, task="graph", description="parameters beyond the original architecture"
)
def added_params(inp: GraphEvalInputs) -> float:
    return float(sum(p.numel() for n, p in inp.model.named_parameters() if n.startswith("deletion.")))


def graph_metric_names() -> list[str]:
    return [m.name for m in list_metrics("graph")]


def evaluate_graph(
    model: GNN,
    deletion: GraphDeletion,
    *,
    original: GNN | None = None,
    reference: GNN | None = None,
    seconds: float | None = None,
    attack: LinkMembershipAttack | None = None,
    metrics: list[str] | None = None,
    draws: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Every applicable graph metric (or exactly ``metrics``, raising when one cannot be computed)."""
    inp = GraphEvalInputs(model, deletion, original, reference, seconds, attack, draws, seed)
    names = metrics if metrics is not None else graph_metric_names()
    out: dict[str, float] = {}
    for name in names:
        info = get_metric(name)
        if info.task != "graph":
            raise ConfigError(f"metric {name!r} is not a graph metric")
        try:
            out[name] = float(info.fn(inp))
        except (GraphMetricNotApplicable, ReferenceRequiredError):
            if metrics is not None:
                raise
    return out
