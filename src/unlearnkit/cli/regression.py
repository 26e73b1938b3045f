"""``unlearnkit bench regression``: deep regression unlearning (Blindspot, Gaussian FT) against Retrain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unlearnkit.cli import bench_app, fail, run_bench


@bench_app.command("regression")
def bench_regression(
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("runs/bench-regression"),
    quick: Annotated[bool, typer.Option(help="1 seed, digits_reg and diabetes, no timing or sweep")] = False,
    seeds: Annotated[str | None, typer.Option(help="comma-separated seeds (default 0,1,2)")] = None,
    datasets: Annotated[
        str | None, typer.Option(help="comma-separated: digits_reg,diabetes,friedman,timeseries")
    ] = None,
    methods_: Annotated[str | None, typer.Option("--methods", help="comma-separated regression methods")] = None,
) -> None:
    """Regression unlearning benchmark: retain/forget error, gaps and W1 to Retrain, MIA, paper directions."""
    from unlearnkit.bench.regression import RegressionBenchConfig, run_regression_benchmark

    cfg = RegressionBenchConfig.quick() if quick else RegressionBenchConfig()

    def _csv(text: str | None) -> tuple[str, ...] | None:
        return None if text is None else tuple(p.strip() for p in text.split(",") if p.strip())

    try:
        if seeds is not None:
            cfg.seeds = tuple(int(s) for s in _csv(seeds) or ())
    except ValueError:
        raise fail(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    if datasets is not None:
        cfg.datasets = _csv(datasets) or ()
    cfg.methods = _csv(methods_)
    run_bench(run_regression_benchmark, out, cfg)
