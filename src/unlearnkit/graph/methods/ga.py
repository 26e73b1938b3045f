"""Gradient ascent on the deleted edges (the GA baseline of GNNDelete).

Paper: GNNDelete (Cheng et al., ICLR 2023, arXiv 2302.13406), baseline "Gradient Ascent", official code
``framework/trainer/gradient_ascent.py``.

Update rule: minimise −BCE(σ(z_u·z_v), 1) over (u, v) ∈ E_d (every weight of the GNN, Adam). For node
classification with deleted nodes: minimise −CE on those nodes. Defaults: 10 epochs (GNNDelete's baseline
table), Adam lr 1e-3.

Where this departs from the official code: the official trainer passes messages over *E_d only*
(``model(data.x, train_pos_edge_index[:, df_mask])``); here messages pass over E_r (``message_graph="retain"``)
so no deleted edge reaches any message-passing graph. ``message_graph="paper_code"`` restores the official
choice during the update (the served model still uses E_r).

Known failure mode: the loss is unbounded, so utility (AUROC on E_t) collapses as E_d-AUROC rises; a few
more steps or a larger lr destroy the model (GNNDelete's tables and the CPU recipe both show it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from unlearnkit.approx._common import MethodConfig, StepCounter, build_result, require, stopwatch
from unlearnkit.context import RunContext
from unlearnkit.graph.methods.base import GraphUnlearner, RetainView, editable_copy
from unlearnkit.graph.models import GNN
from unlearnkit.graph.tasks import GraphDeletion
from unlearnkit.registry import register_method
from unlearnkit.types import UnlearnResult

MESSAGE_GRAPHS = ("retain", "paper_code")


@dataclass(frozen=True)
class GraphGAConfig(MethodConfig):
    """GNNDelete's GA baseline: 10 epochs, Adam lr 1e-3."""

    epochs: int = field(default=10, metadata={"help": "full-batch ascent steps"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    message_graph: str = field(
        default="retain", metadata={"help": "retain (E_r) | paper_code (E_d only, as the official trainer)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.message_graph in MESSAGE_GRAPHS, f"message_graph must be one of {MESSAGE_GRAPHS}")


@register_method(
    "graph_ga",
    task="graph",
    family="graph",
    needs=("forget",),
    paper="Gradient-ascent baseline of GNNDelete (Cheng et al., ICLR 2023, arXiv 2302.13406)",
)
class GraphGA(GraphUnlearner):
    """Ascend the link loss of E_d (or the CE of deleted nodes)."""

    config_cls = GraphGAConfig
    search_grid: ClassVar[dict[str, list]] = {"epochs": [10, 30], "lr": [1e-3, 1e-2]}

    def unlearn(self, model: GNN, split: GraphDeletion, *, ctx: RunContext) -> UnlearnResult:  # type: ignore[override]
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        history = []
        with stopwatch() as t:
            view = RetainView.of(split)
            out = editable_copy(model, ctx)
            pairs = split.forget_pairs()
            index = view.index if cfg.message_graph == "retain" else split.data.message_index(split.forget_edges)
            node_task = split.task == "node" and split.deleted_nodes.numel() > 0
            opt = torch.optim.Adam(out.parameters(), lr=cfg.lr)
            out.train()
            for epoch in range(cfg.epochs):
                if not counter.step():
                    break
                z = out.encode(view.x, index)[-1]
                if node_task:
                    nodes = split.deleted_nodes
                    loss = -F.cross_entropy(z[nodes], split.data.y[nodes])
                else:
                    logits = out.decode(z, pairs)
                    loss = -F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
                opt.zero_grad()
                loss.backward()
                opt.step()
                history.append({"epoch": epoch, "loss": loss.item()})
            out.set_graph(view.index, view.feature_mask)
        return build_result(self, out, seconds=t[0], steps=counter.steps, history=history)
