"""Tiny graph tasks shared by the graph tests: a 100-node SBM, trained for link prediction and node
classification once per session (each original trains in well under a second on one thread)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

pytest.importorskip("torch_geometric")

from unlearnkit.context import RunContext
from unlearnkit.graph.data import GraphData
from unlearnkit.graph.datasets import sbm
from unlearnkit.graph.models import GNN
from unlearnkit.graph.tasks import GraphDeletion, link_split, make_deletion, node_split
from unlearnkit.graph.train import GraphTrainConfig, train_original

TINY_TRAIN = GraphTrainConfig.cpu(hidden=32, out=16, epochs=80)


@dataclass
class GraphTask:
    data: GraphData
    original: GNN
    deletion: GraphDeletion


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_train() -> GraphTrainConfig:
    return TINY_TRAIN


@pytest.fixture(scope="session")
def tiny_graph() -> GraphData:
    return sbm(blocks=4, block_size=25, p_in=0.3, p_out=0.01, num_features=16, seed=0)


@pytest.fixture(scope="session")
def link_task(tiny_graph: GraphData) -> GraphTask:
    split = link_split(tiny_graph, seed=0)
    original = train_original(tiny_graph, split, TINY_TRAIN, RunContext(seed=0))
    return GraphTask(tiny_graph, original, make_deletion(tiny_graph, split, "edge", 0.1, seed=0))


@pytest.fixture(scope="session")
def node_task(tiny_graph: GraphData) -> GraphTask:
    split = node_split(tiny_graph, seed=0)
    original = train_original(tiny_graph, split, TINY_TRAIN, RunContext(seed=0))
    return GraphTask(tiny_graph, original, make_deletion(tiny_graph, split, "node", 0.05, seed=0))
