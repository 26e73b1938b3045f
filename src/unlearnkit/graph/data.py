"""Graphs whose nodes and edges have stable ids and owners, so a deletion names exactly what it removes.

An undirected edge is stored once, as ``(u, v)`` with ``u < v`` (GNNDelete keeps the upper triangle too);
:meth:`GraphData.message_index` turns a subset of edges into the directed ``edge_index`` (both directions)
that message passing reads. A user (data subject) owns nodes and edges: deleting a user deletes the nodes
they own with every incident edge, and the edges they own (``owned``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from unlearnkit.errors import DataError, UnknownIdError


def canonical_edges(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """``(2, E)`` pairs → unique undirected edges ``(u, v)``, ``u < v``, sorted, without self-loops."""
    ei = torch.as_tensor(edge_index, dtype=torch.long)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise DataError(f"edge_index must have shape (2, E), got {tuple(ei.shape)}")
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        raise DataError(f"edge_index refers to node positions outside [0, {num_nodes})")
    u, v = torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])
    keep = u != v
    key = torch.unique(u[keep] * num_nodes + v[keep])
    return torch.stack([key // num_nodes, key % num_nodes])


@dataclass(frozen=True, eq=False)
class GraphData:
    """Node features, labels, undirected edges, and stable ids and owners for both.

    Args:
        x: float32 node features, shape (N, F).
        edge_index: undirected edges as node *positions*, shape (2, E), each stored once with ``u < v``.
        y: int64 node labels, shape (N,) (the block / community / class).
        node_ids: unique int64 node ids, shape (N,); edge_ids: unique int64 edge ids, shape (E,).
        node_owner / edge_owner: the user owning each node / edge (``None``: nobody).
        num_classes: number of node classes. name: a label for reports.
        source: how to rebuild the graph (``{"name": loader, **kwargs}``), recorded with every model.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor
    node_ids: torch.Tensor
    edge_ids: torch.Tensor
    node_owner: tuple[str | None, ...]
    edge_owner: tuple[str | None, ...]
    num_classes: int
    name: str = "graph"
    source: dict[str, Any] = field(default_factory=dict)
    _node_pos: dict[int, int] = field(default_factory=dict, repr=False)
    _edge_pos: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n, e = self.x.shape[0], self.edge_index.shape[1]
        if self.x.ndim != 2 or not torch.isfinite(self.x).all():
            raise DataError(f"{self.name}: features must be a finite (N, F) tensor")
        if self.y.shape != (n,) or self.node_ids.shape != (n,) or len(self.node_owner) != n:
            raise DataError(f"{self.name}: {n} nodes but labels/ids/owners of other lengths")
        if self.edge_ids.shape != (e,) or len(self.edge_owner) != e:
            raise DataError(f"{self.name}: {e} edges but {self.edge_ids.shape[0]} edge ids / owners")
        if not torch.equal(canonical_edges(self.edge_index, n), self.edge_index):
            raise DataError(f"{self.name}: edges must be unique, u < v, sorted and without self-loops")
        for ids, what, pos in ((self.node_ids, "node", self._node_pos), (self.edge_ids, "edge", self._edge_pos)):
            pos.update({int(i): k for k, i in enumerate(ids.tolist())})
            if len(pos) != ids.numel():
                raise DataError(f"{self.name}: duplicate {what} ids")

    @classmethod
    def create(
        cls,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        y: torch.Tensor,
        *,
        num_classes: int | None = None,
        node_owner: Sequence[str | None] | None = None,
        name: str = "graph",
        source: dict[str, Any] | None = None,
    ) -> GraphData:
        """Canonicalise the edges; ids are positions; node ``i`` is owned by ``user<i>`` and an edge by the
        owner of its lower endpoint unless ``node_owner`` says otherwise."""
        x = torch.as_tensor(x, dtype=torch.float32)
        n = x.shape[0]
        edges = canonical_edges(edge_index, n)
        owners = tuple(node_owner) if node_owner is not None else tuple(f"user{i}" for i in range(n))
        y = torch.as_tensor(y, dtype=torch.long)
        return cls(
            x=x,
            edge_index=edges,
            y=y,
            node_ids=torch.arange(n),
            edge_ids=torch.arange(edges.shape[1]),
            node_owner=owners,
            edge_owner=tuple(owners[u] for u in edges[0].tolist()),
            num_classes=int(num_classes if num_classes is not None else int(y.max()) + 1 if n else 0),
            name=name,
            source=dict(source or {}),
        )

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    def message_index(self, edges: torch.Tensor | None = None) -> torch.Tensor:
        """The directed ``edge_index`` (both directions) of the edges at positions ``edges`` (default: all)."""
        ei = self.edge_index if edges is None else self.edge_index[:, edges]
        return torch.cat([ei, ei.flip(0)], dim=1)

    def node_positions(self, ids: Iterable[int]) -> torch.Tensor:
        ids = [int(i) for i in ids]
        missing = [i for i in ids if i not in self._node_pos]
        if missing:
            raise UnknownIdError(missing)
        return torch.tensor([self._node_pos[i] for i in ids], dtype=torch.long)

    def edge_positions(self, ids: Iterable[int]) -> torch.Tensor:
        ids = [int(i) for i in ids]
        missing = [i for i in ids if i not in self._edge_pos]
        if missing:
            raise UnknownIdError(missing)
        return torch.tensor([self._edge_pos[i] for i in ids], dtype=torch.long)

    def incident_edges(self, nodes: torch.Tensor) -> torch.Tensor:
        """Positions of the edges touching any node at positions ``nodes``."""
        mask = torch.zeros(self.num_nodes, dtype=torch.bool)
        mask[nodes] = True
        return torch.nonzero(mask[self.edge_index[0]] | mask[self.edge_index[1]]).view(-1)

    def owned(self, owner: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(node positions, edge positions)`` of a user: their nodes, their edges and every edge at their nodes."""
        nodes = torch.tensor([i for i, o in enumerate(self.node_owner) if o == owner], dtype=torch.long)
        edges = torch.tensor([i for i, o in enumerate(self.edge_owner) if o == owner], dtype=torch.long)
        if nodes.numel() == 0 and edges.numel() == 0:
            raise UnknownIdError(owner=owner)
        if nodes.numel():
            edges = torch.unique(torch.cat([edges, self.incident_edges(nodes)]))
        return nodes, edges

    def __repr__(self) -> str:
        return (
            f"GraphData({self.name!r}, nodes={self.num_nodes}, edges={self.num_edges}, "
            f"features={self.num_features}, classes={self.num_classes})"
        )
