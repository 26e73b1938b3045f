"""The approximate-unlearning benchmark: SalUn-style tables, a cost/quality Pareto plot, sweeps, claims.

For every dataset (digits, MNIST-1D), scenario (random on a memorising setup, full-class, sub-class) and
seed, :func:`prepare_task` trains the Original on D = D_r ∪ D_f and a from-scratch Retrain on D_r with the
same schedule, and checks the scenario's precondition (:func:`~unlearnkit.data.scenarios.check_scenario`).
Every registered classification method is tuned once per (dataset, scenario) on the first seed by the
smallest Avg. Gap on the *validation* split (:func:`unlearnkit.eval.tuning.tune`), then run with that
config on every seed and evaluated on the test split against that seed's Retrain. Rows are reported as
"mean ± std (gap to Retrain)", with Avg. Gap and RTE, and each row carries the paper's direction of result
and whether this run reproduced it (computed from the numbers, never hard-coded).

Outputs (``out_dir``): ``results.json`` (records with config, seed, versions, git revision, forget-set
hash; tuning tables; claims; scenario checks; failures), ``results.md`` and PNG figures.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from unlearnkit.approx._common import config_from_dict, config_to_dict
from unlearnkit.bench.approx_claims import MIN_REPEATS, evaluate_claims, timed_methods
from unlearnkit.context import RunContext
from unlearnkit.data import DataBundle, load_digits, load_mnist1d
from unlearnkit.data.scenarios import (
    SUPERCLASSES,
    ScenarioCheck,
    check_scenario,
    class_forget,
    memorising_setup,
    subclass_forget,
    training_set,
)
from unlearnkit.errors import ConfigError
from unlearnkit.eval import evaluate_all
from unlearnkit.eval.report import ResultRecord, write_records
from unlearnkit.eval.tuning import tune
from unlearnkit.models import ModelSpec
from unlearnkit.models.standard import fit_standard
from unlearnkit.registry import get_method, list_methods
from unlearnkit.types import ForgetSplit

log = logging.getLogger(__name__)

SCENARIOS = ("random", "class", "subclass")
FORGET_CLASSES = (3, 8, 5)  # notes §6.1: classes forgotten for seeds 0, 1, 2
FORGET_SUBCLASSES = (6, 7, 5)  # one fine digit of {0,6}, {1,7}, {2,5}
METRICS = ("ua", "ra", "ta", "mia_efficacy", "avg_gap", "rte", "ta_forget_class", "mia_entropy_ssd", "loss_mia_auc")


@dataclass(frozen=True)
class DatasetSetup:
    """How a dataset is loaded and trained for the benchmark."""

    name: str
    loader: Callable[[int], DataBundle]
    epochs: int = 60
    memorise_train_size: int = 400
    memorise_noise: float = 0.2
    memorise_epochs: int = 150
    superclasses: str = "digits"


FILE_SUFFIXES = (".csv", ".parquet", ".pq")
FILE_TEST_FRACTION = 0.25

DATASETS: dict[str, DatasetSetup] = {
    "digits": DatasetSetup("digits", lambda seed: load_digits(seed)),
    "mnist1d": DatasetSetup(
        "mnist1d", lambda seed: load_mnist1d(seed), memorise_train_size=1200, memorise_noise=0.1, epochs=60
    ),
}


def resolve_setup(name: str) -> DatasetSetup:
    """A built-in benchmark dataset, or a user's CSV/Parquet file (label column required).

    A file is split per seed into a stratified test quarter and the deletable rest; it has no superclass map,
    so the sub-class scenario is skipped for it.
    """
    if name in DATASETS:
        return DATASETS[name]
    path = Path(name)
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise ConfigError(
            f"unknown benchmark dataset {name!r}; choose from {', '.join(DATASETS)} or give a CSV/Parquet file"
        )
    if not path.is_file():
        raise ConfigError(f"{name}: no such data file")
    from unlearnkit.data import load_table
    from unlearnkit.data.scenarios import stratified_split

    data = load_table(path)
    if data.is_regression:
        raise ConfigError(
            f"{name}: the label column is not a class label (regression data: unlearnkit bench regression)"
        )
    if data.num_classes < 2 or len(data) < 40:
        raise ConfigError(f"{name}: needs at least 2 classes and 40 rows, got {data.num_classes} and {len(data)}")

    def loader(seed: int) -> DataBundle:
        test, train = stratified_split(data, FILE_TEST_FRACTION, seed)
        return DataBundle(train, test, None, path.stem)

    return DatasetSetup(path.stem, loader, superclasses="")


@dataclass
class Task:
    """One (dataset, scenario, seed): the split, the Original, the Retrain reference and the precondition."""

    dataset: str
    scenario: str
    seed: int
    split: ForgetSplit
    spec: ModelSpec
    original: nn.Module
    retrain: nn.Module
    original_seconds: float
    retrain_seconds: float
    hyper: dict[str, Any]
    check: ScenarioCheck
    label: str


def make_split(bundle: DataBundle, setup: DatasetSetup, scenario: str, seed: int, index: int = 0) -> ForgetSplit:
    """The benchmark's split for ``scenario`` (``index`` picks the forgotten class/sub-class)."""
    if scenario == "random":
        return memorising_setup(
            bundle, train_size=setup.memorise_train_size, noise=setup.memorise_noise, fraction=0.1, seed=seed
        )
    if scenario == "class":
        cls = FORGET_CLASSES[index % len(FORGET_CLASSES)]
        if cls >= bundle.num_classes:  # a user's dataset with fewer classes
            cls = index % bundle.num_classes
        return class_forget(bundle.train, cls, test=bundle.test, seed=seed)
    if scenario == "subclass":
        if setup.superclasses not in SUPERCLASSES:
            raise ConfigError(f"sub-class forgetting needs a superclass map; {bundle.name} has none")
        fine = FORGET_SUBCLASSES[index % len(FORGET_SUBCLASSES)]
        return subclass_forget(bundle.train, fine, setup.superclasses, test=bundle.test, seed=seed)
    raise ConfigError(f"unknown benchmark scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")


