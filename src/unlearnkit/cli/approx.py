"""Commands for approximate unlearning: unlearn, eval, methods, and ``bench approx``.

``unlearnkit unlearn DIR --method NAME --forget-class 3 --out DIR2`` edits a standard model directory (written
by ``unlearnkit train --strategy standard``) and prints a receipt whose guarantee is *approximate*: the
evidence is measured (UA/RA and a loss-attack AUC), never proven. ``unlearnkit eval DIR2 --original DIR
--retrain DIR3`` prints the full metric table against a Retrain model made by ``--method retrain``.

A regression model (``train --strategy standard --data diabetes``) takes the regression methods (``blindspot``,
``gaussian_ft``, ``ft_regression``, ``retrain_regression``), a target range (``--forget-range LO:HI``) or ids
or an owner, and reports the regression metrics (retain/forget/test MAE, loss-MIA AUC; gaps to Retrain in eval).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import app, bench_app, fail, run_bench
from unlearnkit.errors import UnlearnkitError

QUICK_METRICS = ("ua", "ra", "ta", "loss_mia_auc")
QUICK_REGRESSION = ("retain_mae", "forget_mae", "test_mae", "test_forget_mae", "reg_loss_mia_auc")
LABELS = {"ua": "UA", "ra": "RA", "ta": "TA", "loss_mia_auc": "loss-MIA AUC", "reg_loss_mia_auc": "loss-MIA AUC"}


def parse_set_values(values: list[str] | None) -> dict[str, Any]:
    """``["lr=1e-3", "epochs=5"]`` → ``{"lr": "1e-3", "epochs": 5}`` (YAML scalars; the config coerces)."""
    import yaml

    out: dict[str, Any] = {}
    for item in values or []:
        if "=" not in item:
            raise fail(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise fail(f"--set expects key=value, got {item!r}")
        try:
            out[key] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key] = raw
    return out


def _load_standard(directory: Path) -> tuple[Any, Any, dict[str, Any]]:
    from unlearnkit.models.io import load_model

    if not directory.is_dir():
        raise fail(f"{directory}: no such model directory")
    try:
        model, spec, meta = load_model(directory)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if meta.get("kind") != "standard" or "data" not in meta:
        raise fail(
            f"{directory}: not a standard model directory with its data recorded "
            "(train one with: unlearnkit train --strategy standard --out DIR)"
        )
    return model, spec, meta


def _bundle(meta: dict[str, Any]):
    from unlearnkit.data import resolve_data

    try:
        return resolve_data(**meta["data"])
    except (UnlearnkitError, TypeError) as exc:
        raise fail(f"cannot reload the training data {meta['data']}: {exc}") from None


def _parse_range(text: str) -> list[float]:
    """``"LO:HI"`` → ``[lo, hi]``; an empty side is unbounded (``":2"`` = at most 2, ``"3.5:"`` = at least 3.5)."""
    import math

    lo, sep, hi = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return [float(lo) if lo.strip() else -math.inf, float(hi) if hi.strip() else math.inf]
    except ValueError:
        raise fail(f"--forget-range expects LO:HI (either side may be empty), got {text!r}") from None


def _is_regression(meta: dict[str, Any]) -> bool:
    return meta.get("task") == "regression"


def _split_from(bundle, forget: dict[str, Any]):
    """Rebuild the forget split recorded in a model's ``forget`` metadata (or given on the command line)."""
    from unlearnkit.data import scenarios

    kind = forget["kind"]
    seed = int(forget.get("seed", 0))
    test = bundle.test
    if kind == "range":
        from unlearnkit.data.regression import range_forget

        lo, hi = (float(v) for v in forget["value"])
        return range_forget(bundle.train, lo, hi, test=test, seed=seed)
    if kind == "class":
        return scenarios.class_forget(bundle.train, int(forget["value"]), test=test, seed=seed)
    if kind == "random":
        return scenarios.random_forget(bundle.train, float(forget["value"]), seed, test=test)
    if kind == "owner":
        return scenarios.owner_forget(bundle.train, str(forget["value"]), test=test, seed=seed)
    if kind == "ids":
        return scenarios.forget_ids(bundle.train, [int(i) for i in forget["value"]], test=test, seed=seed)
    raise fail(f"unknown forget scenario {kind!r}")


