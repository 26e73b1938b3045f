from __future__ import annotations

import math

import torch

from unlearnkit.llm.data import IGNORE
from unlearnkit.recovery import class_jsd, jsd, token_jsd


def test_jsd_symmetric_bounded_zero_on_identity() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(50, 7, generator=g), torch.randn(50, 7, generator=g) * 5
    p, q = a.softmax(-1), b.softmax(-1)
    assert torch.allclose(jsd(p, q), jsd(q, p))
    assert (jsd(p, q) <= math.log(2) + 1e-6).all()
    assert torch.allclose(jsd(p, p), torch.zeros(50), atol=1e-7)
    disjoint = jsd(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]))
    assert abs(float(disjoint) - math.log(2)) < 1e-6


def test_class_restricted_jsd_ignores_the_forgotten_class() -> None:
    ref = torch.tensor([[2.0, 1.0, 5.0], [0.0, 3.0, 4.0]])
    cur = ref.clone()
    cur[:, 2] = -10.0  # the model no longer predicts class 2: not damage when class 2 was forgotten
    assert float(class_jsd(ref, cur).min()) > 0.1
    assert torch.allclose(class_jsd(ref, cur, keep_classes=[0, 1]), torch.zeros(2), atol=1e-6)


def test_token_jsd_reads_only_labelled_positions() -> None:
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(1, 5, 11, generator=g)
    cur = ref.clone()
    cur[0, 0, 2] += 10.0  # position 0 predicts token 1, a prompt token (label IGNORE)
    labels = torch.tensor([[IGNORE, IGNORE, 3, 4, 5]])
    assert float(token_jsd(ref, cur, labels)) < 1e-6
    cur[0, 2, 2] += 10.0  # position 2 predicts token 3, a response token
    assert float(token_jsd(ref, cur, labels)) > 1e-3
