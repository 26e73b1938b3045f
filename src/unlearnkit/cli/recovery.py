"""``unlearnkit recover`` (PASER recovery with forget-aware filters and a guard), ``unlearnkit recovery
prune|methods`` and ``unlearnkit bench recovery``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from unlearnkit.cli import app, bench_app, fail
from unlearnkit.cli.approx import parse_set_values

recovery_app = typer.Typer(no_args_is_help=True, help="Recovery after pruning or unlearning: prune, methods.")
app.add_typer(recovery_app, name="recovery")


@app.command("recover")
def recover_cmd(
    model_dir: Annotated[Path, typer.Argument(help="the damaged model (classifier or language-model directory)")],
    reference: Annotated[Path, typer.Option("--reference", help="the model before pruning/unlearning")],
    candidates: Annotated[Path, typer.Option("--candidates", help="pool: .jsonl (LM) or CSV/Parquet rows")],
    out: Annotated[Path, typer.Option("--out", help="model directory to create for the recovered model")],
    budget: Annotated[float, typer.Option("--budget", help="a fraction of the pool (< 1) or a count")] = 0.05,
    forget: Annotated[
        Path | None, typer.Option("--forget", help="forget records (same format): filters + guard")
    ] = None,
    forget_class: Annotated[
        list[int] | None, typer.Option(help="a forgotten class (JSD over retained classes)")
    ] = None,
    deny: Annotated[list[str] | None, typer.Option(help="a forget concept to keep out (repeatable)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="selection/training/guard setting key=value")] = None,
    seed: Annotated[int, typer.Option(help="run seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the receipt as JSON")] = False,
) -> None:
    """Select a few candidates with PASER, fine-tune on them, keep the result only if forgetting holds."""
    from unlearnkit.recovery.workflow import recover_dir

    receipt = recover_dir(
        model_dir, reference, candidates, budget, out, forget_path=forget, forget_classes=tuple(forget_class or ()),
        deny=tuple(deny or ()), overrides=parse_set_values(set_), seed=seed,
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(receipt, indent=2))
        return
    guard = receipt["guard"]
    typer.echo(
        f"recovered {receipt['kind']} ({receipt['guarantee']}): {receipt['selected']} of {receipt['candidates']} "
        f"candidates (budget {receipt['budget']}); filters rejected {receipt['filters']}"
    )
    if guard:
        typer.echo(f"guard: forget accuracy {guard['before']['accuracy']:.3f} → {guard['after']['accuracy']:.3f}")
    typer.echo(f"saved to {out} (manifest: {len(receipt['manifest']['selected_id_hashes'])} keyed id hashes)")


@recovery_app.command("prune")
def prune_cmd(
    model_dir: Annotated[Path, typer.Argument(help="a classifier or language-model directory")],
    out: Annotated[Path, typer.Option("--out", help="model directory to create for the pruned model")],
    pruner: Annotated[
        str, typer.Option("--pruner", help="registered pruner (see: unlearnkit recovery methods)")
    ] = "wanda",
    calibration: Annotated[Path | None, typer.Option(help="retain-only calibration file (Wanda)")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="pruner setting key=value (sparsity, pattern…)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the record as JSON")] = False,
) -> None:
    """Prune a model's Linear/Conv1D weights (magnitude or Wanda; unstructured, per row or N:M)."""
    from unlearnkit.recovery.workflow import prune_dir

    record = prune_dir(model_dir, out, pruner=pruner, calibration=calibration, overrides=parse_set_values(set_))
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    typer.echo(
        f"pruned with {record['pruner']}: sparsity {record['sparsity']:.3f} over {record['layers']} layers → {out}"
    )


@recovery_app.command("methods")
def methods_cmd() -> None:
    """List the registered pruners and recovery filters."""
    from unlearnkit.recovery.filters import FILTERS, get_filter
    from unlearnkit.recovery.prune import PRUNERS, get_pruner

    get_pruner("magnitude")
    get_filter("duplicate")
    for name, cls in sorted(PRUNERS.items()):
        typer.echo(f"pruner  {name:10s} {cls.paper}")
    for name, cls in sorted(FILTERS.items()):
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
        typer.echo(f"filter  {name:10s} {doc[0] if doc else ''}")


@bench_app.command("recovery")
def bench_recovery(
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("docs/benchmarks/recovery"),
    seeds: Annotated[str, typer.Option(help="comma-separated seeds (≥ 3 for claims)")] = "0,1,2",
    tasks: Annotated[str, typer.Option(help="digits,gpt2")] = "digits,gpt2",
    quick: Annotated[bool, typer.Option(help="one seed, one budget, a small GPT-2")] = False,
) -> None:
    """Recovery ratio vs budget and forget leak: none/random/uniform/PASER/PASER+filter (JSON, Markdown, PNG/PDF)."""
    from unlearnkit.bench.recovery import RecoveryBenchConfig, run_recovery_benchmark

    cfg = RecoveryBenchConfig.quick() if quick else RecoveryBenchConfig()
    try:
        if not quick:
            cfg.seeds = tuple(int(s) for s in seeds.split(",") if s.strip())
        cfg.tasks = tuple(t.strip() for t in tasks.split(",") if t.strip())
    except ValueError:
        raise fail(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    bad = [t for t in cfg.tasks if t not in ("digits", "gpt2")]
    if bad:
        raise fail(f"unknown recovery task {bad[0]!r}; choose digits or gpt2")
    run_recovery_benchmark(out, cfg, progress=lambda m: typer.echo(m, err=True))
    typer.echo((out / "results.md").read_text())
