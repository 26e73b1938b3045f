"""Regression datasets with no download, and the target-range forget set of deep regression unlearning.

Tarun et al., "Deep Regression Unlearning", ICML 2023 (arXiv 2210.08196) forget *target ranges* (AgeDB:
ages ≤ 30), not random rows. The stand-ins here (every one generated or shipped by scikit-learn):

- ``digits_reg`` — scikit-learn's 8×8 digits with the digit value as a float target: a small *image*
  regression task; the forget set "digit ≤ 2" plays AgeDB's "age ≤ 30" (a range the Retrain model must
  extrapolate to, so its forget error is far above the Original's).
- ``diabetes`` — scikit-learn's diabetes (442 × 10); target divided by 100 (a fixed constant, never a
  statistic of deletable rows).
- ``friedman`` — ``make_friedman1`` (10 features, 5 informative, noise 1), target divided by 10.
- ``timeseries`` — a generated hourly load-like series (daily and weekly cycles, trend, AR(1) noise):
  each row is a 24-step window, the target the next step (a forecasting stand-in for UCI Electricity).

Each loader returns a :class:`~unlearnkit.data.DataBundle` (train / test, no public split) whose datasets
have ``num_classes == 0``. :func:`range_forget` builds the :class:`~unlearnkit.types.ForgetSplit` with the
range recorded in ``meta["target_range"]``; :func:`heldout_range_mask` selects the test rows inside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from unlearnkit.data.dataset import IdDataset, ids_hash
from unlearnkit.data.loaders import DataBundle, _split, register_loader
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.types import ForgetSplit

REGRESSION_DATASETS = ("digits_reg", "diabetes", "friedman", "timeseries")


def load_digits_regression(seed: int = 0, test_fraction: float = 0.3) -> DataBundle:
    """Digits (pixels / 16) with the digit value as a float target; a random 70/30 split (notes E.1)."""
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    return _split(
        d.data.astype(np.float32) / 16.0, d.target.astype(np.float32), "digits_reg", seed, test_fraction, 0, 0
    )


def load_diabetes_regression(seed: int = 0, test_fraction: float = 0.3) -> DataBundle:
    """scikit-learn's diabetes set as shipped (already scaled features), target / 100."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    return _split(
        d.data.astype(np.float32), (d.target / 100.0).astype(np.float32), "diabetes", seed, test_fraction, 0, 0
    )


def load_friedman(seed: int = 0, num_samples: int = 1000, test_fraction: float = 0.3) -> DataBundle:
    """Friedman #1 (``make_friedman1``, noise 1.0), target / 10."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=num_samples, n_features=10, noise=1.0, random_state=seed)
    return _split(x.astype(np.float32), (y / 10.0).astype(np.float32), "friedman", seed, test_fraction, 0, 0)


@register_loader("friedman_public", tiny={"num_samples": 200}, builtin=False)
def _friedman_raw(
    seed: int = 0, num_samples: int = 1000, public_fraction: float = 0.1, test_fraction: float = 0.2
) -> DataBundle:
    """Friedman #1 as a registered loader (a public split, target / 10): the exactness suite's regression case."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=num_samples, n_features=10, noise=1.0, random_state=seed)
    return _split(
        x.astype(np.float32), (y / 10.0).astype(np.float32), "friedman", seed, test_fraction, public_fraction, 0
    )


def make_load_series(seed: int = 0, length: int = 1500) -> np.ndarray:
    """A generated hourly load curve: daily + weekly cycles, a slow trend and AR(1) noise (unit scale)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    noise = np.zeros(length)
    eps = rng.normal(0.0, 0.08, length)
    for i in range(1, length):
        noise[i] = 0.7 * noise[i - 1] + eps[i]
    daily = 0.5 * np.sin(2 * math.pi * t / 24) + 0.2 * np.sin(4 * math.pi * t / 24)
    weekly = 0.3 * np.sin(2 * math.pi * t / (24 * 7))
    return (1.0 + daily + weekly + 0.3 * t / length + noise).astype(np.float32)


def load_timeseries(seed: int = 0, length: int = 1500, window: int = 24, test_fraction: float = 0.3) -> DataBundle:
    """Forecasting rows of :func:`make_load_series`: the last ``window`` values → the next one."""
    series = make_load_series(seed, length)
    n = length - window
    x = np.stack([series[i : i + window] for i in range(n)])
    y = series[window:]
    return _split(x, y, "timeseries", seed, test_fraction, 0, 0)


LOADERS: dict[str, Callable[[int], DataBundle]] = {
    "digits_reg": load_digits_regression,
    "diabetes": load_diabetes_regression,
    "friedman": load_friedman,
    "timeseries": load_timeseries,
}


def load_regression(name: str, seed: int = 0) -> DataBundle:
    """One of :data:`REGRESSION_DATASETS` by name."""
    if name not in LOADERS:
        raise DataError(f"unknown regression dataset {name!r}; choose from {', '.join(REGRESSION_DATASETS)}")
    return LOADERS[name](seed)


def default_range(name: str, train: IdDataset) -> tuple[float, float]:
    """The benchmark's forget range: digits ≤ 2 for ``digits_reg``, else the top quartile of the targets."""
    if name == "digits_reg":
        return (-math.inf, 2.0)
    return (float(torch.quantile(train.y, 0.75)), math.inf)


def _in_range(y: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return (y >= lo) & (y <= hi)


def range_forget(
    train: IdDataset,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    test: IdDataset | None = None,
    seed: int = 0,
) -> ForgetSplit:
    """Forget every training row whose target lies in ``[lo, hi]`` (the paper's target-range forgetting)."""
    if not train.is_regression:
        raise ConfigError("range forgetting needs a regression dataset (float targets)")
    if not lo <= hi:
        raise ConfigError(f"forget range is empty: [{lo}, {hi}]")
    mask = _in_range(train.y, lo, hi)
    if not bool(mask.any()):
        raise DataError(f"no training target lies in [{lo}, {hi}]")
    if bool(mask.all()):
        raise DataError(f"every training target lies in [{lo}, {hi}]: nothing would be retained")
    forget, retain = train.filter(mask), train.filter(~mask)
    meta = {
        "target_range": [lo, hi],
        "forget_ids_hash": ids_hash(forget.id_list()),
        "num_forget": len(forget),
        "num_retain": len(retain),
        "seed": seed,
    }
    return ForgetSplit(forget=forget, retain=retain, test=test, val=None, scenario="range", meta=meta)


def heldout_range_mask(split: ForgetSplit, data: IdDataset) -> torch.Tensor:
    """Rows of ``data`` (e.g. the test set) whose target lies in the split's forget range."""
    rng = split.meta.get("target_range")
    if rng is None:
        return torch.zeros(len(data), dtype=torch.bool)
    return _in_range(data.y, float(rng[0]), float(rng[1]))


__all__ = [
    "LOADERS",
    "REGRESSION_DATASETS",
    "default_range",
    "heldout_range_mask",
    "load_diabetes_regression",
    "load_digits_regression",
    "load_friedman",
    "load_regression",
    "load_timeseries",
    "make_load_series",
    "range_forget",
]
