"""Tables, figures and MUSE's directions for the LM benchmark (:mod:`unlearnkit.bench.llm`).

Every direction is decided from the numbers of this run (never hard-coded) and printed with the values it
compared; a direction that did not reproduce is listed as such. Each direction is decided on every seed alone
and counts as reproduced only when a strict majority of the seeds that could decide it agree; the report
shows how many did (the evidence quoted is the seed mean).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = (
    ("verbmem_f", "VerbMem ↓"),
    ("knowmem_f", "KnowMem_f ↓"),
    ("knowmem_r", "KnowMem_r ↑"),
    ("privleak", "PrivLeak →0"),
    ("utility_preserved", "utility % ↑"),
    ("forget_quality", "TOFU FQ ↑"),
    ("model_utility", "TOFU MU ↑"),
)
# MUSE News, Llama-2-7B, from the authors' logs (notes §1.5): VerbMem, KnowMem_f, PrivLeak, KnowMem_r
MUSE_NEWS = {
    "Target": (58.4, 63.9, -99.8, 55.2),
    "Retrain": (20.8, 33.1, 0.0, 55.0),
    "GA": (0.0, 0.0, 5.2, 0.0),
    "GA_GDR": (4.9, 31.0, 108.1, 27.3),
    "GA_KLR": (27.4, 50.2, -96.1, 44.8),
    "NPO": (0.0, 0.0, 24.4, 0.0),
    "NPO_GDR": (1.2, 54.6, 105.8, 40.5),
    "NPO_KLR": (26.9, 49.0, -95.8, 45.4),
    "TaskVector": (56.3, 63.7, -99.8, 54.6),
    "WHP": (19.7, 21.2, 109.6, 28.3),
}


def _stat(values: Sequence[float]) -> tuple[float, float]:
    v = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not v:
        return float("nan"), float("nan")
    return float(np.mean(v)), float(np.std(v))


def _cell(values: Sequence[float], digits: int = 1) -> str:
    m, s = _stat(values)
    if math.isnan(m):
        return "–"
    return f"{m:.{digits}f} ± {s:.{digits}f}" if len(values) > 1 else f"{m:.{digits}f}"


def aggregate_rows(seeds: list[dict[str, Any]], budget: bool = False) -> dict[str, dict[str, list]]:
    out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for s in seeds:
        for row in s["rows"]:
            src = row.get("budget") if budget else row
            if src is None:
                continue
            for k, v in src.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    out[row["method"]][k].append(float(v))
            if row.get("stop_step") is not None:
                out[row["method"]]["reached_stop"].append(row.get("reached_stop", True))
            out[row["method"]]["seconds"].append(row.get("seconds"))
            out[row["method"]]["stop_step"].append(row.get("stop_step"))
            out[row["method"]]["alpha"].append(row.get("alpha"))
    return out


def mean_curve(seeds: list[dict[str, Any]], method: str, key: str, metric: str) -> tuple[list[float], list[float]]:
    by_x: dict[float, list[float]] = defaultdict(list)
    for s in seeds:
        for row in s[key].get(method, []):
            x = row.get("step") if key == "curves" else row.get("folds", row.get("requests"))
            if x is not None and metric in row:
                by_x[float(x)].append(float(row[metric]))
    xs = sorted(by_x)
    return xs, [float(np.mean(by_x[x])) for x in xs]


def directions(seeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every MUSE direction: the seed-mean evidence, the per-seed verdicts and the majority verdict."""
    pooled = _directions(seeds)
    per_seed = [{d["direction"]: d["reproduced"] for d in _directions([s])} for s in seeds]
    for d in pooled:
        votes = [v.get(d["direction"]) for v in per_seed]
        decided = [bool(v) for v in votes if v is not None]
        d["seed_mean_verdict"] = d["reproduced"]
        d["seeds_agree"], d["seeds_decided"] = sum(decided), len(decided)
        d["per_seed"] = {str(s["seed"]): v for s, v in zip(seeds, votes, strict=True)}
        d["reproduced"] = None if not decided else sum(decided) * 2 > len(decided)
    return pooled