def prepare_task(
    bundle: DataBundle,
    scenario: str,
    *,
    seed: int = 0,
    index: int | None = None,
    setup: DatasetSetup | None = None,
    spec: ModelSpec | None = None,
    epochs: int | None = None,
    lr: float = 1e-3,
    batch_size: int = 64,
    split: ForgetSplit | None = None,
) -> Task:
    """Train the Original and the Retrain reference for one scenario and check its precondition."""
    setup = setup or DATASETS.get(bundle.name, DatasetSetup(bundle.name, lambda s: bundle))
    split = split or make_split(bundle, setup, scenario, seed, seed if index is None else index)
    train = training_set(split)
    spec = spec or ModelSpec(in_features=train.num_features, num_classes=train.num_classes)
    if epochs is None:
        epochs = setup.memorise_epochs if split.meta.get("setup") == "memorising" else setup.epochs
    ctx = RunContext(seed=seed)
    t0 = time.perf_counter()
    original, hyper = fit_standard(train, spec, epochs=epochs, lr=lr, batch_size=batch_size, ctx=ctx)
    original_seconds = time.perf_counter() - t0
    split.meta["train"] = hyper
    ref = get_method("retrain").cls().unlearn(original, split, ctx=ctx)
    ua = evaluate_all(original, split, metrics=["ua"])["ua"]
    ua_rt = evaluate_all(ref.model, split, metrics=["ua"])["ua"]
    if scenario == "class":
        label = f"class {split.forget_class}"
    elif scenario == "subclass":
        label = f"digit {split.meta['fine_class']} of superclass {split.forget_class}"
    else:
        label = f"random {split.meta.get('fraction', 0):.0%} of {len(train)} (label noise {split.meta.get('noise', 0)})"
    return Task(
        dataset=bundle.name,
        scenario=scenario,
        seed=seed,
        split=split,
        spec=spec,
        original=original,
        retrain=ref.model,
        original_seconds=original_seconds,
        retrain_seconds=ref.seconds,
        hyper=hyper,
        check=check_scenario(scenario, ua, ua_rt),
        label=label,
    )


