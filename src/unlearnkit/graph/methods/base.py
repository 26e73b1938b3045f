"""What every graph method shares: the :class:`GraphUnlearner` contract and the retain-side inputs.

``GraphUnlearner.unlearn(model, deletion, ctx=ctx)`` takes a trained :class:`~unlearnkit.graph.models.GNN`
and a :class:`~unlearnkit.graph.tasks.GraphDeletion` and returns an
:class:`~unlearnkit.types.UnlearnResult` whose model serves with ``deletion.retain_index()`` (E_r) and the
deletion's feature mask. The input model is not mutated unless ``ctx.inplace``; ``config.max_steps`` caps
the update steps (the graph conformance suite checks both).
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from unlearnkit.context import RunContext
from unlearnkit.graph.models import GNN
from unlearnkit.graph.tasks import GraphDeletion
from unlearnkit.types import Unlearner, UnlearnResult


@dataclass(frozen=True, eq=False)
class RetainView:
    """The post-deletion inputs every method reads: features with masked rows zeroed, the E_r graph."""

    x: Tensor
    index: Tensor
    feature_mask: Tensor

    @classmethod
    def of(cls, deletion: GraphDeletion) -> RetainView:
        return cls(deletion.retain_x(), deletion.retain_index(), deletion.feature_mask())


class GraphUnlearner(Unlearner):
    """Base of the graph methods (registered with ``family="graph"``)."""

    family: ClassVar[str] = "graph"
    search_grid: ClassVar[dict[str, list[Any]]] = {}

    @abstractmethod
    def unlearn(self, model: GNN, split: GraphDeletion, *, ctx: RunContext) -> UnlearnResult:  # type: ignore[override]
        """Return a new model that forgets ``split`` (a :class:`GraphDeletion`)."""


def editable_copy(model: GNN, ctx: RunContext) -> GNN:
    """The model a method edits (a deep copy unless ``ctx.inplace``), trainable, in eval mode."""
    out = model if ctx.inplace else copy.deepcopy(model)
    for p in out.parameters():
        p.requires_grad_(True)
    return out.eval()


def frozen(model: GNN) -> GNN:
    out = copy.deepcopy(model).eval()
    for p in out.parameters():
        p.requires_grad_(False)
    return out


def forget_nodes(deletion: GraphDeletion) -> Tensor:
    """Nodes whose learnt information is deleted: endpoints of the forget edges and masked nodes."""
    pairs = deletion.forget_pairs()
    return torch.unique(torch.cat([pairs.flatten(), deletion.deleted_nodes]))