def _forget_spec(
    forget_class: int | None,
    forget_fraction: float | None,
    forget_ids: str | None,
    owner: str | None,
    seed: int,
    forget_range: str | None = None,
    regression: bool = False,
) -> dict[str, Any]:
    given = {
        "class": forget_class,
        "random": forget_fraction,
        "ids": forget_ids,
        "owner": owner,
        "range": forget_range,
    }
    chosen = {k: v for k, v in given.items() if v is not None}
    if len(chosen) != 1:
        raise fail("give exactly one of --forget-class, --forget-fraction, --forget-ids, --owner, --forget-range")
    kind, value = next(iter(chosen.items()))
    if regression and kind == "class":
        raise fail(
            "--forget-class needs class labels; a regression model forgets a target range (--forget-range LO:HI)"
        )
    if not regression and kind == "range":
        raise fail("--forget-range applies to regression models (float targets); this model is a classifier")
    if kind == "range":
        value = _parse_range(str(value))
    if kind == "ids":
        from unlearnkit.cli.exact import _parse_ids

        value = _parse_ids(str(value))
    return {"kind": kind, "value": value, "seed": seed}


@app.command()
def unlearn(
    model_dir: Annotated[
        Path, typer.Argument(help="a standard model directory (unlearnkit train --strategy standard)")
    ],
    method: Annotated[str, typer.Option("--method", "-m", help="registered method (see: unlearnkit methods)")],
    out: Annotated[Path, typer.Option("--out", help="model directory to create for the unlearned model")],
    forget_class: Annotated[int | None, typer.Option(help="forget every training sample of this class")] = None,
    forget_fraction: Annotated[float | None, typer.Option(help="forget a random fraction in (0, 1)")] = None,
    forget_ids: Annotated[
        str | None, typer.Option("--ids", "--forget-ids", help="forget these sample ids, e.g. 1,2,3")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="forget every sample of this data subject")] = None,
    forget_range: Annotated[
        str | None,
        typer.Option(help="regression: forget every sample whose target lies in LO:HI (an empty side is unbounded)"),
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="method config override key=value (repeatable)")
    ] = None,
    seed: Annotated[int, typer.Option(help="run seed (same seed → same result)")] = 0,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="search the method's strength knobs against a target that needs no retrained model "
            "(class: forget accuracy ≤ chance; random/owner/range: forget rows look held-out), on a validation "
            "part of the retain set",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the receipt as JSON")] = False,
) -> None:
    """Approximately unlearn data from a standard model and save the edited model (receipt on stdout)."""
    from unlearnkit.approx._common import config_from_dict, config_to_dict
    from unlearnkit.context import RunContext
    from unlearnkit.models.io import save_model
    from unlearnkit.registry import get_method

    if out.exists():
        raise fail(f"{out}: already exists (choose another --out or remove it)")
    try:
        info = get_method(method)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    overrides = parse_set_values(set_)
    try:
        cfg = config_from_dict(info.cls.config_cls, overrides)
    except UnlearnkitError as exc:
        raise fail(f"--set: {exc}") from None
    model, spec, meta = _load_standard(model_dir)
    regression = _is_regression(meta)
    task = "regression" if regression else "classification"
    if info.task != task:
        raise fail(f"method {method!r} is for {info.task}, and {model_dir} is a {task} model")
    bundle = _bundle(meta)
    forget = _forget_spec(forget_class, forget_fraction, forget_ids, owner, seed, forget_range, regression)
    try:
        split = _split_from(bundle, forget)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    split.meta["train"] = meta.get("train") or {}
    ctx = RunContext(seed=seed, progress=sys.stderr.isatty())
    try:
        if calibrate:
            from unlearnkit.eval.calibration import unlearn as calibrated_unlearn

            result = calibrated_unlearn(method, model, split, ctx=ctx, config=overrides, calibrate=True)
            cfg = config_from_dict(info.cls.config_cls, result.config)
        else:
            result = info.cls(cfg).unlearn(model, split, ctx=ctx)
    except UnlearnkitError as exc:
        raise fail(f"{method}: {exc}") from None
    calibration = result.metadata.get("calibration")
    quick = _quick(result.model, split, regression)
    forget_hash = split.meta["forget_ids_hash"]
    # Retrain from scratch on D_r is exact; every other method edits the model and is approximate.
    exact = method in ("retrain", "retrain_regression")
    guarantee = "exact-retrain" if exact else result.guarantee
    save_meta = {
        "data": meta["data"],
        "train": meta.get("train"),
        "source": str(model_dir),
        "method": method,
        "config": config_to_dict(cfg),
        "forget": forget,
        "forget_ids_hash": forget_hash,
        "scenario": split.scenario,
        "guarantee": guarantee,
        "unlearn": {
            "seconds": result.seconds,
            "steps": result.steps,
            "metadata": result.metadata,
            "seed": seed,
        },
        "verification": quick,
    }
    try:
        save_model(out, result.model, spec, meta=save_meta)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    receipt = {
        "method": method,
        "guarantee": guarantee,
        "scenario": split.scenario,
        "forgotten": len(split.forget),
        "forget_ids_hash": forget_hash,
        "seconds": round(result.seconds, 4),
        "steps": result.steps,
        "verification": {k: round(v, 4) for k, v in quick.items()},
        "out": str(out),
    }
    if calibration is not None:
        receipt["calibration"] = {
            "chosen": calibration["chosen"],
            "target": calibration["target"],
            "reached": calibration["reached"],
            "reached_on_final_model": calibration["final"].get("reached"),
            "message": calibration["message"],
            "validation_rows": calibration["val_size"],
            "validation_ids_hash": calibration["val_ids_hash"],
        }
    if as_json:
        typer.echo(json.dumps(receipt, indent=2))
        return
    from rich.console import Console
    from rich.panel import Panel

    if exact:
        headline = "[bold]guarantee:[/] [green]EXACT[/] (exact-retrain) — retrained from scratch without the data"
    else:
        headline = (
            f"[bold]guarantee:[/] [yellow]APPROXIMATE[/] ({guarantee}) — the model was edited, not retrained; "
            "the evidence below is measured, not proven"
        )
    lines = [
        headline,
        f"method: {method}   scenario: {split.scenario}   forgotten samples: {len(split.forget)} "
        f"(ids hash {forget_hash[:12]}…)",
        f"runtime: {result.seconds:.3f} s, {result.steps} update steps",
        *(_calibration_lines(calibration) if calibration is not None else []),
        "quick verification: " + ", ".join(f"{LABELS.get(k, k)} {v:.3f}" for k, v in quick.items()),
        f"saved to {out}   (compare with Retrain: unlearnkit eval {out} --original {model_dir} --retrain DIR)",
    ]
    Console().print(Panel("\n".join(lines), title="approximate unlearning receipt", expand=False))


