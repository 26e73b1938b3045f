from __future__ import annotations

import numpy as np
import pytest

from unlearnkit.errors import ConfigError
from unlearnkit.recovery import allocate


def test_proportional_largest_remainder() -> None:
    # shares 10 * (1,2,3,4)/10 = 1,2,3,4 exactly; then 7 * (1,1,1)/3 = 2.33 each -> one cluster gets the extra unit
    assert allocate([1, 2, 3, 4], [100] * 4, 10).tolist() == [1, 2, 3, 4]
    out = allocate([1, 1, 1], [100] * 3, 7)
    assert out.sum() == 7 and sorted(out.tolist()) == [2, 2, 3]
    assert out.tolist() == [3, 2, 2]  # ties go to the lower index


def test_capacity_overflow_is_handed_back() -> None:
    out = allocate([10, 1, 1], [2, 50, 50], 20)
    assert out.tolist()[0] == 2 and out.sum() == 20
    assert (out <= [2, 50, 50]).all()


def test_budget_beyond_capacity_and_everything_filtered() -> None:
    assert allocate([1, 2], [3, 4], 100).tolist() == [3, 4]
    assert allocate([1, 2], [0, 0], 5).tolist() == [0, 0]
    assert allocate([0, 0, 5], [4, 4, 1], 5).tolist() in ([2, 2, 1],)


@pytest.mark.parametrize("seed", range(25))
def test_random_cases_sum_and_respect_capacity(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 12))
    scores = rng.random(k) * (rng.random(k) > 0.2)
    cap = rng.integers(0, 30, k)
    budget = int(rng.integers(0, 200))
    out = allocate(scores, cap, budget)
    assert out.sum() == min(budget, cap.sum())
    assert (out >= 0).all() and (out <= cap).all()


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(ConfigError):
        allocate([1, -1], [2, 2], 3)
    with pytest.raises(ConfigError):
        allocate([1], [2, 2], 3)