def _directions(seeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    agg, end = aggregate_rows(seeds), aggregate_rows(seeds, budget=True)

    def m(method: str, metric: str, table: dict = agg) -> float:
        return _stat(table.get(method, {}).get(metric, []))[0]

    out = []

    def add(claim: str, ok: bool | None, evidence: str) -> None:
        out.append({"direction": claim, "reproduced": ok, "evidence": evidence})

    t = m("Target", "privleak")
    add("Target PrivLeak is strongly negative (≤ −80)", t <= -80, f"Target PrivLeak {t:.1f}")
    ga_stop, ga_end = m("GA", "knowmem_r"), m("GA", "knowmem_r", end)
    if not math.isnan(ga_stop):
        add(
            "GA collapses utility past the stop point (KnowMem_r at the end of the budget ≤ 10 and below the stop's)",
            ga_end <= 10 and ga_end < ga_stop,
            f"GA KnowMem_r {ga_stop:.1f} at stop → {ga_end:.1f} at budget end",
        )
    npo = m("NPO", "knowmem_r")
    if not math.isnan(npo) and not math.isnan(ga_stop):
        add(
            "NPO keeps more utility than GA at the stop point",
            npo > ga_stop,
            f"KnowMem_r at stop: NPO {npo:.1f} vs GA {ga_stop:.1f}",
        )
    flips = []
    for name in sorted({k for s in seeds for k in s["curves"]}):
        xs, ys = mean_curve(seeds, name, "curves", "privleak")
        after = [y for x, y in zip(xs, ys, strict=True) if x > 0]
        if after and min(after) <= -10 and max(after) >= 10:
            flips.append(f"{name} (curve {min(after):+.0f} → {max(after):+.0f})")
    for name in sorted(agg):  # also: negative at the stop point, positive at the end of the budget
        stop_v, end_v = m(name, "privleak"), m(name, "privleak", end)
        if stop_v <= -10 and end_v >= 10 and not any(f.startswith(f"{name} ") for f in flips):
            flips.append(f"{name} (stop {stop_v:+.0f} → budget end {end_v:+.0f})")
    add(
        "PrivLeak changes sign between under- (negative) and over-unlearning (positive) along a run",
        bool(flips),
        "methods whose seed-mean PrivLeak goes from ≤ −10 to ≥ +10: " + (", ".join(flips) or "none"),
    )
    for key, label in (
        ("scalability", "forget-set size (1 → 4 folds)"),
        ("sustainability", "sequential requests (1 → 4)"),
    ):
        names = sorted({k for s in seeds for k in s[key]})
        falls, firsts, lasts = [], [], []
        for name in names:
            _, ys = mean_curve(seeds, name, key, "knowmem_r")
            if len(ys) >= 2:
                firsts.append(ys[0])
                lasts.append(ys[-1])
                if ys[-1] < ys[0]:
                    falls.append(name)
        if not names:
            add(f"Utility (KnowMem_r) falls with {label}", None, "not measured in this run")
        else:
            ok = len(falls) > len(names) / 2 and np.mean(lasts) < np.mean(firsts)
            add(
                f"Utility (KnowMem_r) falls with {label}",
                bool(ok),
                f"falls for {len(falls)}/{len(names)} methods ({', '.join(falls) or 'none'}); method mean "
                f"{np.mean(firsts):.1f} → {np.mean(lasts):.1f}",
            )
    gdr = [n for n in ("GA_GDR", "NPO_GDR") if not math.isnan(m(n, "privleak", end))]
    if gdr:
        vals = {n: m(n, "privleak", end) for n in gdr}
        add(
            "GDR variants over-unlearn when run long (PrivLeak > +10 at the budget end; MUSE News +106…+108)",
            all(v > 10 for v in vals.values()),
            ", ".join(f"{n} {v:+.1f}" for n, v in vals.items()),
        )
    klr = [n for n in ("GA_KLR", "NPO_KLR") if not math.isnan(m(n, "privleak"))]
    if klr:
        vals = {n: m(n, "privleak") for n in klr}
        add(
            "KLR variants stay under-unlearned at the stop point (PrivLeak < −10; MUSE News −96)",
            all(v < -10 for v in vals.values()),
            ", ".join(f"{n} {v:+.1f}" for n, v in vals.items()),
        )
    exact = [k for k in agg if k.startswith("S3T")]
    for name in exact:
        v = m(name, "privleak")
        claim = f"The exact row ({name}) matches Retrain's PrivLeak ≈ 0 (within ±10)"
        if math.isnan(v):
            add(
                claim,
                None,
                "no shard served after forget (every shard saw a forgotten person): S3T's exact answer "
                "is a retrain, i.e. the Retrain row (PrivLeak 0 by definition); not measurable as an S3T ensemble",
            )
        else:
            per = ", ".join(f"{x:+.1f}" for x in agg[name]["privleak"])
            add(claim, abs(v) <= 10, f"{name} PrivLeak {v:+.1f} (per seed {per})")
    return out


def _order(names: Sequence[str]) -> list[str]:
    first = ["Target", "Retrain"]
    exact = [n for n in names if n.startswith("S3T")]
    rest = [n for n in names if n not in first and n not in exact]
    return [n for n in first if n in names] + exact + rest


def render_markdown(results: dict[str, Any], dirs: list[dict[str, Any]], figures: list[str]) -> str:
    seeds = results["seeds"]
    agg, end = aggregate_rows(seeds), aggregate_rows(seeds, budget=True)
    n = len(seeds)
    env = results["environment"]
    rec = seeds[0]["record"] if seeds else {}
    lines = [
        "# LM unlearning on the generated world: MUSE six-way evaluation",
        "",
        *([f"> {results['provenance']}", ""] if results.get("provenance") else []),
        f"Seeds {', '.join(str(s['seed']) for s in seeds)} (mean ± std over {n}); torch {env['torch']}, transformers "
        f"{env['transformers']}, CPU, {env['threads']} thread; total {results['elapsed_seconds']:.0f} s.",
        f"World: {json.dumps(rec.get('world'))}; model: {json.dumps(rec.get('model'))}; target/retrain training: "
        f"{json.dumps(rec.get('train'))}. D_f = fold0 ({seeds[0]['forget_texts'] if seeds else '?'} sentences of 10 "
        "people); utility = KnowMem on retain2 people (never seen by any method); PrivLeak relative to the Retrain "
        "model's *measured* Min-40% AUC.",
        "",
        "## MUSE table at the stop point",
        "",
        "Each method's checkpoint is MUSE's stop rule: the first checkpoint (every "
        f"{results['config']['every']} steps) whose KnowMem on the *selection* questions (a second paraphrase "
        "template, never reported) is ≤ Retrain's; Task Vector and WHP sweep α ∈ {1, 2, 4, …}. `seconds` = the "
        "update's wall-clock time up to that checkpoint (evaluation excluded; Target/Retrain: training time). "
        "ROUGE values × 100; FQ = TOFU forget quality (KS p-value vs Retrain), MU = TOFU model utility (retain part).",
        "",
        "| method | " + " | ".join(c[1] for c in COLUMNS) + " | stop step | reached | seconds |",
        "|---" * (len(COLUMNS) + 4) + "|",
    ]
    for name in _order(list(agg)):
        a = agg[name]
        reached = a.get("reached_stop", [])
        steps = [s for s in a.get("stop_step", []) if s is not None]
        alphas = [x for x in a.get("alpha", []) if x is not None]
        stop = (_cell(steps, 0) if steps else "–") + (f" (α {_cell(alphas, 0)})" if alphas else "")
        cells = [_cell(a.get(k, []), 3 if k == "forget_quality" or k == "model_utility" else 1) for k, _ in COLUMNS]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {stop} | "
            + (f"{sum(bool(r) for r in reached)}/{len(reached)}" if reached else "–")
            + f" | {_cell([s for s in a.get('seconds', []) if s is not None], 2)} |"
        )
    notes = sorted({f"{r['method']}: {r['note']}" for sd in seeds for r in sd["rows"] if r.get("note")})
    lines += [f"\nNote — {n}" for n in notes]
    lines += [
        "",
        "## Fixed budget (end of each method's step budget, no stop rule)",
        "",
        "| method | steps | " + " | ".join(c[1] for c in COLUMNS[:5]) + " |",
        "|---" * 7 + "|",
    ]
    for name in _order(list(end)):
        a = end[name]
        lines.append(
            f"| {name} | {_cell(a.get('steps', []), 0)} | "
            + " | ".join(_cell(a.get(k, [])) for k, _ in COLUMNS[:5])
            + " |"
        )
    lines += [
        "",
        "## MUSE's own numbers (News, Llama-2-7B; authors' logs), for the directions",
        "",
        "| method | VerbMem | KnowMem_f | PrivLeak | KnowMem_r |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {k} | {v[0]} | {v[1]} | {v[2]:+.1f} | {v[3]} |" for k, v in MUSE_NEWS.items()]
    lines += [
        "",
        "## Directions MUSE reports",
        "",
        "Decided on each seed alone; reproduced = a strict majority of the seeds that could decide it agree. The "
        "evidence quotes the seed means.",
        "",
        "| direction | reproduced | seeds agreeing | evidence |",
        "|---|---|---|---|",
    ]
    for d in dirs:
        mark = "n/a" if d["reproduced"] is None else "yes" if d["reproduced"] else "**no**"
        count = f"{d['seeds_agree']}/{d['seeds_decided']}" if d.get("seeds_decided") else "–"
        lines.append(f"| {d['direction']} | {mark} | {count} | {d['evidence']} |")
    scal_names = sorted({k for s in seeds for k in s["scalability"]})
    if scal_names:
        lines += [
            "",
            "## Scalability and sustainability (KnowMem_r, seed mean)",
            "",
            "| method | scal 1 | scal 2 | scal 3 | scal 4 | sust 1 | sust 2 | sust 3 | sust 4 |",
            "|---" * 9 + "|",
        ]
        for name in scal_names:
            _, sc = mean_curve(seeds, name, "scalability", "knowmem_r")
            _, su = mean_curve(seeds, name, "sustainability", "knowmem_r")
            lines.append(
                f"| {name} | " + " | ".join(f"{v:.1f}" for v in sc) + " | " + " | ".join(f"{v:.1f}" for v in su) + " |"
            )
    fails = [f for s in seeds for f in s["failures"]]
    if fails:
        lines += ["", "## Failures", ""] + [f"- seed {f['seed']} {f['method']}: {f['error']}" for f in fails]
    if figures:
        lines += ["", "## Figures", ""] + [f"![{Path(f).stem}]({Path(f).name})" for f in figures if f.endswith(".png")]
    return "\n".join(lines) + "\n"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


