"""Graph loaders: generated graphs and networkx's bundled graphs (offline), Planetoid/OGB (downloaded on demand).

- ``sbm``: a stochastic block model (:func:`torch_geometric.utils.stochastic_blockmodel_graph`) with features
  N(0, 1) plus ``signal`` × one-hot(block) in the first dimensions — the CPU recipe of the graph notes (E.2):
  8 blocks × 60 nodes, p_in 0.15, p_out 0.004, 32 features.
- ``planted_partition``: networkx's planted-partition graph (``l`` groups of ``k`` nodes) with features drawn
  around a random per-group centroid (a second structure with a different degree profile).
- ``karate``, ``les_miserables``, ``florentine``, ``davis``: networkx's bundled graphs (the embedded default,
  ``karate``), identity features, community labels (karate: the club; others: greedy modularity).
- ``planetoid`` (Cora/CiteSeer/PubMed) and ``ogb`` (``ogbn-arxiv`` …) download to ``root`` when *a user runs
  them*; tests never call them.

Every loader is seeded and returns :class:`~unlearnkit.graph.data.GraphData` with ``source`` recording its name
and arguments, so a saved model can rebuild exactly the graph it was trained on (:func:`load_graph`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx
import torch

from unlearnkit.context import derive_seed
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.graph.data import GraphData


def _gen(seed: int, *parts: object) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(derive_seed("graph-data", seed, *parts))
    return g


def sbm(
    blocks: int = 8,
    block_size: int = 60,
    p_in: float = 0.15,
    p_out: float = 0.004,
    num_features: int = 32,
    signal: float = 1.5,
    seed: int = 0,
) -> GraphData:
    """A stochastic block model with block-informative features (labels = blocks)."""
    from torch_geometric.utils import stochastic_blockmodel_graph

    if blocks < 2 or block_size < 2 or not (0 <= p_out <= 1 and 0 <= p_in <= 1) or num_features < blocks:
        raise ConfigError("sbm needs blocks >= 2, block_size >= 2, probabilities in [0, 1], num_features >= blocks")
    g = _gen(seed, "sbm")
    probs = torch.full((blocks, blocks), float(p_out))
    probs.fill_diagonal_(float(p_in))
    # stochastic_blockmodel_graph draws from the global RNG: fork it so the caller's stream is untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
        ei = stochastic_blockmodel_graph([block_size] * blocks, probs, directed=False)
    y = torch.arange(blocks).repeat_interleave(block_size)
    x = torch.randn(blocks * block_size, num_features, generator=g)
    x[torch.arange(y.numel()), y] += signal
    src = {"name": "sbm", "blocks": blocks, "block_size": block_size, "p_in": p_in, "p_out": p_out}
    src |= {"num_features": num_features, "signal": signal, "seed": seed}
    return GraphData.create(x, ei, y, num_classes=blocks, name=f"sbm-{blocks}x{block_size}", source=src)


def planted_partition(
    groups: int = 6,
    group_size: int = 80,
    p_in: float = 0.12,
    p_out: float = 0.006,
    num_features: int = 32,
    spread: float = 1.0,
    seed: int = 0,
) -> GraphData:
    """networkx's planted partition; features = a random unit centroid per group + ``spread`` × N(0, 1)."""
    if groups < 2 or group_size < 2:
        raise ConfigError("planted_partition needs groups >= 2 and group_size >= 2")
    g = _gen(seed, "planted")
    graph = nx.planted_partition_graph(groups, group_size, p_in, p_out, seed=int(derive_seed("pp", seed) % 2**31))
    ei = torch.tensor(list(graph.edges()), dtype=torch.long).t().reshape(2, -1)
    y = torch.arange(groups).repeat_interleave(group_size)
    centroids = torch.nn.functional.normalize(torch.randn(groups, num_features, generator=g), dim=1) * 2.0
    x = centroids[y] + spread * torch.randn(y.numel(), num_features, generator=g)
    src = {"name": "planted_partition", "groups": groups, "group_size": group_size, "p_in": p_in, "p_out": p_out}
    src |= {"num_features": num_features, "spread": spread, "seed": seed}
    return GraphData.create(x, ei, y, num_classes=groups, name=f"planted-{groups}x{group_size}", source=src)


