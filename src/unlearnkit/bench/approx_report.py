"""Markdown report and figures of the approximate-unlearning benchmark (:mod:`unlearnkit.bench.approx`)."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unlearnkit.approx._common import config_from_dict
from unlearnkit.context import RunContext
from unlearnkit.errors import ConfigError
from unlearnkit.eval import evaluate_all
from unlearnkit.eval.report import ResultRecord, aggregate, mean_std, render_table
from unlearnkit.registry import get_method

if TYPE_CHECKING:
    from unlearnkit.bench.approx import BenchConfig, Task, _Run

ORDER = [
    "original",
    "retrain",
    "ft",
    "ga",
    "neggrad_plus",
    "random_label",
    "iu",
    "iu_woodfisher",
    "fisher",
    "l1_sparse",
    "prune_first",
    "salun",
    "salun_soft",
    "ssd",
    "lfssd",
    "iau",
    "scrub",
    "bad_teacher",
    "amnesiac",
    "unsir",
    "boundary_shrink",
    "boundary_expand",
    "laf",
    "concept",
]
VARIANTS = ("defaults", "calibrated", "tuned")


def _seeds(records: Sequence[ResultRecord], dataset: str, scenario: str) -> list[int]:
    return sorted({r.seed for r in records if (r.dataset, r.scenario) == (dataset, scenario)})


def _caption(seeds: Sequence[int]) -> str:
    n = len(seeds)
    return (
        f"{n} seed{'s' if n != 1 else ''} ({', '.join(map(str, seeds))}); "
        "error bars: ±1 std over seeds, clipped to the metric's range"
    )


def _mark(v: bool | None) -> str:
    return {True: "yes", False: "no", None: "n/a"}[v]


def render_markdown(
    run: _Run, claims: Sequence[dict[str, Any]], figures: Sequence[str], elapsed: float, cfg: BenchConfig
) -> str:
    notes: dict[tuple[str, str, str], str] = {}
    for c in claims:
        k = (c["dataset"], c["scenario"], c["method"])
        agreed = f" ({c['basis']})" if c.get("basis") else ""
        notes[k] = (notes[k] + "; " if k in notes else "") + f"{c['claim']} → {_mark(c['reproduced'])}{agreed}"
    datasets = sorted({r.dataset for r in run.records})
    lines = [
        "# Approximate unlearning benchmark",
        "",
        f"Datasets {', '.join(datasets)}; scenarios {', '.join(cfg.scenarios)}; seeds {list(cfg.seeds)}; "
        f"{'tuned on val by Avg. Gap' if cfg.tune else 'default configs'}"
        f"{'; calibrated without Retrain' if cfg.calibrate else ''}; wall time {elapsed:.0f} s.",
        "Cells: mean±std over seeds (|gap| to Retrain's mean). Avg. Gap: mean±std of per-seed Avg. Gap "
        "(UA, RA, TA, MIA-Eff). RTE: seconds of the update (Original row: its training time; prune_first: the "
        "unlearning step, its pruning + masked retraining are preparation). Random forgetting uses a memorising "
        "setup (small subset with label noise). `iu` is the released method (its WoodFisher recursion); "
        "`iu_woodfisher` solves H⁻¹v exactly.",
        "",
        "## Scenario preconditions",
        "",
    ]
    for c in run.checks:
        status = "ok" if c["ok"] else f"INVALID — {c['reason']}"
        lines.append(
            f"- {c['dataset']}/{c['scenario']} seed {c['seed']}: Original UA {c['original_ua']:.1f}, "
            f"Retrain UA {c['retrain_ua']:.1f}: {status}"
        )
    lines += ["", "## Results (tuned against Retrain on val)", "", render_table(run.records, order=ORDER, notes=notes)]
    if run.variants:
        lines += _strength_section(run)
    if run.timings:
        lines += _timing_section(run)
    if claims:
        done = [c for c in claims if c["reproduced"] is not None]
        yes = sum(1 for c in done if c["reproduced"])
        lines += [
            "## Paper directions",
            "",
            f"{yes} of {len(done)} decidable claims reproduced. A per-seed part counts only when it holds on a "
            "strict majority of seeds (column *seeds agreed*); a spread part uses the std over seeds; a time part "
            "uses the median of repeated timings in this run.",
            "",
            "| dataset | scenario | method | paper's direction | seeds agreed | basis | reproduced |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in claims:
            agreed = "–" if c.get("agreed") is None else f"{c['agreed']}/{c['seeds']}"
            lines.append(
                f"| {c['dataset']} | {c['scenario']} | {c['method']} | {c['claim']} | {agreed} | {c.get('basis', '')} "
                f"| {_mark(c['reproduced'])} |"
            )
        lines.append("")
    if run.skipped:
        lines += ["## Not applicable (the method declined the scenario)", ""]
        seen = sorted({(f["dataset"], f["scenario"], f["method"], f["reason"]) for f in run.skipped})
        lines += [f"- {d}/{sc} {m}: {reason}" for d, sc, m, reason in seen]
        lines.append("")
    if run.failures:
        lines += ["## Failures", ""]
        lines += [
            f"- {f['dataset']}/{f['scenario']} seed {f['seed']} {f['method']}: {f['error']}" for f in run.failures
        ]
        lines.append("")
    if figures:
        lines += ["## Figures", "", "Each figure also exists as PDF next to its PNG.", ""]
        lines += [f"- ![{Path(f).stem}]({Path(f).name})" for f in figures] + [""]
    return "\n".join(lines)


def _strength_section(run: _Run) -> list[str]:
    """Avg. Gap to Retrain of paper defaults, calibrated (no Retrain) and tuned-against-Retrain configs."""
    rows: dict[tuple[str, str, str], dict[str, list[ResultRecord]]] = {}
    for r in [*run.records, *run.variants]:
        if r.method in ("original", "retrain"):
            continue
        variant = r.extra.get("variant", "tuned")
        rows.setdefault((r.dataset, r.scenario, r.method), {}).setdefault(variant, []).append(r)
    lines = [
        "## Strength: paper defaults vs calibrated vs tuned against Retrain",
        "",
        "Avg. Gap to Retrain (mean±std over seeds; lower is better). *Calibrated* searched the method's declared "
        "strength knobs on the first seed against a target that needs no retrained model (class: forget accuracy "
        "≤ chance; random/sub-class: forget rows indistinguishable from held-out rows), on a validation part of "
        "the retain set; *tuned* used Retrain itself (an upper bound a user cannot reach). *Target* counts the "
        "seeds whose final calibrated model meets the target.",
        "",
    ]
    rank = {m: i for i, m in enumerate(ORDER)}
    for dataset, scenario in sorted({(d, s) for d, s, _ in rows}):
        lines += [f"### {dataset} — {scenario}", ""]
        lines += [
            "| method | defaults | calibrated | tuned | calibration (first seed) | target on final models | chosen |",
            "|---|---|---|---|---|---|---|",
        ]
        methods = sorted({m for d, s, m in rows if (d, s) == (dataset, scenario)}, key=lambda m: (rank.get(m, 99), m))
        for method in methods:
            by = rows[(dataset, scenario, method)]
            cells = []
            for v in VARIANTS:
                mean, std = mean_std(r.metrics.get("avg_gap") for r in by.get(v, []))
                cells.append("–" if math.isnan(mean) else f"{mean:.2f}±{std:.2f}")
            cal = run.calibration.get(f"{dataset}/{scenario}/{method}")
            cal_recs = by.get("calibrated", [])
            reached = [r.extra.get("target_reached") for r in cal_recs]
            decided = [x for x in reached if x is not None]
            final = f"{sum(decided)}/{len(cal_recs)}" if decided else "–"
            if cal is None:
                status, chosen = "–", "–"
            else:
                status = "reached" if cal["reached"] else "**not reached** (closest used)"
                chosen = ", ".join(
                    f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in cal["chosen"].items()
                )
            lines.append(f"| {method} | {' | '.join(cells)} | {status} | {final} | {chosen} |")
        lines.append("")
    return lines


def _timing_section(run: _Run) -> list[str]:
    lines = [
        "## Cost ratios (repeated timings)",
        "",
        "Median seconds of the repeated, interleaved runs on the first seed (the time claims read these), and "
        "Retrain's median divided by the method's.",
        "",
    ]
    for (dataset, scenario), block in sorted(run.timings.items()):
        ref = statistics.median(block["retrain"]) if block.get("retrain") else math.nan
        lines += [
            f"### {dataset} — {scenario}",
            "",
            "| method | repeats | median s | Retrain / method |",
            "|---|---|---|---|",
        ]
        for name in sorted(block, key=lambda n: statistics.median(block[n])):
            med = statistics.median(block[name])
            ratio = ref / med if med > 0 and not math.isnan(ref) else math.nan
            lines.append(f"| {name} | {len(block[name])} | {med:.4f} | {ratio:.1f}× |")
        lines.append("")
    return lines


def strength_figures(records: Sequence[ResultRecord], variants: Sequence[ResultRecord], out: Path) -> list[str]:
    """Grouped bars of Avg. Gap for defaults / calibrated / tuned, one figure per (dataset, scenario)."""
    from unlearnkit.eval.plots import grouped_bars

    if not variants:
        return []
    figures = []
    allrecs = [*records, *variants]
    for dataset, scenario in sorted({(r.dataset, r.scenario) for r in variants}):
        rank = {m: i for i, m in enumerate(ORDER)}
        methods = sorted(
            {r.method for r in variants if (r.dataset, r.scenario) == (dataset, scenario)},
            key=lambda m: (rank.get(m, 99), m),
        )
        series: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
        for method in methods:
            for v in VARIANTS:
                vals = [
                    r.metrics.get("avg_gap")
                    for r in allrecs
                    if (r.dataset, r.scenario, r.method) == (dataset, scenario, method)
                    and r.extra.get("variant", "tuned") == v
                ]
                series[v].append(mean_std(vals))
        path = out / f"strength_{dataset}_{scenario}.png"
        grouped_bars(
            methods,
            series,
            path,
            ylabel="Avg. Gap to Retrain ↓",
            title=f"{dataset} {scenario}: paper defaults vs calibrated vs tuned",
            caption=_caption(_seeds(variants, dataset, scenario)),
            lower=0.0,
        )
        figures.append(str(path))
    return figures


def pareto_figures(records: Sequence[ResultRecord], out: Path) -> list[str]:
    """One Avg. Gap vs RTE plot per (dataset, scenario) of the tuned runs."""
    from unlearnkit.eval.plots import pareto_plot

    agg = aggregate(records, ["avg_gap", "rte"])
    figures = []
    for dataset, scenario in sorted({(d, s) for d, s, _ in agg}):
        points = [
            {
                "method": meth,
                "avg_gap": row["avg_gap"][0],
                "avg_gap_std": row["avg_gap"][1],
                "rte": row["rte"][0],
                "rte_std": row["rte"][1],
            }
            for (d, s, meth), row in agg.items()
            if (d, s) == (dataset, scenario) and meth != "original"
        ]
        path = out / f"pareto_{dataset}_{scenario}.png"
        seeds = _seeds(records, dataset, scenario)
        pareto_plot(points, path, title=f"{dataset} {scenario}: Avg. Gap vs RTE", caption=_caption(seeds))
        figures.append(str(path))
    return figures


def _field_like(cls: type, *needles: str) -> str | None:
    for f in dataclasses.fields(cls.config_cls):
        if any(n in f.name for n in needles):
            return f.name
    return None


def sparsity_sweep(task: Task, out: Path, failures: list[dict[str, Any]]) -> list[str]:
    """UA, MIA-Eff and TA of ``prune_first`` against sparsity (if registered), plus Retrain's line."""
    from unlearnkit.eval.plots import sweep_plot

    try:
        cls = get_method("prune_first").cls
    except ConfigError:
        return []
    knob = _field_like(cls, "sparsity", "prune_rate", "rate")
    if knob is None:
        failures.append(
            {
                "dataset": task.dataset,
                "scenario": task.scenario,
                "seed": task.seed,
                "method": "prune_first",
                "error": "no sparsity field found in its config",
            }
        )
        return []
    levels = [0.0, 0.5, 0.8, 0.9, 0.95]
    series: dict[str, list[float]] = {"UA": [], "MIA-Eff": [], "TA": []}
    ref = evaluate_all(task.retrain, task.split, metrics=["ua", "mia_efficacy", "ta"])
    try:
        for level in levels:
            res = cls(config_from_dict(cls.config_cls, {knob: level})).unlearn(
                task.original, task.split, ctx=RunContext(seed=task.seed)
            )
            ev = evaluate_all(res.model, task.split, metrics=["ua", "mia_efficacy", "ta"])
            series["UA"].append(ev["ua"])
            series["MIA-Eff"].append(ev["mia_efficacy"])
            series["TA"].append(ev["ta"])
    except Exception as exc:  # report, never sink the run
        failures.append(
            {
                "dataset": task.dataset,
                "scenario": task.scenario,
                "seed": task.seed,
                "method": "prune_first",
                "error": f"sparsity sweep: {type(exc).__name__}: {exc}",
            }
        )
        return []
    series["Retrain UA"] = [ref["ua"]] * len(levels)
    path = out / "sparsity_sweep.png"
    sweep_plot(
        levels,
        series,
        path,
        xlabel=f"prune_first {knob}",
        ylabel="%",
        title=f"{task.dataset} {task.scenario} ({task.label}): prune first, then unlearn",
        caption=f"one seed ({task.seed}); Retrain UA as a flat reference line",
    )
    with (out / "sparsity_sweep.json").open("w") as fh:
        json.dump({"knob": knob, "levels": levels, "series": series}, fh, indent=2)
    return [str(path)]