def _quick(model: Any, split: Any, regression: bool) -> dict[str, float]:
    """The receipt's measured evidence: UA/RA/TA and a loss-MIA AUC, or for regression the MAE on retain, forget
    and test rows (and test rows in the forgotten range) and the loss-MIA AUC."""
    if regression:
        from unlearnkit.eval.regression import evaluate_regression

        values = evaluate_regression(model, split)
        return {k: values[k] for k in QUICK_REGRESSION if k in values}
    from unlearnkit.eval import evaluate_all

    return evaluate_all(model, split, metrics=[m for m in QUICK_METRICS if split.test is not None or m == "ra"])


def _calibration_lines(cal: dict[str, Any]) -> list[str]:
    color = "green" if cal["reached"] else "red"
    final = cal["final"].get("reached")
    return [
        f"[bold]calibration:[/] [{color}]{cal['message']}[/]",
        f"  on the final model the target is {'reached' if final else 'NOT reached'}; searched "
        f"{len(cal['table'])} settings on {cal['val_size']} retain-validation rows",
    ]


@app.command("eval")
def eval_(
    model_dir: Annotated[Path, typer.Argument(help="an unlearned model directory (from unlearnkit unlearn)")],
    original: Annotated[Path | None, typer.Option(help="the original standard model directory")] = None,
    retrain: Annotated[Path | None, typer.Option(help="a Retrain model directory (unlearn --method retrain)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    explain: Annotated[bool, typer.Option(help="add a column saying what each metric means")] = False,
) -> None:
    """Metric table of an unlearned model (UA/RA/TA, MIAs, Avg. Gap and distances to Retrain, RTE)."""
    from unlearnkit.eval import evaluate_all
    from unlearnkit.registry import get_metric

    model, _, meta = _load_standard(model_dir)
    if "forget" not in meta:
        raise fail(f"{model_dir}: no forget set recorded (make it with: unlearnkit unlearn ... --out {model_dir})")
    bundle = _bundle(meta)
    try:
        split = _split_from(bundle, meta["forget"])
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    orig_model = ref_model = None
    orig_meta: dict[str, Any] = {}
    ref_meta: dict[str, Any] = {}
    if original is not None:
        orig_model, _, orig_meta = _load_standard(original)
    if retrain is not None:
        ref_model, _, ref_meta = _load_standard(retrain)
        if ref_meta.get("forget_ids_hash") not in (None, meta.get("forget_ids_hash")):
            raise fail(f"{retrain}: its forget set differs from {model_dir}'s (forget-set hashes do not match)")
        if ref_meta.get("method") not in (None, "retrain", "retrain_regression"):
            raise fail(f"{retrain}: made by method {ref_meta.get('method')!r}, not retrain")
    regression = _is_regression(meta)
    for path, other in ((original, orig_meta), (retrain, ref_meta)):
        if path is not None and _is_regression(other) != regression:
            raise fail(f"{path}: a {'regression' if not regression else 'classification'} model, unlike {model_dir}")
    evaluate: Any = evaluate_all
    if regression:  # the same keywords, the regression metrics
        from unlearnkit.eval.regression import evaluate_regression as evaluate
    seconds = (meta.get("unlearn") or {}).get("seconds")
    rows = {"unlearned": evaluate(model, split, reference=ref_model, original=orig_model, seconds=seconds)}
    if orig_model is not None:
        rows["original"] = evaluate(orig_model, split, reference=ref_model, original=orig_model)
    if ref_model is not None:
        rows["retrain"] = evaluate(ref_model, split, reference=ref_model, original=orig_model)
        ref_unlearn = (ref_meta.get("unlearn") or {}) if retrain is not None else {}
        if ref_unlearn.get("seconds") is not None:
            rows["retrain"]["reg_rte" if regression else "rte"] = float(ref_unlearn["seconds"])
    if as_json:
        typer.echo(
            json.dumps(
                {"method": meta.get("method"), "scenario": split.scenario, "guarantee": meta.get("guarantee"), **rows},
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{meta.get('method', '?')} on {split.scenario} forgetting ({len(split.forget)} samples)")
    table.add_column("metric")
    table.add_column("dir")
    for name in rows:
        table.add_column(name, justify="right")
    if explain:
        table.add_column("meaning")
    first = ["ua", "ra", "ta", "ta_forget_class", "mia_efficacy", "mia_entropy_ssd", "avg_gap", "rte"]
    first += ["retain_mae", "forget_mae", "test_mae", "test_forget_mae", "reg_avg_gap", "reg_rte"]
    names = sorted({k for r in rows.values() for k in r}, key=lambda k: (first.index(k) if k in first else 99, k))
    for name in names:
        info = get_metric(name)
        arrow = "" if info.higher_is_better is None else ("↑" if info.higher_is_better else "↓")
        cells = [f"{rows[r][name]:.4g}" if name in rows[r] else "–" for r in rows]
        table.add_row(name, arrow, *cells, *([info.description] if explain else []))
    Console().print(table)
    if ref_model is None:
        typer.echo("(no --retrain given: metrics that need a Retrain reference are not shown)")


@app.command()
def methods(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List the registered unlearning methods with their paper and default configuration."""
    from unlearnkit.approx._common import config_help
    from unlearnkit.registry import list_methods

    rows = []
    for info in list_methods():
        cfg_cls = getattr(info.cls, "config_cls", None)
        defaults = {}
        if cfg_cls is not None and cfg_cls is not object:
            try:
                defaults = {name: default for name, _, default, _ in config_help(cfg_cls)}
            except TypeError:
                defaults = {}
        rows.append(
            {"name": info.name, "task": info.task, "needs": list(info.needs), "paper": info.paper, "defaults": defaults}
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="registered unlearning methods (retrain is the exact reference; the rest are approximate)")
    for col in ("method", "task", "needs", "paper", "defaults"):
        table.add_column(col, overflow="fold")
    for r in rows:
        defaults = ", ".join(f"{k}={v}" for k, v in r["defaults"].items() if k != "max_steps")
        table.add_row(r["name"], r["task"], ",".join(r["needs"]), r["paper"], defaults)
    Console().print(table)


@bench_app.command("approx")
def bench_approx(
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("runs/bench-approx"),
    quick: Annotated[bool, typer.Option(help="1 seed, digits only, class + random scenarios")] = False,
    seeds: Annotated[str | None, typer.Option(help="comma-separated seeds (default 0,1,2)")] = None,
    datasets: Annotated[
        str | None, typer.Option(help="comma-separated: digits,mnist1d or CSV/Parquet paths (label column)")
    ] = None,
    scenarios: Annotated[str | None, typer.Option(help="comma-separated: random,class,subclass")] = None,
    methods_: Annotated[
        str | None, typer.Option("--methods", help="comma-separated method names (default all)")
    ] = None,
    tune: Annotated[bool, typer.Option(help="tune each method on val by Avg. Gap")] = True,
    sweeps: Annotated[bool, typer.Option(help="prune_first sparsity sweep and SSD α/λ heatmap")] = True,
    calibrate: Annotated[
        bool, typer.Option(help="add the paper-defaults vs calibrated (no Retrain) vs tuned comparison")
    ] = True,
    merge: Annotated[
        list[Path] | None,
        typer.Option(help="merge these earlier --out directories into one report in --out (runs nothing)"),
    ] = None,
) -> None:
    """Approximate-unlearning benchmark: SalUn-style tables, Pareto plot, sweeps, paper directions.

    ``--datasets`` takes built-in names (digits, mnist1d) or paths to your own CSV/Parquet files.
    """
    from unlearnkit.bench.approx import BenchConfig, merge_results, run_benchmark

    if merge:
        missing = [str(d) for d in merge if not (d / "results.json").is_file()]
        if missing:
            raise fail(f"--merge: no results.json in {', '.join(missing)}")
        summary = merge_results(merge, out)
        typer.echo(summary["markdown"])
        typer.echo(f"merged {len(merge)} runs into {out}/")
        return

    cfg = BenchConfig.quick() if quick else BenchConfig()

    def _csv(text: str | None) -> tuple[str, ...] | None:
        return None if text is None else tuple(p.strip() for p in text.split(",") if p.strip())

    try:
        if seeds is not None:
            cfg.seeds = tuple(int(s) for s in _csv(seeds) or ())
        if datasets is not None:
            cfg.datasets = _csv(datasets) or ()
        if scenarios is not None:
            cfg.scenarios = _csv(scenarios) or ()
    except ValueError:
        raise fail(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    cfg.methods = _csv(methods_)
    cfg.tune, cfg.sweeps, cfg.calibrate = tune, sweeps, calibrate
    run_bench(run_benchmark, out, cfg, written=" (results.json, results.md, PNGs)")
