"""Graph data, loaders, splits and deletion requests: ids, owners, canonical edges, GNNDelete's settings."""

from __future__ import annotations

import sys

import pytest
import torch

from unlearnkit.errors import ConfigError, DataError, UnknownIdError
from unlearnkit.graph.data import GraphData, canonical_edges
from unlearnkit.graph.datasets import OFFLINE, karate, load_graph, planted_partition, sbm
from unlearnkit.graph.tasks import GraphDeletion, link_split, make_deletion, node_split


def test_edges_are_canonicalised_and_validated() -> None:
    ei = torch.tensor([[1, 0, 2, 2, 3], [0, 1, 2, 3, 2]])
    assert canonical_edges(ei, 4).tolist() == [[0, 2], [1, 3]]
    data = GraphData.create(torch.zeros(4, 2), ei, torch.tensor([0, 0, 1, 1]))
    assert data.num_edges == 2 and data.edge_owner == ("user0", "user2")
    with pytest.raises(DataError, match="outside"):
        canonical_edges(torch.tensor([[0], [9]]), 4)
    with pytest.raises(DataError, match="u < v"):
        GraphData(
            torch.zeros(3, 1), torch.tensor([[1], [0]]), torch.zeros(3, dtype=torch.long), torch.arange(3),
            torch.arange(1), ("a", "b", "c"), ("a",), 1,
        )  # fmt: skip


def test_ids_and_owners(tiny_graph: GraphData) -> None:
    assert tiny_graph.node_positions([5, 7]).tolist() == [5, 7]
    with pytest.raises(UnknownIdError):
        tiny_graph.edge_positions([10**6])
    nodes, edges = tiny_graph.owned("user3")
    assert nodes.tolist() == [3]
    touching = (tiny_graph.edge_index[:, edges] == 3).any(0)
    assert touching.all() and edges.numel() == int((tiny_graph.edge_index == 3).any(0).sum())
    with pytest.raises(UnknownIdError, match="unknown owner"):
        tiny_graph.owned("nobody")


def test_generated_graphs_are_seeded_and_offline() -> None:
    a, b = sbm(blocks=3, block_size=10, seed=1), sbm(blocks=3, block_size=10, seed=1)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    assert not torch.equal(a.edge_index, sbm(blocks=3, block_size=10, seed=2).edge_index)
    pp = planted_partition(groups=3, group_size=10, seed=0)
    assert pp.num_nodes == 30 and pp.num_classes == 3
    k = karate()
    assert (k.num_nodes, k.num_edges, k.num_classes) == (34, 78, 2)
    for name in OFFLINE:
        assert load_graph(**load_graph(name).source).num_edges == load_graph(name).num_edges
    with pytest.raises(ConfigError, match="unknown graph"):
        load_graph("cora")


def test_link_split_is_disjoint(tiny_graph: GraphData) -> None:
    split = link_split(tiny_graph, seed=0)
    n = tiny_graph.num_nodes
    key = lambda e: set((e[0] * n + e[1]).tolist())  # noqa: E731
    train = key(tiny_graph.edge_index[:, split.train])
    assert not train & key(split.test_pos) and not train & key(split.val_pos)
    assert not key(split.test_neg) & key(tiny_graph.edge_index)
    assert split.test_pos.shape == split.test_neg.shape


@pytest.mark.parametrize("kind", ["edge", "node", "feature", "owner"])
def test_deletions(tiny_graph: GraphData, kind: str) -> None:
    split = link_split(tiny_graph, seed=0)
    d = make_deletion(tiny_graph, split, kind, 0.05, owner="user4" if kind == "owner" else None, seed=0)
    n = tiny_graph.num_nodes
    served = set((d.retain_index()[0] * n + d.retain_index()[1]).tolist())
    removed = tiny_graph.edge_index[:, d.removed_edges]
    assert not served & set((removed[0] * n + removed[1]).tolist())
    assert d.forget_edges.numel() > 0
    if kind == "feature":
        assert d.removed_edges.numel() == 0 and (d.retain_x()[d.masked_nodes] == 0).all()
    if kind in ("node", "owner"):
        assert d.removed_nodes.numel() > 0 and torch.equal(d.removed_edges, d.forget_edges)
    again = GraphDeletion.from_record(tiny_graph, split, d.record())
    assert torch.equal(again.removed_edges, d.removed_edges) and torch.equal(again.masked_nodes, d.masked_nodes)


def test_edge_amounts_and_modes(tiny_graph: GraphData) -> None:
    split = link_split(tiny_graph, seed=0)
    assert make_deletion(tiny_graph, split, "edge", 5, seed=0).removed_edges.numel() == 5
    frac = make_deletion(tiny_graph, split, "edge", 0.05, seed=0)
    assert frac.removed_edges.numel() == round(0.05 * split.train.numel())
    inside = make_deletion(tiny_graph, split, "edge", 3, mode="in", seed=0)
    assert inside.removed_edges.numel() == 3
    # the 2-hop subgraph of the test edges covers this small dense graph: "out" has too few edges
    with pytest.raises(DataError, match="outside"):
        make_deletion(tiny_graph, split, "edge", 0.2, mode="out", seed=0)
    with pytest.raises(ConfigError, match="cannot delete"):
        make_deletion(tiny_graph, split, "edge", 10**6, seed=0)
    with pytest.raises(ConfigError, match="unknown deletion kind"):
        make_deletion(tiny_graph, split, "graph", 0.1)
    with pytest.raises(ConfigError, match="link prediction only"):
        make_deletion(tiny_graph, node_split(tiny_graph), "edge", 0.1, mode="out")


def test_node_deletion_can_keep_features(tiny_graph: GraphData) -> None:
    split = link_split(tiny_graph, seed=0)
    d = make_deletion(tiny_graph, split, "node", 0.05, seed=0, mask_features=False)
    assert d.masked_nodes.numel() == 0 and d.deleted_nodes.numel() == d.removed_nodes.numel() > 0


def test_missing_extra_is_a_one_line_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "unlearnkit.graph" or m.startswith("unlearnkit.graph.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch_geometric", None)
    with pytest.raises(ImportError, match=r"pip install 'unlearnkit\[graph\]'"):
        import unlearnkit.graph  # noqa: F401
