"""Training a GNN (the original model, Retrain, the membership-inference shadow) and the shared loss pieces.

Link prediction follows GNNDelete's ``trainer/base.py``: full-batch, BCE on the positive training edges
against as many fresh negative samples each epoch, messages over the training edges. Node classification:
cross-entropy on the training nodes. Defaults are GNNDelete's (``training_args.py``: hidden 128, out 64,
Adam lr 1e-3, 1500 epochs); the CPU recipe of the benchmark is smaller (``GraphTrainConfig.cpu()``).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from unlearnkit.approx._common import MethodConfig, StepCounter, require
from unlearnkit.context import RunContext
from unlearnkit.graph.data import GraphData
from unlearnkit.graph.models import ARCHS, GNN, GNNSpec, build_gnn
from unlearnkit.graph.tasks import LinkSplit, NodeSplit


@dataclass(frozen=True)
class GraphTrainConfig(MethodConfig):
    """How a GNN is trained (GNNDelete's defaults)."""

    arch: str = field(default="gcn", metadata={"help": "gcn | gat | gin | sage"})
    hidden: int = field(default=128, metadata={"help": "width of the first layer"})
    out: int = field(default=64, metadata={"help": "embedding width (link) — node tasks use the class count"})
    epochs: int = field(default=1500, metadata={"help": "full-batch epochs"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=5e-4, metadata={"help": "Adam weight decay (training_args.py: 5e-4)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.arch in ARCHS, f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        require(self.hidden >= 1 and self.out >= 1, "hidden and out must be >= 1")
        require(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")

    @classmethod
    def cpu(cls, **kw: object) -> GraphTrainConfig:
        """The CPU recipe of the graph notes (E.2): 64→32 wide, 200 epochs at lr 1e-2."""
        return dataclasses.replace(cls(hidden=64, out=32, epochs=200, lr=1e-2), **kw)


def sample_negatives(edge_index: Tensor, num_nodes: int, n: int) -> Tensor:
    """``n`` random non-edges of the directed ``edge_index`` (PyG's ``negative_sampling``).

    PyG draws from Python's ``random`` module as well as torch's; that module is seeded here from torch's
    global RNG (seeded by :meth:`RunContext.seed_everything`) and restored afterwards, so a run is
    reproducible from its seed and the caller's ``random`` state is untouched.
    """
    from torch_geometric.utils import negative_sampling

    state = random.getstate()
    random.seed(int(torch.randint(0, 2**62, (1,))))
    try:
        return negative_sampling(edge_index, num_nodes=num_nodes, num_neg_samples=n)
    finally:
        random.setstate(state)


def link_loss(model: GNN, x: Tensor, mp_index: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    z = model.encode(x, mp_index)[-1]
    logits = torch.cat([model.decode(z, pos), model.decode(z, neg)])
    labels = torch.cat([torch.ones(pos.shape[1]), torch.zeros(neg.shape[1])])
    return F.binary_cross_entropy_with_logits(logits, labels)


def fit(
    model: GNN,
    loss_fn: Callable[[], Tensor],
    cfg: GraphTrainConfig,
    ctx: RunContext,
    counter: StepCounter,
    tag: str = "train",
) -> list[dict[str, float]]:
    """Full-batch Adam on ``loss_fn()`` for ``cfg.epochs`` epochs within ``counter``'s budget."""
    ctx.seed_everything("graph-fit", tag)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history = []
    model.train()
    for epoch in range(cfg.epochs):
        if not counter.step():
            break
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if epoch % 50 == 0 or epoch == cfg.epochs - 1:
            history.append({"epoch": epoch, "loss": loss.item()})
    model.eval()
    return history


def fit_link(
    model: GNN,
    x: Tensor,
    mp_index: Tensor,
    pos: Tensor,
    cfg: GraphTrainConfig,
    ctx: RunContext,
    counter: StepCounter,
    tag: str = "train",
) -> list[dict[str, float]]:
    """BCE on ``pos`` (node pairs) vs fresh negatives each epoch, messages over ``mp_index``."""

    def loss() -> Tensor:
        return link_loss(model, x, mp_index, pos, sample_negatives(mp_index, x.shape[0], pos.shape[1]))

    return fit(model, loss, cfg, ctx, counter, tag)


def fit_node(
    model: GNN,
    x: Tensor,
    mp_index: Tensor,
    y: Tensor,
    train_mask: Tensor,
    cfg: GraphTrainConfig,
    ctx: RunContext,
    counter: StepCounter,
    tag: str = "train",
) -> list[dict[str, float]]:
    """Cross-entropy on the ``train_mask`` nodes, messages over ``mp_index``."""

    def loss() -> Tensor:
        return F.cross_entropy(model.encode(x, mp_index)[-1][train_mask], y[train_mask])

    return fit(model, loss, cfg, ctx, counter, tag)


def train_model(
    data: GraphData,
    split: LinkSplit | NodeSplit,
    cfg: GraphTrainConfig,
    ctx: RunContext,
    *,
    edges: Tensor | None = None,
    feature_mask: Tensor | None = None,
    node_mask: Tensor | None = None,
    counter: StepCounter | None = None,
    tag: str = "orig",
) -> tuple[GNN, list[dict[str, float]]]:
    """Train a GNN from scratch on the training edges ``edges`` (default: all of ``split.train``).

    Messages pass over ``edges``; link prediction uses them as positives, node classification trains on
    ``split.train_mask & node_mask``. Masked features are zeroed. The init depends on the run seed and the
    architecture only, so an original model and its Retrain start from the same weights.
    """
    task = "link" if isinstance(split, LinkSplit) else "node"
    edges = split.train if edges is None else edges
    mask = torch.ones(data.num_nodes, dtype=torch.bool) if feature_mask is None else feature_mask
    x = data.x * mask.unsqueeze(1).to(data.x.dtype)
    out = cfg.out if task == "link" else data.num_classes
    spec = GNNSpec(cfg.arch, data.num_features, data.num_nodes, cfg.hidden, out, task)
    ctx.seed_everything("graph-init", cfg.arch)
    model = build_gnn(spec)
    index = data.message_index(edges)
    counter = counter or StepCounter(cfg.max_steps)
    if isinstance(split, LinkSplit):
        history = fit_link(model, x, index, data.edge_index[:, edges], cfg, ctx, counter, tag=tag)
    else:
        train_mask = split.train_mask if node_mask is None else split.train_mask & node_mask
        history = fit_node(model, x, index, data.y, train_mask, cfg, ctx, counter, tag=tag)
    model.set_graph(index, mask)
    return model.eval(), history


def train_original(data: GraphData, split: LinkSplit | NodeSplit, cfg: GraphTrainConfig, ctx: RunContext) -> GNN:
    """The model before any deletion: every training edge, every feature."""
    return train_model(data, split, cfg, ctx)[0]
