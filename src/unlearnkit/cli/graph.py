"""``unlearnkit graph train|unlearn|eval|methods|bench``: graph unlearning from the command line.

Each command is one call into :mod:`unlearnkit.graph.workflow` (or :mod:`unlearnkit.bench.graph`) and a
renderer. Method choices come from the registry (``family="graph"``); hyper-parameters go through ``--set``.
Without the ``graph`` extra every command prints a one-line install hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import app, fail, run_bench
from unlearnkit.errors import UnlearnkitError

graph_app = typer.Typer(no_args_is_help=True, help="Graph unlearning (GNNDelete, D2DGN, ...) on torch_geometric.")
app.add_typer(graph_app, name="graph")


def _workflow() -> Any:
    try:
        from unlearnkit.graph import workflow
    except ImportError:
        raise fail("graph commands need the graph extra: pip install 'unlearnkit[graph]'") from None
    return workflow


def _kv(values: list[str] | None) -> dict[str, Any]:
    from unlearnkit.cli.approx import parse_set_values

    return parse_set_values(values)


@graph_app.command("train")
def train(
    out: Annotated[Path, typer.Option("--out", help="model directory to create")],
    graph: Annotated[
        str, typer.Option(help="sbm | planted_partition | karate | les_miserables | florentine | planetoid | ogb")
    ] = "sbm",
    graph_arg: Annotated[
        list[str] | None, typer.Option("--graph-arg", help="loader argument key=value (repeatable)")
    ] = None,
    task: Annotated[str, typer.Option(help="link (prediction) | node (classification)")] = "link",
    arch: Annotated[str, typer.Option(help="gcn | gat | gin | sage")] = "gcn",
    set_: Annotated[list[str] | None, typer.Option("--set", help="training config key=value (repeatable)")] = None,
    cpu_recipe: Annotated[bool, typer.Option(help="the small CPU recipe (64→32, 200 epochs, lr 1e-2)")] = True,
    seed: Annotated[int, typer.Option(help="split and training seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Train an original GNN on a graph (the graph is regenerated from its recorded source later)."""
    wf = _workflow()
    from unlearnkit.approx._common import config_from_dict, config_to_dict
    from unlearnkit.graph.train import GraphTrainConfig

    try:
        base = GraphTrainConfig.cpu(arch=arch) if cpu_recipe else GraphTrainConfig(arch=arch)
        cfg = config_from_dict(GraphTrainConfig, {**config_to_dict(base), **_kv(set_)})
        summary = wf.train(out, graph, _kv(graph_arg), task, cfg, seed=seed)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in summary["metrics"].items())
    typer.echo(f"trained {summary['arch']} for {summary['task']} on {summary['graph']}: {metrics}\nsaved to {out}")


@graph_app.command("unlearn")
def unlearn(
    model_dir: Annotated[Path, typer.Argument(help="an original model directory (unlearnkit graph train)")],
    method: Annotated[str, typer.Option("--method", "-m", help="graph method (unlearnkit graph methods)")],
    out: Annotated[Path, typer.Option("--out", help="model directory to create")],
    delete: Annotated[str, typer.Option(help="edge | node | feature | owner")] = "edge",
    amount: Annotated[float, typer.Option(help="fraction (< 1) or count (>= 1) of training edges / nodes")] = 0.025,
    mode: Annotated[str, typer.Option(help="edge deletion: random | out | in (GNNDelete's settings)")] = "random",
    owner: Annotated[str | None, typer.Option(help="with --delete owner: the user whose data goes")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="method config key=value (repeatable)")] = None,
    seed: Annotated[int, typer.Option(help="deletion and run seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the receipt as JSON")] = False,
) -> None:
    """Unlearn edges, nodes, node features or a user's data; save the model; print the receipt."""
    wf = _workflow()
    if not model_dir.is_dir():
        raise fail(f"{model_dir}: no such model directory")
    try:
        receipt = wf.unlearn(
            model_dir, out, method, kind=delete, amount=amount, mode=mode, owner=owner, overrides=_kv(set_), seed=seed
        )
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(receipt, indent=2))
        return
    from rich.console import Console
    from rich.panel import Panel

    exact = receipt["guarantee"] == "exact-retrain"
    head = (
        "[bold]guarantee:[/] [green]EXACT[/] (exact-retrain) — retrained from scratch without the data"
        if exact
        else f"[bold]guarantee:[/] [yellow]APPROXIMATE[/] ({receipt['guarantee']}) — the model was edited, not "
        "retrained; the evidence below is measured, not proven"
    )
    d = receipt["deletion"]
    ver = ", ".join(f"{k} {v['before']:.3f}→{v['after']:.3f}" for k, v in receipt["verification"].items())
    lines = [
        head,
        f"method: {method}   deletion: {d['kind']} ({d['mode']})   removed edges: {d['removed_edges']}   "
        f"forgotten edges: {d['forget_edges']}   masked nodes: {d['masked_nodes']}",
        f"runtime: {receipt['seconds']:.3f} s, {receipt['steps']} update steps; the served graph excludes every "
        "deleted edge",
        f"measured (before→after): {ver}",
        f"saved to {out}   (compare: unlearnkit graph eval {out} --original {model_dir} --retrain DIR)",
    ]
    Console().print(Panel("\n".join(lines), title="graph unlearning receipt", expand=False))


