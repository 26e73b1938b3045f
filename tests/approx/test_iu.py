"""IU-specific properties: the WoodFisher inverse-Hessian-vector product, forgetting, and collapse at large α."""

from __future__ import annotations

import torch

from unlearnkit.approx._common import evaluate
from unlearnkit.approx.iu import IU, woodfisher_ihvp, woodfisher_official
from unlearnkit.context import RunContext


def test_woodbury_ihvp_matches_a_dense_solve():
    g = torch.Generator().manual_seed(0)
    grads, v = torch.randn(30, 50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    hessian = 0.5 * torch.eye(50, dtype=torch.float64) + grads.T @ grads / 20.0
    torch.testing.assert_close(woodfisher_ihvp(grads, v, norm=20.0, damping=0.5), torch.linalg.solve(hessian, v))


def test_released_recursion_is_only_a_rank_one_correction():
    """The official ``woodfisher`` returns v + c·g_0 (the deviation the module docstring documents)."""
    g = torch.Generator().manual_seed(1)
    grads, v = torch.randn(12, 40, generator=g, dtype=torch.float64), torch.randn(40, generator=g, dtype=torch.float64)
    delta = woodfisher_official(grads, v, norm=5.0) - v
    coef = torch.dot(delta, grads[0]) / torch.dot(grads[0], grads[0])
    torch.testing.assert_close(delta, coef * grads[0])
    hessian = torch.eye(40, dtype=torch.float64) + grads[1:].T @ grads[1:] / 5.0
    assert not torch.allclose(delta + v, torch.linalg.solve(hessian, v))


def test_forgets_the_class_at_the_tuned_alpha_and_collapses_at_a_large_one(well_trained):
    model, split = well_trained
    ctx = RunContext(seed=0)
    res = IU(alpha=5.0, fisher_samples=300, solver="woodbury").unlearn(model, split, ctx=ctx)
    assert res.steps == 1 and res.metadata["fisher_samples"] == 300
    assert evaluate(res.model, split.forget)["acc"] <= 0.05
    assert evaluate(res.model, split.retain)["acc"] >= evaluate(model, split.retain)["acc"] - 0.05
    big = IU(alpha=50.0, fisher_samples=300, solver="woodbury").unlearn(model, split, ctx=ctx)
    assert evaluate(big.model, split.retain)["acc"] <= 0.6  # one large step along v destroys the model


def test_step_is_alpha_times_the_ihvp(class_task):
    model, split = class_task.original, class_task.split
    a = IU(alpha=1.0, fisher_samples=50).unlearn(model, split, ctx=RunContext(seed=0))
    b = IU(alpha=3.0, fisher_samples=50).unlearn(model, split, ctx=RunContext(seed=0))
    for p0, pa, pb in zip(model.parameters(), a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(pb - p0, 3.0 * (pa - p0), atol=1e-6, rtol=1e-4)
