"""Conformance of every registered pruner on a classifier and a GPT-2 (Conv1D) model."""

from __future__ import annotations

import copy

import pytest
import torch

from unlearnkit.errors import ConfigError
from unlearnkit.recovery.prune import PRUNERS, PruneConfig, get_pruner, prunable, sparsity_of
from unlearnkit.recovery.prune.base import weight_out_in

get_pruner("magnitude")  # imports every pruner file
NAMES = sorted(PRUNERS)


def _calibration(kind: str, digits, tiny_lm):
    if kind == "classifier":
        return digits.reference, [digits.candidates.data.x[:128]]
    model, tok = tiny_lm
    ids = tok(["copy 1 2 3 -> 1 2 3", "add 3 4 -> 7"], return_tensors="pt", padding=True)
    return model, [dict(ids)]


@pytest.mark.parametrize("kind", ["classifier", "lm"])
@pytest.mark.parametrize("name", NAMES)
def test_pruner_contract(name: str, kind: str, digits, tiny_lm) -> None:
    model, calib = _calibration(kind, digits, tiny_lm)
    before = copy.deepcopy(model.state_dict())
    pruner = get_pruner(name)(PruneConfig(sparsity=0.5, pattern="row"))
    a, b = pruner.prune(model, calib), pruner.prune(model, calib)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # input untouched
    assert all(torch.equal(a.model.state_dict()[k], v) for k, v in b.model.state_dict().items())  # deterministic
    assert abs(sparsity_of(a.model) - 0.5) < 0.02 and a.record["layers"] == len(prunable(model))
    for name_, m in prunable(a.model):  # per row: every output row lost exactly half its inputs
        w = weight_out_in(m)
        assert ((w == 0).sum(1) >= w.shape[1] // 2).all(), name_
    head = getattr(a.model, "head", None) or getattr(a.model, "lm_head", None)
    assert head is None or float((head.weight == 0).float().mean()) < 0.1  # heads are never pruned


@pytest.mark.parametrize("name", NAMES)
def test_n_m_pattern(name: str, digits, tiny_lm) -> None:
    model, calib = _calibration("lm", digits, tiny_lm)
    res = get_pruner(name)(PruneConfig(pattern="n:m", n=2, m=4)).prune(model, calib)
    for _, m in prunable(res.model):
        groups = (weight_out_in(m) != 0).reshape(weight_out_in(m).shape[0], -1, 4).sum(-1)
        assert (groups <= 2).all()


def test_wanda_needs_retain_calibration_and_uses_it(digits) -> None:
    wanda = get_pruner("wanda")(PruneConfig(sparsity=0.5))
    with pytest.raises(ConfigError):
        wanda.prune(digits.reference, None)
    x = digits.candidates.data.x
    m1 = wanda.prune(digits.reference, [x[:100]]).masks
    m2 = wanda.prune(digits.reference, [x[:100] * torch.linspace(0.01, 1, x.shape[1])]).masks
    assert any(not torch.equal(m1[k], m2[k]) for k in m1)  # the masks depend on the calibration data
    mag = get_pruner("magnitude")(PruneConfig(sparsity=0.5)).prune(digits.reference).masks
    assert any(not torch.equal(m1[k], mag[k]) for k in m1)


def test_bad_config_is_one_clear_error() -> None:
    with pytest.raises(ConfigError):
        PruneConfig(sparsity=1.0)
    with pytest.raises(ConfigError):
        PruneConfig(pattern="blocks")
    with pytest.raises(ConfigError):
        get_pruner("sparsegpt")


def test_neuron_pattern_removes_whole_output_rows(digits) -> None:
    res = get_pruner("magnitude")(PruneConfig(sparsity=0.25, pattern="neuron")).prune(digits.reference)
    for _, m in prunable(res.model):
        rows_zero = (weight_out_in(m) == 0).all(1)
        assert int(rows_zero.sum()) == int(weight_out_in(m).shape[0] * 0.25)