@graph_app.command("eval")
def eval_(
    model_dir: Annotated[Path, typer.Argument(help="an unlearned graph model directory")],
    original: Annotated[Path | None, typer.Option(help="the original model directory")] = None,
    retrain: Annotated[Path | None, typer.Option(help="a graph_retrain model of the same deletion")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """GNNDelete's metric table: AUROC/AUPRC on E_t and E_d, MI ratio, accuracy, time, FLOPs."""
    wf = _workflow()
    from unlearnkit.registry import get_metric

    try:
        rows = wf.evaluate(model_dir, original, retrain)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    cols = [c for c in ("unlearned", "original", "retrain") if c in rows]
    table = Table(title=f"{rows['method']} ({rows['guarantee']}) on {rows['kind']} deletion")
    for c in ("metric", "dir", *cols):
        table.add_column(c, justify="left" if c in ("metric", "dir") else "right")
    for name in sorted({k for c in cols for k in rows[c]}):
        hib = get_metric(name).higher_is_better
        arrow = "" if hib is None else ("↑" if hib else "↓")
        table.add_row(name, arrow, *(f"{rows[c][name]:.4g}" if name in rows[c] else "–" for c in cols))
    Console().print(table)


@graph_app.command("methods")
def methods() -> None:
    """List the registered graph methods."""
    _workflow()
    from unlearnkit.registry import list_methods

    for info in list_methods(family="graph"):
        typer.echo(f"{info.name:14s} {info.paper}")


@graph_app.command("bench")
def bench(
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("runs/bench-graph"),
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "42,21,13",
    quick: Annotated[bool, typer.Option(help="one seed, one graph, fewer steps (a smoke run)")] = False,
    archs: Annotated[str, typer.Option(help="comma-separated GNNs")] = "gcn",
    graphs: Annotated[str | None, typer.Option(help="comma-separated: sbm,planted_partition (default both)")] = None,
    merge: Annotated[
        list[Path] | None, typer.Option("--merge", help="re-render one report from these result dirs (repeatable)")
    ] = None,
) -> None:
    """GNNDelete-style benchmark: Retrain, GA, GNNDelete, D2DGN on two generated graphs (JSON, Markdown, figures)."""
    _workflow()
    from unlearnkit.bench.graph import GraphBenchConfig, merge_reports, run_graph_benchmark

    if merge:
        try:
            summary = merge_reports(list(merge), out)
        except (OSError, KeyError, ValueError) as exc:
            raise fail(f"--merge: {exc}") from None
        typer.echo(summary["markdown"])
        return
    try:
        cfg = GraphBenchConfig.quick() if quick else GraphBenchConfig()
        if not quick:
            cfg.seeds = tuple(int(s) for s in seeds.split(",") if s.strip())
        cfg.archs = tuple(a.strip() for a in archs.split(",") if a.strip())
        if graphs is not None:
            unknown = set(graphs.split(",")) - set(cfg.graphs)
            if unknown:
                raise fail(f"--graphs: unknown {', '.join(sorted(unknown))}; choose from {', '.join(cfg.graphs)}")
            cfg.graphs = {g: a for g, a in cfg.graphs.items() if g in graphs.split(",")}
    except ValueError:
        raise fail(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    run_bench(run_graph_benchmark, out, cfg)