def tiny_task(
    scenario: str = "class",
    *,
    seed: int = 0,
    train_size: int = 300,
    width: int | None = None,
    depth: int = 2,
    epochs: int | None = None,
    forget_class: int = 3,
) -> Task:
    """A seconds-scale task for tests and examples: a digits subset and a small ResMLP.

    ``class`` forgets ``forget_class`` from a stratified ``train_size`` subset (default width 32, 40 epochs;
    pass ``width=64, epochs=100`` for an original that memorises its 300 samples); ``random`` is a
    memorising setup (20% label noise, width 32, 200 epochs at lr 3e-3) so Retrain and Original differ on
    the forget set (the precondition holds for seeds 0-2).
    """
    from unlearnkit.data.scenarios import stratified_split

    bundle = load_digits(seed)
    lr = 1e-3
    if scenario == "random":
        split = memorising_setup(bundle, train_size=train_size, noise=0.2, fraction=0.1, seed=seed)
        epochs, lr, width = (200 if epochs is None else epochs), 3e-3, width or 32
    else:
        small, _ = stratified_split(bundle.train, train_size / len(bundle.train), seed)
        bundle = DataBundle(small, bundle.test, None, bundle.name)
        if scenario == "class":
            split = class_forget(bundle.train, forget_class, test=bundle.test, seed=seed)
        else:
            split = make_split(bundle, DATASETS["digits"], scenario, seed)
        epochs, width = (40 if epochs is None else epochs), width or 32
    train = training_set(split)
    spec = ModelSpec(in_features=train.num_features, num_classes=train.num_classes, width=width, depth=depth)
    return prepare_task(bundle, scenario, seed=seed, spec=spec, epochs=epochs, lr=lr, split=split)


# -- the run ---------------------------------------------------------------------------------------
@dataclass
class BenchConfig:
    """What :func:`run_benchmark` runs. ``datasets`` are built-in names or CSV/Parquet paths."""

    datasets: tuple[str, ...] = ("digits", "mnist1d")
    scenarios: tuple[str, ...] = SCENARIOS
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] | None = None
    tune: bool = True
    calibrate: bool = True
    sweeps: bool = True
    time_repeats: int = MIN_REPEATS
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(datasets=("digits",), scenarios=("class", "random"), seeds=(0,))


def _methods(cfg: BenchConfig) -> list[str]:
    names = [m.name for m in list_methods("classification") if m.name != "retrain"]
    if cfg.methods is not None:
        unknown = sorted(set(cfg.methods) - set(names))
        if unknown:
            raise ConfigError(f"unknown method(s) {', '.join(unknown)}; registered: {', '.join(names)}")
        names = [n for n in names if n in cfg.methods]
    return names


def _record(task: Task, method: str, config: dict, metrics: dict, seconds: float | None, steps: int | None, **extra):
    return ResultRecord(
        method=method,
        dataset=task.dataset,
        scenario=task.scenario,
        seed=task.seed,
        config=config,
        metrics=metrics,
        seconds=seconds,
        steps=steps,
        forget_ids_hash=task.split.meta.get("forget_ids_hash"),
        reference="retrain",
        extra={"forget": task.label, **extra},
    )


@dataclass
class _Run:
    """Everything one benchmark run accumulates."""

    records: list[ResultRecord] = field(default_factory=list)
    variants: list[ResultRecord] = field(default_factory=list)
    tuning: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    chosen: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    valid: dict[tuple[str, str], bool] = field(default_factory=dict)
    first_tasks: dict[tuple[str, str], Task] = field(default_factory=dict)
    timings: dict[tuple[str, str], dict[str, list[float]]] = field(default_factory=dict)


