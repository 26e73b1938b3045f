"""Two-layer GNN encoders (GCN, GAT, GIN, GraphSAGE) for link prediction and node classification.

The shape follows GNNDelete's ``framework/models/{gcn,gat,gin}.py``: ``h1 = conv1(x)``, ``z = conv2(relu(h1))``;
link prediction decodes a pair with the dot product σ(z_u · z_v); node classification reads ``z`` as class
logits (``out`` = number of classes). ``layer_hook`` (identity here) runs after each conv, before the
activation — where GNNDelete inserts its deletion operator (:mod:`unlearnkit.graph.methods.gnndelete`).

A :class:`GNN` carries the graph it serves with: ``mp_edge_index`` (the directed message-passing edges) and
``feature_mask`` (nodes whose features may be used) are buffers, saved with the weights, so "which edges does
this model pass messages over" is a property of the model, not of the caller.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from unlearnkit.errors import ConfigError

ARCHS = ("gcn", "gat", "gin", "sage")
TASKS = ("link", "node")


@dataclass(frozen=True)
class GNNSpec:
    """What :func:`build_gnn` needs. GNNDelete's defaults: hidden 128, out 64."""

    arch: str
    in_dim: int
    num_nodes: int
    hidden: int = 128
    out: int = 64
    task: str = "link"
    deletion_layers: bool = False

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown GNN {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.task not in TASKS:
            raise ConfigError(f"unknown graph task {self.task!r}; choose one of {', '.join(TASKS)}")
        if min(self.in_dim, self.hidden, self.out, self.num_nodes) < 1:
            raise ConfigError("in_dim, hidden, out and num_nodes must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


def make_conv(arch: str, in_dim: int, out_dim: int) -> nn.Module:
    from torch_geometric.nn import GATConv, GCNConv, GINConv, SAGEConv

    if arch == "gcn":
        return GCNConv(in_dim, out_dim)
    if arch == "gat":
        return GATConv(in_dim, out_dim, heads=1)
    if arch == "gin":
        return GINConv(nn.Linear(in_dim, out_dim))
    if arch == "sage":
        return SAGEConv(in_dim, out_dim)
    raise ConfigError(f"unknown GNN {arch!r}; choose one of {', '.join(ARCHS)}")


class GNN(nn.Module):
    """Two message-passing layers plus the graph it serves with.

    ``forward(x)`` masks features and passes messages over ``mp_edge_index``; ``encode(x, edge_index)`` runs
    on an explicit graph and returns both layer outputs (GNNDelete's ``return_all_emb``).
    """

    def __init__(self, spec: GNNSpec) -> None:
        super().__init__()
        self.spec = spec
        self.convs = nn.ModuleList(
            [make_conv(spec.arch, spec.in_dim, spec.hidden), make_conv(spec.arch, spec.hidden, spec.out)]
        )
        self.register_buffer("mp_edge_index", torch.zeros(2, 0, dtype=torch.long))
        self.register_buffer("feature_mask", torch.ones(spec.num_nodes, dtype=torch.bool))

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def layer_hook(self, layer: int, h: Tensor) -> Tensor:
        return h

    def encode(self, x: Tensor, edge_index: Tensor) -> list[Tensor]:
        """``[h1, z]``: both layers' outputs (before the activation), messages over ``edge_index``."""
        h1 = self.layer_hook(0, self.convs[0](x, edge_index))
        z = self.layer_hook(1, self.convs[1](torch.relu(h1), edge_index))
        return [h1, z]

    def masked(self, x: Tensor) -> Tensor:
        return x * self.feature_mask.unsqueeze(1).to(x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        """Final node embeddings (link) or logits (node) on the served graph."""
        return self.encode(self.masked(x), self.mp_edge_index)[-1]

    def set_graph(self, edge_index: Tensor, feature_mask: Tensor | None = None) -> GNN:
        """Set the served message-passing graph (directed ``edge_index``) and feature mask."""
        self.mp_edge_index = edge_index.detach().clone().long()
        if feature_mask is not None:
            self.feature_mask = feature_mask.detach().clone().bool()
        return self

    @staticmethod
    def decode(z: Tensor, pairs: Tensor) -> Tensor:
        """Edge logits z_u · z_v for node pairs ``(2, P)``."""
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)

    @torch.no_grad()
    def link_probs(self, x: Tensor, pairs: Tensor) -> Tensor:
        return torch.sigmoid(self.decode(self(x), pairs))

    def extra_repr(self) -> str:
        s = self.spec
        served = self.mp_edge_index.shape[1]
        return f"arch={s.arch}, {s.in_dim}→{s.hidden}→{s.out}, task={s.task}, served_edges={served}"


def build_gnn(spec: GNNSpec) -> GNN:
    """A :class:`GNN`, or GNNDelete's model with deletion layers when ``spec.deletion_layers``."""
    if spec.deletion_layers:
        from unlearnkit.graph.methods.gnndelete import DeletionGNN

        return DeletionGNN(spec)
    return GNN(spec)
