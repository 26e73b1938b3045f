"""The four GNNs: edge_index and sparse adjacency agree; each trains, unlearns and serves without E_d."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import to_torch_csr_tensor

from unlearnkit.context import RunContext
from unlearnkit.graph.datasets import sbm
from unlearnkit.graph.methods.d2dgn import D2DGN
from unlearnkit.graph.methods.gnndelete import GNNDelete
from unlearnkit.graph.metrics import evaluate_graph
from unlearnkit.graph.models import ARCHS, GNN, GNNSpec
from unlearnkit.graph.tasks import link_split, make_deletion
from unlearnkit.graph.train import GraphTrainConfig, train_original


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta", "ignore:Sparse invariant checks")
@pytest.mark.parametrize("arch", ARCHS)
def test_edge_index_and_sparse_adjacency_agree(arch: str) -> None:
    data = sbm(blocks=3, block_size=10, num_features=8, seed=0)
    torch.manual_seed(0)
    model = GNN(GNNSpec(arch, data.num_features, data.num_nodes, hidden=16, out=8))
    index = data.message_index()
    adj = to_torch_csr_tensor(index, size=(data.num_nodes, data.num_nodes))  # symmetric: adj == adj_t
    with torch.no_grad():
        assert torch.allclose(model.encode(data.x, index)[-1], model.encode(data.x, adj)[-1], atol=1e-5)
    assert arch in repr(model) and "8→16→8" in repr(model)


@pytest.mark.parametrize("arch", ARCHS)
def test_each_arch_trains_and_unlearns(arch: str) -> None:
    data = sbm(blocks=3, block_size=15, p_in=0.3, num_features=8, seed=0)
    split = link_split(data, seed=0)
    ctx = RunContext(seed=0)
    original = train_original(data, split, GraphTrainConfig.cpu(arch=arch, hidden=16, out=8, epochs=40), ctx)
    deletion = make_deletion(data, split, "edge", 0.1, seed=0)
    assert evaluate_graph(original, deletion, metrics=["dt_auroc"])["dt_auroc"] > 0.6
    n = data.num_nodes
    gone = data.edge_index[:, deletion.removed_edges]
    gone_keys = set((gone[0] * n + gone[1]).tolist()) | set((gone[1] * n + gone[0]).tolist())
    for method in (GNNDelete(epochs=5), D2DGN(epochs=5)):
        model = method.unlearn(original, deletion, ctx=ctx).model
        served = set((model.mp_edge_index[0] * n + model.mp_edge_index[1]).tolist())
        assert not served & gone_keys
        assert model.spec.arch == arch