def _choose(name: str, task: Task, cfg: BenchConfig, run: _Run) -> dict[str, Any]:
    """Paper-default, tuned-against-Retrain and calibrated configs of ``name``, chosen on the block's first seed."""
    from unlearnkit.eval.calibration import calibrate, strength_knobs

    cls = get_method(name).cls
    base = dict(cfg.overrides.get(name, {}))
    block = f"{task.dataset}/{task.scenario}/{name}"
    defaults = config_to_dict(config_from_dict(cls.config_cls, base))
    tuned = defaults
    if cfg.tune and getattr(cls, "search_grid", None):
        best, table = tune(
            name, task.original, task.split, task.retrain, ctx=RunContext(seed=task.seed), overrides=base
        )
        tuned = config_to_dict(best)
        run.tuning[block] = table
    calibrated = None
    if cfg.calibrate and strength_knobs(name):
        cal = calibrate(name, task.original, task.split, ctx=RunContext(seed=task.seed), base=base)
        calibrated = config_to_dict(config_from_dict(cls.config_cls, {**base, **cal.chosen}))
        run.calibration[block] = cal.to_dict()
    return {"tuned": tuned, "defaults": defaults, "calibrated": calibrated}


def _run_method(name: str, task: Task, cfg: BenchConfig, run: _Run) -> None:
    """The tuned run (main table) plus the defaults and calibrated variants of one method on one task."""
    from unlearnkit.eval.calibration import target_reached

    cls = get_method(name).cls
    key = (task.dataset, task.scenario, name)
    if key not in run.chosen:
        run.chosen[key] = _choose(name, task, cfg, run)
    ev = {"reference": task.retrain, "original": task.original}
    done: dict[str, tuple[dict[str, float], float, int, Any]] = {}
    for variant in ("tuned", "defaults", "calibrated"):
        config = run.chosen[key][variant]
        if config is None:
            continue
        k = json.dumps(config, sort_keys=True, default=str)
        if k not in done:
            result = cls(config_from_dict(cls.config_cls, config)).unlearn(
                task.original, task.split, ctx=RunContext(seed=task.seed)
            )
            metrics = evaluate_all(result.model, task.split, **ev, seconds=result.seconds)
            reached = target_reached(result.model, task.split)[0] if cfg.calibrate else None
            done[k] = (metrics, result.seconds, result.steps, reached)
        metrics, seconds, steps, reached = done[k]
        if variant == "tuned":
            run.records.append(_record(task, name, config, metrics, seconds, steps, target_reached=reached))
        else:
            run.variants.append(
                _record(task, name, config, metrics, seconds, steps, variant=variant, target_reached=reached)
            )


def _time_block(task: Task, run: _Run, cfg: BenchConfig, echo: Callable[[str], None]) -> None:
    """Median-ready timings: ``time_repeats`` interleaved runs of every method a time claim of the block reads."""
    present = sorted({r.method for r in run.records if (r.dataset, r.scenario) == (task.dataset, task.scenario)})
    names = [n for n in timed_methods(task.scenario, present) if n != "original"]
    if not names or cfg.time_repeats < 1:
        return
    block = run.timings.setdefault((task.dataset, task.scenario), {})
    for _ in range(cfg.time_repeats):
        for name in names:
            cls = get_method(name).cls
            config = {} if name == "retrain" else run.chosen[(task.dataset, task.scenario, name)]["tuned"]
            result = cls(config_from_dict(cls.config_cls, config)).unlearn(
                task.original, task.split, ctx=RunContext(seed=task.seed)
            )
            block.setdefault(name, []).append(result.seconds)
    echo(f"    timed {len(names)} methods × {cfg.time_repeats} repeats on {task.dataset}/{task.scenario}")


