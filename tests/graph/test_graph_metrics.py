"""Graph metrics: registered directions, GNNDelete's definitions, FLOPs and the deletion operator."""

from __future__ import annotations

import copy

import pytest
import torch

from unlearnkit.context import RunContext
from unlearnkit.errors import ReferenceRequiredError
from unlearnkit.graph.methods.d2dgn import D2DGN, bernoulli_kl
from unlearnkit.graph.methods.gnndelete import GNNDelete, enclosing_masks, to_deletion_model
from unlearnkit.graph.metrics import batched_auroc_auprc, count_flops, evaluate_graph, graph_metric_names
from unlearnkit.graph.mia import LinkMembershipAttack, mi_ratio, mi_ratio_code
from unlearnkit.registry import get_metric


def test_metrics_declare_direction() -> None:
    names = set(graph_metric_names())
    assert {"dt_auroc", "dt_auprc", "df_auroc", "df_auprc", "mi_ratio", "node_acc", "flops_forward"} <= names
    for name in ("dt_auroc", "df_auroc", "mi_ratio", "node_acc"):
        assert get_metric(name).higher_is_better is True
    for name in ("df_auroc_gap", "unlearn_seconds", "flops_forward", "added_params", "mi_ratio_code"):
        assert get_metric(name).higher_is_better is False
    assert get_metric("df_auroc_gap").needs_reference


def test_reference_metric_needs_reference(link_task) -> None:
    with pytest.raises(ReferenceRequiredError):
        evaluate_graph(link_task.original, link_task.deletion, metrics=["df_auroc_gap"])
    twin = copy.deepcopy(link_task.original)
    gap = evaluate_graph(link_task.original, link_task.deletion, reference=twin, metrics=["df_auroc_gap"], draws=5)
    assert gap["df_auroc_gap"] == 0.0
    assert "df_auroc_gap" not in evaluate_graph(link_task.original, link_task.deletion, draws=5)


def test_auroc_values_are_sane(link_task) -> None:
    m = evaluate_graph(link_task.original, link_task.deletion, metrics=["dt_auroc", "df_auroc"], draws=50)
    assert m["dt_auroc"] > 0.75, "the tiny original should predict held-out links"
    assert 0.3 < m["df_auroc"] < 0.9, "the original cannot cleanly separate E_d from E_r"


def test_mi_ratio_orientation() -> None:
    before, after = torch.tensor([0.9, 0.8]), torch.tensor([0.3, 0.4])
    assert mi_ratio(before, after) > 1 > mi_ratio_code(before, after)
    assert mi_ratio(before, before) == pytest.approx(1.0)


def test_membership_attack_scores_original(link_task, tiny_train) -> None:
    attack = LinkMembershipAttack.fit(link_task.deletion, link_task.original.spec, tiny_train, RunContext(seed=0))
    assert attack.shadow_auc > 0.8
    m = evaluate_graph(link_task.original, link_task.deletion, original=link_task.original, attack=attack, draws=5)
    assert m["mi_ratio"] == pytest.approx(1.0)


def test_gnndelete_operator_and_flops(link_task) -> None:
    original, deletion = link_task.original, link_task.deletion
    x, index = deletion.retain_x(), deletion.retain_index()
    net = to_deletion_model(original, "identity")
    m1, m2, _ = enclosing_masks(deletion)
    net.del_mask1, net.del_mask2 = m1, m2
    with torch.no_grad():  # identity init: the deletion model starts as the original
        assert torch.allclose(net.encode(x, index)[-1], original.encode(x, index)[-1], atol=1e-5)
    assert m1.sum() <= m2.sum() and m1[deletion.forget_pairs().flatten()].all()
    paper = to_deletion_model(original, "paper_code")
    assert torch.allclose(paper.deletion[0], torch.full_like(paper.deletion[0], 1e-3))
    result = GNNDelete(epochs=5, lr=1e-2).unlearn(original, deletion, ctx=RunContext(seed=0))
    for k, v in original.state_dict().items():  # only the deletion weights train
        assert torch.equal(result.model.state_dict()[k], v) or k in ("mp_edge_index", "feature_mask")
    hidden, out = original.spec.hidden, original.spec.out
    extra = 2 * (int(m1.sum()) * hidden * hidden + int(m2.sum()) * out * out)
    assert count_flops(result.model, x, index) == count_flops(original, x, index) + extra
    d2 = D2DGN(epochs=3).unlearn(original, deletion, ctx=RunContext(seed=0)).model
    assert count_flops(d2, x, index) == count_flops(original, x, index)
    assert evaluate_graph(d2, deletion, metrics=["added_params"])["added_params"] == 0
    assert evaluate_graph(result.model, deletion, metrics=["added_params"])["added_params"] == hidden**2 + out**2


def test_bernoulli_kl_is_zero_on_itself_and_positive_otherwise() -> None:
    s = torch.tensor([-2.0, 0.0, 3.0])
    assert bernoulli_kl(s, s).item() == pytest.approx(0.0, abs=1e-7)
    assert bernoulli_kl(s, -s).item() > 0.1


def test_batched_auroc_matches_sklearn() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    g = torch.Generator().manual_seed(0)
    pos, neg = torch.rand(3, 7, generator=g, dtype=torch.float64), torch.rand(3, 9, generator=g, dtype=torch.float64)
    auroc, ap = batched_auroc_auprc(pos, neg)
    for i in range(3):
        labels = [1] * 7 + [0] * 9
        scores = torch.cat([pos[i], neg[i]]).numpy()
        assert auroc[i].item() == pytest.approx(roc_auc_score(labels, scores))
        assert ap[i].item() == pytest.approx(average_precision_score(labels, scores))