def ssd_heatmap(task: Task, out: Path, failures: list[dict[str, Any]]) -> list[str]:
    """UA and RA of SSD over α × λ (if ``ssd`` is registered)."""
    from unlearnkit.eval.plots import heatmap

    try:
        cls = get_method("ssd").cls
    except ConfigError:
        return []
    alpha = _field_like(cls, "selection_weighting", "alpha")
    lam = _field_like(cls, "dampening_constant", "lambda", "lam")
    if alpha is None or lam is None:
        return []
    alphas, lambdas = [1.0, 2.0, 3.0, 5.0, 10.0, 25.0, 50.0], [0.1, 0.5, 1.0]
    grids: dict[str, list[list[float]]] = {"ua": [], "ra": []}
    try:
        for lv in lambdas:
            rows = {"ua": [], "ra": []}
            for av in alphas:
                res = cls(config_from_dict(cls.config_cls, {alpha: av, lam: lv})).unlearn(
                    task.original, task.split, ctx=RunContext(seed=task.seed)
                )
                ev = evaluate_all(res.model, task.split, metrics=["ua", "ra"])
                rows["ua"].append(ev["ua"])
                rows["ra"].append(ev["ra"])
            for k in grids:
                grids[k].append(rows[k])
    except Exception as exc:
        failures.append(
            {
                "dataset": task.dataset,
                "scenario": task.scenario,
                "seed": task.seed,
                "method": "ssd",
                "error": f"α/λ heatmap: {type(exc).__name__}: {exc}",
            }
        )
        return []
    figures = []
    for k, label in (("ua", "UA (100 − forget acc) %"), ("ra", "RA (retain acc) %")):
        path = out / f"ssd_heatmap_{k}.png"
        heatmap(
            grids[k],
            [f"λ={v:g}" for v in lambdas],
            [f"α={v:g}" for v in alphas],
            path,
            xlabel="α (selection)",
            ylabel="λ (dampening)",
            title=f"SSD on {task.dataset} {task.label}: {label}",
            cbar_label=label,
            caption=f"one seed ({task.seed})",
        )
        figures.append(str(path))
    with (out / "ssd_heatmap.json").open("w") as fh:
        json.dump({"alphas": alphas, "lambdas": lambdas, **grids}, fh, indent=2)
    return figures


__all__ = ["pareto_figures", "render_markdown", "sparsity_sweep", "ssd_heatmap", "strength_figures"]