def _failure(task: Task, name: str, exc: BaseException) -> dict[str, Any]:
    return {
        "dataset": task.dataset,
        "scenario": task.scenario,
        "seed": task.seed,
        "method": name,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": traceback.format_exc(limit=4),
    }


def run_benchmark(
    out_dir: str | Path,
    cfg: BenchConfig | None = None,
    *,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark and write ``results.json``, ``results.md`` and figures (PNG + PDF) into ``out_dir``."""
    cfg = cfg or BenchConfig()
    echo = echo or (lambda msg: log.info("%s", msg))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods = _methods(cfg)
    setups = [resolve_setup(d) for d in cfg.datasets]
    started = time.perf_counter()
    run = _Run()
    for setup in setups:
        dataset = setup.name
        for seed in cfg.seeds:
            bundle = setup.loader(seed)
            for scenario in cfg.scenarios:
                try:
                    task = prepare_task(bundle, scenario, seed=seed, setup=setup)
                except ConfigError as exc:  # e.g. no superclass map for a user's file
                    run.skipped.append(
                        {"dataset": dataset, "scenario": scenario, "seed": seed, "method": "*", "reason": str(exc)}
                    )
                    continue
                run.first_tasks.setdefault((dataset, scenario), task)
                run.checks.append(
                    {"dataset": dataset, "scenario": scenario, "seed": seed, **dataclasses.asdict(task.check)}
                )
                run.valid[(dataset, scenario)] = run.valid.get((dataset, scenario), True) and task.check.ok
                echo(
                    f"[{time.perf_counter() - started:6.0f}s] {dataset}/{scenario} seed {seed} ({task.label}): "
                    f"precondition {'ok' if task.check.ok else 'FAILED: ' + task.check.reason}"
                )
                ev = {"reference": task.retrain, "original": task.original}
                meta = {"train": task.hyper}
                # no RTE for the Original: training is not unlearning
                run.records.append(
                    _record(
                        task,
                        "original",
                        meta,
                        evaluate_all(task.original, task.split, **ev),
                        task.original_seconds,
                        None,
                    )
                )
                metrics = evaluate_all(task.retrain, task.split, **ev, seconds=task.retrain_seconds)
                run.records.append(_record(task, "retrain", meta, metrics, task.retrain_seconds, None))
                for name in methods:
                    try:
                        _run_method(name, task, cfg, run)
                    except ConfigError as exc:  # the method declines this scenario (e.g. class-only methods)
                        run.skipped.append(
                            {"dataset": dataset, "scenario": scenario, "seed": seed, "method": name, "reason": str(exc)}
                        )
                    except Exception as exc:  # a broken method must not sink the benchmark: report it
                        run.failures.append(_failure(task, name, exc))
                        echo(f"    {name} FAILED: {type(exc).__name__}: {exc}")
    for task in run.first_tasks.values():
        try:
            _time_block(task, run, cfg, echo)
        except Exception as exc:  # report, never sink the run
            run.failures.append(_failure(task, "timing", exc))
    claims = evaluate_claims(run.records, run.valid, run.timings)
    from unlearnkit.bench.approx_report import pareto_figures, sparsity_sweep, ssd_heatmap, strength_figures

    figures: list[str] = []
    figures += pareto_figures(run.records, out)
    figures += strength_figures(run.records, run.variants, out)
    if cfg.sweeps:
        task = run.first_tasks.get(("digits", "class"))
        if task is not None:
            figures += sparsity_sweep(task, out, run.failures)
            figures += ssd_heatmap(task, out, run.failures)
    elapsed = time.perf_counter() - started
    return _write(out, run, cfg, {"methods": methods}, claims, figures, elapsed)


def _write(
    out: Path,
    run: _Run,
    cfg: BenchConfig,
    config_extra: dict[str, Any],
    claims: list[dict[str, Any]],
    figures: list[str],
    elapsed: float,
) -> dict[str, Any]:
    """Write ``results.json``, ``records.json`` and ``results.md``; return the summary (with the Markdown)."""
    from unlearnkit.bench.approx_report import render_markdown

    summary = {
        "config": {**dataclasses.asdict(cfg), **config_extra},
        "elapsed_seconds": elapsed,
        "records": [r.to_dict() for r in run.records],
        "variant_records": [r.to_dict() for r in run.variants],
        "tuning": run.tuning,
        "calibration": run.calibration,
        "timings": {f"{d}/{s}": v for (d, s), v in run.timings.items()},
        "claims": claims,
        "scenario_checks": run.checks,
        "failures": run.failures,
        "skipped": run.skipped,
        "figures": figures,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    write_records(run.records, out / "records.json")
    markdown = render_markdown(run, claims, figures, elapsed, cfg)
    (out / "results.md").write_text(markdown)
    summary["markdown"] = markdown
    return summary


def merge_results(dirs: Sequence[str | Path], out_dir: str | Path) -> dict[str, Any]:
    """Combine the outputs of several :func:`run_benchmark` runs (e.g. one per scenario, run side by side) into
    one report: records, calibration, timings and checks are concatenated, claims re-decided and the tables and
    figures redrawn; sweep figures are copied over."""
    import shutil

    from unlearnkit.bench.approx_report import pareto_figures, strength_figures

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run()
    parts = [json.loads((Path(d) / "results.json").read_text()) for d in dirs]
    if not parts:
        raise ConfigError("nothing to merge: give at least one benchmark output directory")
    elapsed = 0.0
    sweeps: list[str] = []
    for d, part in zip(dirs, parts, strict=True):
        run.records += [ResultRecord.from_dict(r) for r in part["records"]]
        run.variants += [ResultRecord.from_dict(r) for r in part.get("variant_records", [])]
        run.tuning.update(part.get("tuning", {}))
        run.calibration.update(part.get("calibration", {}))
        run.checks += part.get("scenario_checks", [])
        run.failures += part.get("failures", [])
        run.skipped += part.get("skipped", [])
        for key, block in part.get("timings", {}).items():
            dataset, scenario = key.split("/", 1)
            run.timings[(dataset, scenario)] = block
        elapsed = max(elapsed, float(part.get("elapsed_seconds", 0.0)))
        for f in part.get("figures", []):
            name = Path(f).name
            if name.startswith(("sparsity_sweep", "ssd_heatmap")):
                for src in Path(d).glob(f"{Path(name).stem}.*"):
                    shutil.copy(src, out / src.name)
                sweeps.append(str(out / name))
        for extra in ("sparsity_sweep.json", "ssd_heatmap.json"):
            if (Path(d) / extra).is_file():
                shutil.copy(Path(d) / extra, out / extra)
    for c in run.checks:
        key = (c["dataset"], c["scenario"])
        run.valid[key] = run.valid.get(key, True) and c["ok"]
    first = parts[0]["config"]
    names = {"datasets", "scenarios", "seeds", "methods", "tune", "calibrate", "sweeps", "time_repeats", "overrides"}
    cfg = BenchConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in first.items() if k in names})
    cfg.scenarios = tuple(dict.fromkeys(sc for p in parts for sc in p["config"]["scenarios"]))
    cfg.datasets = tuple(dict.fromkeys(d for p in parts for d in p["config"]["datasets"]))
    claims = evaluate_claims(run.records, run.valid, run.timings)
    figures = pareto_figures(run.records, out) + strength_figures(run.records, run.variants, out) + sweeps
    return _write(out, run, cfg, {"merged_from": [str(d) for d in dirs]}, claims, figures, elapsed)


__all__ = [
    "DATASETS",
    "FORGET_CLASSES",
    "FORGET_SUBCLASSES",
    "SCENARIOS",
    "BenchConfig",
    "DatasetSetup",
    "Task",
    "evaluate_claims",
    "make_split",
    "merge_results",
    "prepare_task",
    "run_benchmark",
    "tiny_task",
]
