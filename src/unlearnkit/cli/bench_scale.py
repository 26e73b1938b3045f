"""``unlearnkit bench scale``: deletion cost, ingest, load, memory and service throughput against N.

The logic lives in :mod:`unlearnkit.bench.scale`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unlearnkit.cli import bench_app, fail


@bench_app.command("scale")
def bench_scale(
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("runs/bench-scale"),
    sizes: Annotated[str, typer.Option(help="training-set sizes, comma-separated")] = "10000,100000,1000000",
    parts: Annotated[str, typer.Option(help="strategies to measure: s3t,sisa,retrain")] = "s3t,sisa,retrain",
    forgets: Annotated[int, typer.Option(help="in-process S3T single-id forgets per size")] = 100,
    rounds: Annotated[int, typer.Option(help="then rounds of S3T forgets with the sizes interleaved (0: none)")] = 8,
    round_forgets: Annotated[int, typer.Option(help="S3T forgets per size and round")] = 15,
    service_requests: Annotated[int, typer.Option(help="deletion requests per service mode (group on/off)")] = 24,
    seed: Annotated[int, typer.Option(help="data seed (and training seed)")] = 0,
    work: Annotated[Path | None, typer.Option(help="scratch directory for models and data (default: temp)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print results.json instead of the Markdown")] = False,
) -> None:
    """Scale benchmark (not a test): S3T/SISA/Retrain single-id forget, `unlearnkit forget` as a process, ingest,
    load, peak RSS, disk, service deletions/s with group commit, predict vs the plain ensemble — per N, each in
    its own process; then S3T forgets with every size's model open and the sizes interleaved; results.json,
    results.md and scale.png/pdf in --out, with pass/miss against the targets."""
    from unlearnkit.bench.scale import ScaleConfig, run_scale_bench

    try:
        n = tuple(int(s.replace("_", "")) for s in sizes.split(",") if s.strip())
    except ValueError:
        raise fail(f"--sizes must be comma-separated integers, got {sizes!r}") from None
    cfg = ScaleConfig(
        sizes=n,
        parts=tuple(p.strip() for p in parts.split(",") if p.strip()),
        forgets=forgets,
        rounds=rounds,
        round_forgets=round_forgets,
        service_requests=service_requests,
        seed=seed,
    )
    results = run_scale_bench(out, cfg, work=work, log=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo((out / "results.json").read_text())
        return
    typer.echo(results["markdown"])
    typer.echo(f"results written to {out}/ in {results['wall_seconds']:.0f} s")