def from_networkx(graph: nx.Graph, labels: list[int] | None = None, name: str = "networkx") -> GraphData:
    """Any networkx graph: identity features, ``labels`` or greedy-modularity communities as classes."""
    nodes = list(graph.nodes())
    pos = {v: i for i, v in enumerate(nodes)}
    ei = torch.tensor([[pos[u], pos[v]] for u, v in graph.edges()], dtype=torch.long).t().reshape(2, -1)
    if labels is None:
        labels = [0] * len(nodes)
        for c, community in enumerate(nx.community.greedy_modularity_communities(graph)):
            for v in community:
                labels[pos[v]] = c
    return GraphData.create(torch.eye(len(nodes)), ei, torch.tensor(labels), name=name)


def karate(seed: int = 0) -> GraphData:
    """Zachary's karate club (34 nodes, 78 edges), labels = the club (Mr. Hi / Officer)."""
    graph = nx.karate_club_graph()
    labels = [int(graph.nodes[v]["club"] != "Mr. Hi") for v in graph.nodes()]
    return _named(from_networkx(graph, labels, "karate"), {"name": "karate", "seed": seed})


def les_miserables(seed: int = 0) -> GraphData:
    return _named(from_networkx(nx.les_miserables_graph(), name="les_miserables"), {"name": "les_miserables"})


def florentine(seed: int = 0) -> GraphData:
    return _named(from_networkx(nx.florentine_families_graph(), name="florentine"), {"name": "florentine"})


def davis(seed: int = 0) -> GraphData:
    return _named(from_networkx(nx.davis_southern_women_graph(), name="davis"), {"name": "davis"})


def _named(data: GraphData, source: dict[str, Any]) -> GraphData:
    object.__setattr__(data, "source", source)
    return data


def _from_pyg(d: Any, name: str, source: dict[str, Any]) -> GraphData:
    y = d.y.view(-1) if d.y is not None else torch.zeros(d.num_nodes, dtype=torch.long)
    return GraphData.create(d.x.float(), d.edge_index, y, name=name, source=source)


def planetoid(name: str = "Cora", root: str = "data/planetoid", seed: int = 0) -> GraphData:
    """Planetoid Cora/CiteSeer/PubMed with row-normalised features; **downloads** to ``root`` on first use."""
    from torch_geometric.datasets import Planetoid
    from torch_geometric.transforms import NormalizeFeatures

    try:
        ds = Planetoid(root, name, transform=NormalizeFeatures())
    except Exception as exc:  # network or file errors from the download
        raise DataError(f"planetoid {name}: could not load or download into {root}: {exc}") from None
    return _from_pyg(ds[0], name.lower(), {"name": "planetoid", "dataset": name, "root": root})


def ogb(name: str = "ogbn-arxiv", root: str = "data/ogb", seed: int = 0) -> GraphData:
    """An OGB node-property graph; needs the ``ogb`` package and **downloads** to ``root`` on first use."""
    try:
        from ogb.nodeproppred import PygNodePropPredDataset
    except ImportError:
        raise DataError("the ogb loader needs the ogb package: pip install ogb") from None
    try:
        ds = PygNodePropPredDataset(name=name, root=root)
    except Exception as exc:
        raise DataError(f"ogb {name}: could not load or download into {root}: {exc}") from None
    return _from_pyg(ds[0], name, {"name": "ogb", "dataset": name, "root": root})


LOADERS: dict[str, Callable[..., GraphData]] = {
    "sbm": sbm,
    "planted_partition": planted_partition,
    "karate": karate,
    "les_miserables": les_miserables,
    "florentine": florentine,
    "davis": davis,
    "planetoid": planetoid,
    "ogb": ogb,
}
OFFLINE = ("sbm", "planted_partition", "karate", "les_miserables", "florentine", "davis")


def load_graph(name: str = "karate", **kwargs: Any) -> GraphData:
    """``load_graph("sbm", seed=1)``; ``load_graph(**data.source)`` rebuilds a recorded graph."""
    if name not in LOADERS:
        raise ConfigError(f"unknown graph {name!r}; choose one of {', '.join(LOADERS)}")
    try:
        return LOADERS[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"graph {name!r}: {exc}") from None