MARKERS = "osD^vP*Xh<>p"


def _save(fig: Any, out: Path, stem: str) -> list[str]:
    paths = []
    for ext in ("png", "pdf"):
        p = out / f"{stem}.{ext}"
        fig.savefig(p, dpi=130, bbox_inches="tight")
        paths.append(str(p))
    _plt().close(fig)
    return paths


def figures(out: Path, results: dict[str, Any]) -> list[str]:
    plt = _plt()
    seeds = results["seeds"]
    with_curves = [s for s in seeds if s.get("curves")] or seeds
    seed_text = f"seeds {', '.join(str(s['seed']) for s in with_curves)} (mean)"
    cmap = plt.get_cmap("tab10")
    paths: list[str] = []
    names = sorted({k for s in seeds for k in s["curves"] if k not in ("TaskVector", "WHP")})
    if names:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
        for i, name in enumerate(names):
            style = {"color": cmap(i % 10), "marker": MARKERS[i % len(MARKERS)], "ms": 4, "label": name, "markevery": 3}
            for ax, metric in zip(axes, ("knowmem_r", "privleak", "knowmem_f"), strict=True):
                xs, ys = mean_curve(seeds, name, "curves", metric)
                ax.plot(xs, ys, **style)
        for ax, title in zip(axes, ("utility: KnowMem_r ↑", "PrivLeak (→ 0)", "KnowMem_f ↓"), strict=True):
            ax.set_xlabel("unlearning step")
            ax.set_title(f"{title} — {seed_text}")
            ax.grid(alpha=0.3)
        axes[1].axhline(0, color="k", lw=0.8)
        axes[1].set_yscale("symlog", linthresh=10)
        axes[0].legend(fontsize=7, ncol=2)
        paths += _save(fig, out, "curves")
    for key, xlabel, stem in (
        ("scalability", "forget-set size (folds of 10 people)", "scalability"),
        ("sustainability", "sequential requests", "sustainability"),
    ):
        names = sorted({k for s in seeds for k in s[key]})
        if not names:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for i, name in enumerate(names):
            style = {"color": cmap(i % 10), "marker": MARKERS[i % len(MARKERS)], "label": name}
            for ax, metric in zip(axes, ("knowmem_r", "knowmem_f"), strict=True):
                xs, ys = mean_curve(seeds, name, key, metric)
                ax.plot(xs, ys, **style)
        for ax, title in zip(axes, ("utility: KnowMem_r ↑", "KnowMem_f on the forgotten folds ↓"), strict=True):
            ax.set_xlabel(xlabel)
            ax.set_title(f"{key}: {title} — {seed_text}", fontsize=9)
            ax.set_xticks([1, 2, 3, 4])
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7, ncol=2)
        paths += _save(fig, out, stem)
    return paths


def write_report(out: Path, results: dict[str, Any]) -> dict[str, Any]:
    return save_report(out, results, directions(results["seeds"]), figures(out, results), render_markdown)


def save_report(
    out: Path, results: dict[str, Any], dirs: list[dict[str, Any]], figs: list[str], render: Callable[..., str]
) -> dict[str, Any]:
    """``results.json`` (with the metric directions) and ``results.md`` rendered by ``render(results, dirs, figs)``."""
    results = {**results, "directions": dirs}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    md = render(results, dirs, figs)
    (out / "results.md").write_text(md)
    return {"markdown": md, "directions": dirs, "figures": figs}


__all__ = ["MUSE_NEWS", "aggregate_rows", "directions", "figures", "mean_curve", "render_markdown", "write_report"]
