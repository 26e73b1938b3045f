"""Retrain: train the same GNN from scratch on the retained graph (the gold standard of the graph papers).

Paper: the "Retrain" row of GNNDelete (Cheng et al., ICLR 2023, arXiv 2302.13406, ``trainer/retrain.py``)
and D2DGN (Sinha et al., arXiv 2309.16173).

Update rule: re-initialise (same seed as the original, so only the data differs) and train on E_r = train \\
E_d with the removed nodes' features masked, messages over E_r only. Exact for the deleted elements, and the
most expensive: it costs as much as the original training. Defaults: GNNDelete's (Adam lr 1e-3, 1500
epochs); pass the original's recipe (``epochs``, ``lr``) when it differs. The architecture is the model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unlearnkit.approx._common import MethodConfig, StepCounter, build_result, require, stopwatch
from unlearnkit.context import RunContext
from unlearnkit.graph.methods.base import GraphUnlearner
from unlearnkit.graph.models import GNN
from unlearnkit.graph.tasks import GraphDeletion
from unlearnkit.graph.train import GraphTrainConfig, train_model
from unlearnkit.registry import register_method
from unlearnkit.types import UnlearnResult


@dataclass(frozen=True)
class GraphRetainConfig(MethodConfig):
    """GNNDelete's training schedule (``run_original.sh``: 1500 epochs, Adam lr 1e-3)."""

    epochs: int = field(default=1500, metadata={"help": "full-batch epochs"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=5e-4, metadata={"help": "Adam weight decay (training_args.py: 5e-4)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")


@register_method(
    "graph_retrain",
    task="graph",
    family="graph",
    needs=("retain",),
    paper="Retrain baseline of GNNDelete (Cheng et al., ICLR 2023, arXiv 2302.13406)",
)
class GraphRetrain(GraphUnlearner):
    """Train from scratch without the deleted edges, nodes and features."""

    config_cls = GraphRetainConfig

    def unlearn(self, model: GNN, split: GraphDeletion, *, ctx: RunContext) -> UnlearnResult:  # type: ignore[override]
        cfg = self.config
        spec = model.spec
        train_cfg = GraphTrainConfig(
            arch=spec.arch,
            hidden=spec.hidden,
            out=spec.out,
            epochs=cfg.epochs,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
        )
        counter = StepCounter(cfg.max_steps)
        with stopwatch() as t:
            out, history = train_model(
                split.data,
                split.split,
                train_cfg,
                ctx,
                edges=split.retain_edges,
                feature_mask=split.feature_mask(),
                node_mask=split.kept_nodes(),
                counter=counter,
                tag="retain",
            )
        return build_result(self, out, seconds=t[0], steps=counter.steps, history=history, metadata={"exact": True})
