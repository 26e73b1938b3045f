"""Learning tasks and deletion requests on a graph, in GNNDelete's protocol (``prepare_dataset.py``).

- :func:`link_split`: test 5% and validation 5% of the undirected edges, each with as many random negatives;
  the rest are the training edges (also the message-passing graph of the original model).
- :func:`node_split`: train/val/test node masks for node classification (message passing uses every edge).
- :func:`make_deletion`: what to forget.

  * ``edge`` deletion draws E_d from the training edges: ``random`` (uniform), ``out`` (GNNDelete's easy
    setting: outside the 2-hop enclosing subgraph of the test edges, i.e. out of the test distribution) or
    ``in`` (inside it, the hard setting). ``amount`` < 1 is a fraction of the training edges, ≥ 1 a count.
  * ``node`` deletion removes random nodes and every incident training edge (GNNDelete's ``delete_node``
    reduces it to edge deletion); the removed nodes' features are masked out as well unless
    ``mask_features=False`` (GNNDelete's protocol, which keeps them: with masked features every deleted node
    gets the same embedding, and E_d AUROC is trivially 1 for every model).
  * ``feature`` deletion masks the features of random nodes; no edge is removed, and the edges at those nodes
    are the ones whose learnt influence is to be forgotten (``forget_edges``).
  * ``owner`` deletion removes a user's nodes (with incident edges) and the edges the user owns.

A :class:`GraphDeletion` records positions *and* ids; ``removed_edges`` never appear in
:meth:`GraphDeletion.retain_index`, the message-passing graph every unlearned model is served with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from unlearnkit.context import derive_seed
from unlearnkit.data.dataset import ids_hash
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.graph.data import GraphData

DELETION_KINDS = ("edge", "node", "feature", "owner")
EDGE_MODES = ("random", "out", "in")


def _gen(*parts: object) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(derive_seed(*parts))
    return g


@dataclass(frozen=True, eq=False)
class LinkSplit:
    """Training edge positions, and test/validation node pairs (positives are held-out edges)."""

    train: torch.Tensor
    val_pos: torch.Tensor
    val_neg: torch.Tensor
    test_pos: torch.Tensor
    test_neg: torch.Tensor
    seed: int = 0


@dataclass(frozen=True, eq=False)
class NodeSplit:
    """Node-classification masks; every edge is a training edge (transductive)."""

    train_mask: torch.Tensor
    val_mask: torch.Tensor
    test_mask: torch.Tensor
    train: torch.Tensor
    seed: int = 0


def _random_pairs(data: GraphData, n: int, g: torch.Generator, exclude: torch.Tensor) -> torch.Tensor:
    """``n`` node pairs (u < v) that are not edges of ``exclude`` (canonical edges) and not self-loops."""
    num = data.num_nodes
    taken = set((exclude[0] * num + exclude[1]).tolist())
    out: list[int] = []
    while len(out) < n:
        cand = torch.randint(0, num, (2, 4 * n + 16), generator=g)
        u, v = torch.minimum(cand[0], cand[1]), torch.maximum(cand[0], cand[1])
        for key in (u * num + v)[u != v].tolist():
            if key not in taken:
                taken.add(key)
                out.append(key)
                if len(out) == n:
                    break
    key = torch.tensor(out, dtype=torch.long)
    return torch.stack([key // num, key % num])


def link_split(data: GraphData, val: float = 0.05, test: float = 0.05, seed: int = 0) -> LinkSplit:
    """GNNDelete's split: random test/val edges with equal random negatives; the rest train."""
    if not (0 < val < 0.5 and 0 < test < 0.5):
        raise ConfigError(f"val and test fractions must lie in (0, 0.5), got {val}, {test}")
    e = data.num_edges
    n_val, n_test = max(1, round(val * e)), max(1, round(test * e))
    if n_val + n_test >= e:
        raise DataError(f"{data.name}: {e} edges are too few for a link split")
    g = _gen("link-split", seed)
    perm = torch.randperm(e, generator=g)
    test_e, val_e, train_e = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    neg = _random_pairs(data, n_val + n_test, g, data.edge_index)
    return LinkSplit(
        train=torch.sort(train_e).values,
        val_pos=data.edge_index[:, val_e],
        val_neg=neg[:, n_test:],
        test_pos=data.edge_index[:, test_e],
        test_neg=neg[:, :n_test],
        seed=seed,
    )


