"""The loss maths against hand-computed values."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from unlearnkit.llm.data import IGNORE
from unlearnkit.llm.losses import (
    kl_divergence,
    masked_mse,
    mean_nll,
    npo_loss,
    sequence_logprob,
    sequence_nll,
    simnpo_loss,
    token_logprobs,
)


def _logits() -> tuple[torch.Tensor, torch.Tensor]:
    # one sequence of 3 tokens over a 2-word vocabulary; position t predicts token t+1
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0], [5.0, 5.0]]])
    labels = torch.tensor([[IGNORE, 0, 0]])
    return logits, labels


def test_token_logprobs_shift_and_mask() -> None:
    logits, labels = _logits()
    lp, mask = token_logprobs(logits, labels)
    # p(token1=0 | pos0) = 1/2, p(token2=0 | pos1) = 3/4
    assert torch.allclose(lp, torch.tensor([[math.log(0.5), math.log(0.75)]]))
    assert mask.tolist() == [[True, True]]
    assert math.isclose(float(sequence_logprob(logits, labels)), math.log(0.5) + math.log(0.75), rel_tol=1e-6)
    assert math.isclose(float(sequence_nll(logits, labels)), -(math.log(0.5) + math.log(0.75)) / 2, rel_tol=1e-6)


def test_pads_do_not_count() -> None:
    logits, _ = _logits()
    padded = torch.tensor([[IGNORE, 0, IGNORE]])
    assert math.isclose(float(sequence_nll(logits, padded)), -math.log(0.5), rel_tol=1e-6)
    assert math.isclose(float(mean_nll(logits, padded)), -math.log(0.5), rel_tol=1e-6)


def test_npo_loss_by_hand() -> None:
    cur, ref, beta = torch.tensor([-2.0, -4.0]), torch.tensor([-1.0, -1.0]), 0.5
    expected = sum(-(2 / beta) * math.log(1 / (1 + math.exp(beta * (c - r)))) for c, r in ((-2, -1), (-4, -1))) / 2
    assert math.isclose(float(npo_loss(cur, ref, beta)), expected, rel_tol=1e-6)
    # equal likelihoods: (2/β)·log 2
    assert math.isclose(float(npo_loss(ref, ref, beta)), (2 / beta) * math.log(2), rel_tol=1e-6)


def test_npo_gradient_tends_to_gradient_ascent_as_beta_vanishes() -> None:
    cur = torch.tensor([-2.0], requires_grad=True)
    npo_loss(cur, torch.tensor([-1.0]), 1e-4).backward()
    assert math.isclose(float(cur.grad), 1.0, rel_tol=1e-3)  # d/dlogp of −(−logp) direction: descend logp


def test_simnpo_loss_by_hand() -> None:
    avg = torch.tensor([0.5])
    beta, delta = 4.5, 0.1
    expected = -(2 / beta) * math.log(1 / (1 + math.exp(-beta * (0.5 - delta))))
    assert math.isclose(float(simnpo_loss(avg, beta, delta)), expected, rel_tol=1e-6)


def test_kl_on_log_probabilities() -> None:
    logits, labels = _logits()
    assert float(kl_divergence(logits, logits, labels)) == 0.0
    other = torch.zeros_like(logits)  # uniform
    # KL(ref ‖ uniform) at positions 0 (ref uniform → 0) and 1 (ref = [3/4, 1/4])
    kl1 = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert math.isclose(float(kl_divergence(logits, other, labels)), kl1 / 2, rel_tol=1e-5)
    # shifting every logit by a constant changes nothing (raw-logit KL would)
    assert math.isclose(float(kl_divergence(logits + 7.0, other, labels)), kl1 / 2, rel_tol=1e-5)
    assert torch.isfinite(F.kl_div(other, logits, log_target=True, reduction="sum"))  # the buggy form differs


def test_masked_mse() -> None:
    h = torch.tensor([[[1.0, 1.0], [3.0, 3.0]]])
    mask = torch.tensor([[True, False]])
    assert float(masked_mse(h, torch.zeros(2), mask)) == 1.0
