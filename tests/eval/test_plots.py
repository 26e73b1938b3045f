"""The benchmark figures are written as PNG files; the Pareto front is computed correctly."""

from __future__ import annotations

from pathlib import Path

from unlearnkit.eval.plots import heatmap, pareto_front, pareto_plot, sweep_plot

PNG = b"\x89PNG"


def test_pareto_front() -> None:
    pts = [
        {"method": "a", "avg_gap": 1.0, "rte": 10.0},
        {"method": "b", "avg_gap": 5.0, "rte": 0.1},
        {"method": "c", "avg_gap": 6.0, "rte": 1.0},  # dominated by b
        {"method": "d", "avg_gap": 0.5, "rte": 20.0},
    ]
    assert sorted(pareto_front(pts)) == ["a", "b", "d"]


def test_figures_written(tmp_path: Path) -> None:
    pts = [
        {"method": "ft", "avg_gap": 3.0, "rte": 0.2, "avg_gap_std": 0.5},
        {"method": "ssd", "avg_gap": 1.0, "rte": 0.05},
    ]
    for path in (
        pareto_plot(pts, tmp_path / "p.png"),
        sweep_plot([0, 0.5, 0.9], {"UA": [1, 2, 3]}, tmp_path / "s.png", xlabel="sparsity", ylabel="%"),
        heatmap([[1, 2], [3, 4]], ["λ=0.1", "λ=1"], ["α=1", "α=5"], tmp_path / "h.png", xlabel="α", ylabel="λ"),
    ):
        assert path.read_bytes()[:4] == PNG


def test_pdf_twin_caption_and_bars(tmp_path: Path) -> None:
    from unlearnkit.eval.plots import grouped_bars

    path = grouped_bars(
        ["ssd", "salun"],
        {"defaults": [(40.0, 5.0), (1.0, 2.0)], "calibrated": [(2.0, 1.0), (float("nan"), 0.0)]},
        tmp_path / "b.png",
        ylabel="Avg. Gap",
        caption="3 seeds (0, 1, 2)",
    )
    assert path.read_bytes()[:4] == PNG and path.with_suffix(".pdf").read_bytes()[:4] == b"%PDF"


def test_error_bars_respect_the_metric_range() -> None:
    from unlearnkit.eval.plots import clipped_err, style

    assert clipped_err(0.5, 2.0, lower=0.0) == [[0.5], [2.0]]  # an Avg. Gap bar never dips below 0
    assert clipped_err(3.0, 1.0, lower=0.0) == [[1.0], [1.0]]
    below = clipped_err(0.01, 0.05, log=True)[0][0]
    assert 0.01 - below > 0  # stays positive on a log axis
    pairs = {(style(k)["color"], style(k)["marker"]) for k in range(24)}
    assert len(pairs) == 24  # every method its own colour + marker