def node_split(data: GraphData, val: float = 0.2, test: float = 0.2, seed: int = 0) -> NodeSplit:
    if not (0 < val < 0.5 and 0 < test < 0.5):
        raise ConfigError(f"val and test fractions must lie in (0, 0.5), got {val}, {test}")
    n = data.num_nodes
    perm = torch.randperm(n, generator=_gen("node-split", seed))
    n_val, n_test = round(val * n), round(test * n)
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[2][perm[:n_test]] = True
    masks[1][perm[n_test : n_test + n_val]] = True
    masks[0][perm[n_test + n_val :]] = True
    return NodeSplit(masks[0], masks[1], masks[2], torch.arange(data.num_edges), seed)


@dataclass(frozen=True, eq=False)
class GraphDeletion:
    """A deletion request on a trained graph task, resolved to positions (ids and hashes in ``meta``).

    ``removed_edges`` leave every message-passing graph (E_d for edge/node/owner deletion); ``forget_edges``
    are the edges whose influence the methods remove and the metrics probe (E_d; for feature deletion the
    edges at the masked nodes); ``masked_nodes`` lose their features (removed and feature-deleted nodes).
    """

    data: GraphData
    task: str
    split: LinkSplit | NodeSplit
    kind: str
    mode: str
    removed_edges: torch.Tensor
    forget_edges: torch.Tensor
    removed_nodes: torch.Tensor
    masked_nodes: torch.Tensor
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def train_edges(self) -> torch.Tensor:
        return self.split.train

    @property
    def retain_edges(self) -> torch.Tensor:
        """Training edge positions without the removed ones (E_r)."""
        gone = torch.zeros(self.data.num_edges, dtype=torch.bool)
        gone[self.removed_edges] = True
        return self.split.train[~gone[self.split.train]]

    def train_index(self) -> torch.Tensor:
        """Directed message-passing graph of the original model (all training edges)."""
        return self.data.message_index(self.split.train)

    def retain_index(self) -> torch.Tensor:
        """Directed message-passing graph without the removed edges (what unlearned models serve with)."""
        return self.data.message_index(self.retain_edges)

    @property
    def deleted_nodes(self) -> torch.Tensor:
        """Nodes whose data is deleted: removed nodes and feature-masked nodes."""
        return torch.unique(torch.cat([self.removed_nodes, self.masked_nodes]))

    def forget_pairs(self) -> torch.Tensor:
        """E_d as node pairs, shape (2, |E_d|)."""
        return self.data.edge_index[:, self.forget_edges]

    def feature_mask(self) -> torch.Tensor:
        """True where a node's features may be used after the deletion."""
        mask = torch.ones(self.data.num_nodes, dtype=torch.bool)
        mask[self.masked_nodes] = False
        return mask

    def retain_x(self) -> torch.Tensor:
        return self.data.x * self.feature_mask().unsqueeze(1).to(self.data.x.dtype)

    def record(self) -> dict[str, Any]:
        """The resolved request as stable ids (what a model directory stores; no owner names)."""
        d = self.data
        return {
            "kind": self.kind,
            "mode": self.mode,
            "seed": self.seed,
            "removed_edge_ids": d.edge_ids[self.removed_edges].tolist(),
            "forget_edge_ids": d.edge_ids[self.forget_edges].tolist(),
            "removed_node_ids": d.node_ids[self.removed_nodes].tolist(),
            "masked_node_ids": d.node_ids[self.masked_nodes].tolist(),
        }

    @classmethod
    def from_record(cls, data: GraphData, split: LinkSplit | NodeSplit, record: dict[str, Any]) -> GraphDeletion:
        """Rebuild a deletion stored with :meth:`record`."""
        try:
            parts = [
                data.edge_positions(record["removed_edge_ids"]),
                data.edge_positions(record["forget_edge_ids"]),
                data.node_positions(record["removed_node_ids"]),
                data.node_positions(record["masked_node_ids"]),
            ]
            kind, mode, seed = record["kind"], record.get("mode", "random"), int(record.get("seed", 0))
        except KeyError as exc:
            raise DataError(f"deletion record lacks {exc}") from None
        task = "link" if isinstance(split, LinkSplit) else "node"
        meta = {"kind": kind, "mode": mode, "seed": seed, "edge_ids_hash": ids_hash(record["removed_edge_ids"])}
        return cls(data, task, split, kind, mode, *parts, seed=seed, meta=meta)

    def kept_nodes(self) -> torch.Tensor:
        """Node mask: False for removed nodes (they leave the node-classification losses)."""
        mask = torch.ones(self.data.num_nodes, dtype=torch.bool)
        mask[self.removed_nodes] = False
        return mask


