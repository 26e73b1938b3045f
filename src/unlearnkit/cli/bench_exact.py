"""``unlearnkit bench exact``: S3T vs SISA vs Retrain — accuracy under deletions, deletion rate, latency, cost.

The logic lives in :mod:`unlearnkit.bench.exact` (S3T, arXiv 2406.16257; SISA, arXiv 1912.03817).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unlearnkit.cli import bench_app, fail
from unlearnkit.errors import UnlearnkitError


def _csv(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(p.strip() for p in text.split(",") if p.strip())


@bench_app.command("exact")
def bench_exact(
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("runs/bench-exact"),
    quick: Annotated[
        bool, typer.Option(help="digits only, 1 stream, retraining strategies at the checkpoints only (< 2 min)")
    ] = False,
    datasets: Annotated[str | None, typer.Option(help="comma-separated: digits,mnist1d")] = None,
    streams: Annotated[int | None, typer.Option(help="deletion streams (= training seeds) per dataset")] = None,
    shards: Annotated[int, typer.Option(help="m, shards")] = 3,
    slices: Annotated[int, typer.Option(help="L, slices per shard")] = 4,
    budgets: Annotated[str | None, typer.Option(help="S3T budgets B, comma-separated (default 1,2,L)")] = None,
    epochs: Annotated[int, typer.Option(help="epochs per S3T stage / per Retrain fit")] = 20,
    seed: Annotated[int, typer.Option(help="data split seed and first training seed")] = 0,
    sim_streams: Annotated[int, typer.Option(help="streams of the deletion-rate simulation per B")] = 2000,
    retrain_mode: Annotated[
        str | None,
        typer.Option(help="every: SISA-retrain/Retrain retrain per deletion; checkpoints: batched per checkpoint"),
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar on stderr")] = True,
    backbone: Annotated[
        str | None,
        typer.Option(
            help="pretrained backbones instead: minilm (the packaged MiniLM encoder), vit-digits, hf:PATH; "
            "comma-separated (e.g. minilm,vit-digits)"
        ),
    ] = None,
    owners_only: Annotated[
        bool,
        typer.Option(help="only the owner-deletion study (owner-aware vs id-hash sharding; bookkeeping, seconds)"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print results.json instead of the Markdown")] = False,
) -> None:
    """Exact-unlearning benchmark: results.json, results.md and PNGs in --out; prints the Markdown tables.

    Includes requests-until-dead under owner (data-subject) deletions, owner-aware vs id-hash placement.
    """
    import json

    from unlearnkit.bench.exact import ExactBenchConfig, run_exact_bench

    if backbone is not None:
        _bench_backbones(out, backbone, shards, slices, budgets, streams, seed)
        return
    if owners_only:
        from unlearnkit.bench.owner_sharding import OwnerStudyConfig, run_owner_bench

        budgets_ = tuple(sorted({1, 2, slices}))
        if budgets is not None:
            try:
                budgets_ = tuple(int(b) for b in _csv(budgets) or ())
            except ValueError:
                raise fail(f"--budgets must be comma-separated integers, got {budgets!r}") from None
        study = run_owner_bench(out, OwnerStudyConfig(shards, slices, budgets_, seed=seed))
        if as_json:
            typer.echo(json.dumps({k: v for k, v in study.items() if k != "markdown"}, indent=2))
        else:
            typer.echo(study["markdown"])
        return

    overrides: dict[str, object] = dict(
        shards=shards, slices=slices, epochs=epochs, seed=seed, sim_streams=sim_streams, progress=progress
    )
    if datasets is not None:
        overrides["datasets"] = _csv(datasets) or ()
    if streams is not None:
        overrides["streams"] = streams
    if retrain_mode is not None:
        overrides["retrain_mode"] = retrain_mode
    if budgets is not None:
        try:
            overrides["budgets"] = tuple(int(b) for b in _csv(budgets) or ())
        except ValueError:
            raise fail(f"--budgets must be comma-separated integers, got {budgets!r}") from None
    cfg = ExactBenchConfig.quick_config(**overrides) if quick else ExactBenchConfig(**overrides)  # type: ignore[arg-type]
    try:
        results = run_exact_bench(out, cfg)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo((out / "results.json").read_text())
        return
    typer.echo(results["markdown"])
    typer.echo(
        f"\nresults written to {out}/ ({', '.join(Path(f).name for f in results['files'])}) "
        f"in {results['wall_seconds']:.0f} s"
    )


def _bench_backbones(
    out: Path, backbone: str, shards: int, slices: int, budgets: str | None, streams: int | None, seed: int
) -> None:
    from unlearnkit.bench.exact_backbones import BackboneBenchConfig, run_backbone_bench

    kw: dict[str, object] = {"backbones": _csv(backbone) or (), "seed": seed}
    if (shards, slices) != (3, 4):  # the CLI defaults are the built-in benchmark's; this one has its own
        kw.update(shards=shards, slices=slices)
    if budgets is not None:
        try:
            kw["budgets"] = tuple(int(b) for b in _csv(budgets) or ())
        except ValueError:
            raise fail(f"--budgets must be comma-separated integers, got {budgets!r}") from None
    if streams is not None:
        kw["streams"] = streams
    if out == Path("runs/bench-exact"):
        out = Path("runs/bench-exact-backbones")
    try:
        results = run_backbone_bench(out, BackboneBenchConfig(**kw), log=lambda m: typer.echo(m, err=True))  # type: ignore[arg-type]
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    typer.echo(results["markdown"])
    typer.echo(f"\nresults written to {out}/ in {results['wall_seconds']:.0f} s")
