"""Benchmark figures (matplotlib, Agg backend; each written as PNG and PDF): every plot the project draws lives here.

Every method or series gets its own colour *and* marker (:func:`style`), so figures survive greyscale
printing; error bars are ±1 std clipped to the metric's range (:func:`clipped_err`: an Avg. Gap or a run
time never gets a bar below 0), and ``caption`` (the seeds behind the numbers) is printed under the axes.

- :func:`pareto_plot` — Avg. Gap against RTE on a log x-axis, one point per method with seed-std error bars,
  the Pareto front (lower gap at lower cost) joined by a line.
- :func:`sweep_plot` — one line per series against a swept value (e.g. UA/MIA-Eff/TA against sparsity).
- :func:`heatmap` — a labelled value grid (e.g. SSD's Df over α × λ).
- :func:`grouped_bars` — one group per method, one bar per variant (e.g. defaults / calibrated / tuned).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h", "<", ">", "p", "d", "H", "8")


def style(k: int) -> dict[str, Any]:
    """Colour and marker of the ``k``-th method or series: distinct pairs for the first 20 × 15 indices."""
    plt = _plt()
    shade = (2 * k) % 20 + (k // 10) % 2  # the ten saturated tab20 colours first, then their light twins
    return {"color": plt.get_cmap("tab20")(shade), "marker": MARKERS[k % len(MARKERS)]}


def clipped_err(mean: float, std: float | None, lower: float | None = 0.0, log: bool = False) -> list[list[float]]:
    """Asymmetric ``[[below], [above]]`` error of ±``std`` that never crosses ``lower`` (or 0 on a log axis)."""
    std = 0.0 if std is None or math.isnan(std) else float(std)
    below = std
    if log:
        below = min(std, mean * 0.999) if mean > 0 else 0.0
    elif lower is not None:
        below = max(0.0, min(std, mean - lower))
    return [[below], [std]]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def pareto_front(points: Sequence[dict[str, Any]]) -> list[str]:
    """Methods no other method beats on both Avg. Gap and RTE (lower is better for both)."""
    front = []
    for p in points:
        dominated = any(
            q["rte"] <= p["rte"]
            and q["avg_gap"] <= p["avg_gap"]
            and (q["rte"] < p["rte"] or q["avg_gap"] < p["avg_gap"])
            for q in points
        )
        if not dominated:
            front.append(p["method"])
    return front


def pareto_plot(
    points: Sequence[dict[str, Any]], path: str | Path, title: str = "Avg. Gap vs run time", caption: str = ""
) -> Path:
    """``points``: dicts with ``method``, ``avg_gap``, ``rte`` and optional ``avg_gap_std``, ``rte_std``.

    The y axis is linear below a gap of 1 and logarithmic above, so the many near-Retrain methods do not pile
    up; every method has its own colour and marker (legend on the right); Pareto-front members are ringed.
    """
    plt = _plt()
    pts = [p for p in points if not math.isnan(p["avg_gap"]) and not math.isnan(p["rte"]) and p["rte"] > 0]
    fig, ax = plt.subplots(figsize=(9.5, 5.4))
    front_names = set(pareto_front(pts))
    for k, p in enumerate(pts):
        st = style(k)
        ax.errorbar(
            p["rte"],
            p["avg_gap"],
            xerr=clipped_err(p["rte"], p.get("rte_std"), log=True),
            yerr=clipped_err(p["avg_gap"], p.get("avg_gap_std"), lower=0.0),
            fmt=st["marker"],
            ms=6,
            capsize=2,
            color=st["color"],
            mec="black" if p["method"] in front_names else st["color"],
            mew=1.2 if p["method"] in front_names else 0.5,
            alpha=0.9,
            label=p["method"],
        )
    front = sorted((p for p in pts if p["method"] in front_names), key=lambda p: p["rte"])
    if len(front) > 1:
        ax.plot(
            [p["rte"] for p in front],
            [p["avg_gap"] for p in front],
            "--",
            color="gray",
            lw=1,
            label="Pareto front (black edge)",
        )
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1.0)
    top = max((p["avg_gap"] + (p.get("avg_gap_std") or 0) for p in pts), default=1.0)
    ax.set_ylim(bottom=0.0, top=max(2.0, top * 1.6))
    ax.set_xlabel("RTE (seconds, log scale)")
    ax.set_ylabel("Avg. Gap to Retrain ↓ (symlog)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if pts:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path, caption)


def sweep_plot(
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    path: str | Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    caption: str = "",
) -> Path:
    """One line per entry of ``series`` over ``x``, each with its own colour and marker."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for k, (name, ys) in enumerate(series.items()):
        st = style(k)
        ax.plot(list(x), list(ys), marker=st["marker"], color=st["color"], label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, caption)


def heatmap(
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    cbar_label: str = "",
    caption: str = "",
) -> Path:
    """A value grid with each cell annotated; rows along y, columns along x."""
    import numpy as np

    plt = _plt()
    arr = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * arr.shape[1], 1.2 + 0.6 * arr.shape[0]))
    im = ax.imshow(arr, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(col_labels)), labels=list(col_labels))
    ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    for i in range(arr.shape[0]):
        for j in range(arr.shape[1]):
            if not math.isnan(arr[i, j]):
                bright = hi > lo and (arr[i, j] - lo) / (hi - lo) > 0.6  # viridis is light at the top
                color = "black" if bright else "white"
                ax.text(j, i, f"{arr[i, j]:.1f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    cbar = fig.colorbar(im, ax=ax)
    if cbar_label:
        cbar.set_label(cbar_label)
    return _save(fig, path, caption)


def grouped_bars(
    groups: Sequence[str],
    series: dict[str, Sequence[tuple[float, float]]],
    path: str | Path,
    *,
    ylabel: str,
    title: str = "",
    caption: str = "",
    lower: float | None = 0.0,
) -> Path:
    """One group of bars per entry of ``groups``; ``series[name][i]`` is ``(mean, std)`` of group ``i``.

    Each series has its own colour and hatch; error bars are clipped at ``lower``; missing values are skipped.
    """
    import numpy as np

    plt = _plt()
    hatches = ("", "//", "..", "xx", "\\\\", "oo")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(groups) * max(len(series), 1)), 4.2))
    width = 0.8 / max(len(series), 1)
    xs = np.arange(len(groups))
    for k, (name, values) in enumerate(series.items()):
        st = style(k)
        for i, (mean, std) in enumerate(values):
            if math.isnan(mean):
                continue
            ax.bar(
                xs[i] + (k - (len(series) - 1) / 2) * width,
                mean,
                width,
                yerr=clipped_err(mean, std, lower=lower),
                capsize=2,
                color=st["color"],
                hatch=hatches[k % len(hatches)],
                edgecolor="black",
                lw=0.4,
                label=name if i == next(j for j, v in enumerate(values) if not math.isnan(v[0])) else None,
            )
    ax.set_xticks(xs, labels=list(groups), rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if lower is not None:
        ax.set_ylim(bottom=lower)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, caption)


def _save(fig: Any, path: str | Path, caption: str = "") -> Path:
    """Write ``path`` (PNG) and the same figure as PDF next to it; ``caption`` goes under the axes."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if caption:
        fig.text(0.01, 0.005, caption, fontsize=7, ha="left", va="bottom", color="dimgray")
    fig.tight_layout(rect=(0, 0.04 if caption else 0, 1, 1))
    fig.savefig(p, dpi=120)
    fig.savefig(p.with_suffix(".pdf"))
    _plt().close(fig)
    return p