def _count(amount: float, total: int, what: str) -> int:
    if amount <= 0:
        raise ConfigError(f"the amount to delete must be > 0, got {amount}")
    n = round(amount * total) if amount < 1 else int(amount)
    if n < 1 or n >= total:
        raise ConfigError(f"cannot delete {n} of {total} {what}")
    return n


def _test_region(data: GraphData, split: LinkSplit | NodeSplit, hops: int = 2) -> torch.Tensor:
    """Mask over training edges inside the ``hops``-hop enclosing subgraph of the test edges (GNNDelete)."""
    from torch_geometric.utils import k_hop_subgraph

    if not isinstance(split, LinkSplit):
        raise ConfigError("in/out edge deletion is defined for link prediction only; use mode='random'")
    centre = split.test_pos.flatten().unique()
    _, _, _, mask = k_hop_subgraph(centre, hops, data.message_index(split.train), num_nodes=data.num_nodes)
    directed = mask.view(2, -1).any(0)  # message_index lists each edge twice: first half, then flipped
    return directed


def make_deletion(
    data: GraphData,
    split: LinkSplit | NodeSplit,
    kind: str = "edge",
    amount: float = 0.025,
    *,
    mode: str = "random",
    owner: str | None = None,
    seed: int = 0,
    task: str | None = None,
    mask_features: bool = True,
) -> GraphDeletion:
    """Resolve a deletion request (see the module docstring) to a :class:`GraphDeletion`."""
    if kind not in DELETION_KINDS:
        raise ConfigError(f"unknown deletion kind {kind!r}; choose one of {', '.join(DELETION_KINDS)}")
    if mode not in EDGE_MODES:
        raise ConfigError(f"unknown edge-deletion mode {mode!r}; choose one of {', '.join(EDGE_MODES)}")
    task = task or ("link" if isinstance(split, LinkSplit) else "node")
    g = _gen("graph-deletion", seed, kind, mode, amount)
    empty = torch.zeros(0, dtype=torch.long)
    train = split.train
    removed_nodes = masked = empty
    if kind == "edge":
        pool = train
        if mode != "random":
            inside = _test_region(data, split)
            pool = train[inside] if mode == "in" else train[~inside]
        n = _count(amount, train.numel(), "training edges")
        if n > pool.numel():
            raise DataError(
                f"{data.name}: only {pool.numel()} training edges lie {mode}side the test edges' 2-hop subgraph, "
                f"cannot delete {n} (use a smaller amount or mode='random')"
            )
        removed = torch.sort(pool[torch.randperm(pool.numel(), generator=g)[:n]]).values
        forget = removed
    elif kind in ("node", "feature"):
        n = _count(amount, data.num_nodes, "nodes")
        nodes = torch.sort(torch.randperm(data.num_nodes, generator=g)[:n]).values
        incident = data.incident_edges(nodes)
        in_train = torch.zeros(data.num_edges, dtype=torch.bool)
        in_train[train] = True
        forget = incident[in_train[incident]]
        masked = nodes if (kind == "feature" or mask_features) else empty
        if kind == "node":
            removed_nodes, removed = nodes, forget
        else:
            removed = empty
    else:
        if owner is None:
            raise ConfigError("owner deletion needs owner=")
        nodes, edges = data.owned(owner)
        in_train = torch.zeros(data.num_edges, dtype=torch.bool)
        in_train[train] = True
        removed = forget = edges[in_train[edges]]
        removed_nodes = masked = nodes
    if forget.numel() == 0:
        raise DataError(f"{data.name}: the {kind} deletion touches no training edge; nothing to forget")
    meta = {
        "kind": kind,
        "mode": mode,
        "amount": amount,
        "seed": seed,
        "edge_ids_hash": ids_hash(data.edge_ids[removed].tolist()),
        "node_ids_hash": ids_hash(data.node_ids[masked].tolist()),
        "removed_edges": int(removed.numel()),
        "forget_edges": int(forget.numel()),
        "removed_nodes": int(removed_nodes.numel()),
        "masked_nodes": int(masked.numel()),
    }
    return GraphDeletion(data, task, split, kind, mode, removed, forget, removed_nodes, masked, seed, meta)
