"""Tables, figures and PASER's direction for ``unlearnkit bench recovery`` (decided from this run's numbers)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ORDER = (
    "none",
    "random",
    "random+filter",
    "uniform",
    "uniform+filter",
    "paser",
    "paser+filter",
    "paser-rnd",
    "paser-rnd+filter",
    "paser-w+filter",
)


def _by(result: dict[str, Any]) -> dict[tuple[str, str, float], list[dict[str, Any]]]:
    out: dict[tuple[str, str, float], list[dict[str, Any]]] = defaultdict(list)
    for run in result["runs"]:
        base = run["forget_damaged"]["loss"]
        for row in run["rows"]:
            dloss = row.get("forget_loss", base) - base  # recovery lowers the forget loss: relearning shows here
            out[(run["task"], row["variant"], row["budget"])].append({**row, "seed": run["seed"], "dloss": dloss})
    return out


def _ms(values: list[float]) -> tuple[float, float]:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return (float(np.mean(v)), float(np.std(v))) if v else (math.nan, math.nan)


def claims(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per (task, budget, PASER variant): on how many seeds its utility beats random's at the same budget (the
    filtered variants against random from the same filtered pool), and the mean difference."""
    by = _by(result)
    out = []
    tasks = sorted({t for t, _, _ in by})
    for task in tasks:
        budgets = sorted({b for t, _, b in by if t == task})
        pairs = (("paser", "random"), ("paser-rnd", "random"), ("paser+filter", "random+filter"),
                 ("paser-rnd+filter", "random+filter"), ("paser-w+filter", "random+filter"),
                 ("uniform+filter", "random+filter"), ("paser-rnd+filter", "uniform+filter"))  # fmt: skip
        for variant, baseline in pairs:
            for b in budgets:
                mine = {r["seed"]: r["utility"] for r in by.get((task, variant, b), [])}
                rnd = {r["seed"]: r["utility"] for r in by.get((task, baseline, b), [])}
                seeds = sorted(set(mine) & set(rnd))
                if not seeds:
                    continue
                wins = sum(mine[s] > rnd[s] for s in seeds)
                diff = float(np.mean([mine[s] - rnd[s] for s in seeds]))
                majority = wins * 2 > len(seeds)
                out.append(
                    {
                        "task": task,
                        "variant": variant,
                        "baseline": baseline,
                        "budget": b,
                        "seeds": len(seeds),
                        "wins": wins,
                        # yes: most seeds win and the mean gain is positive; mixed: the two disagree
                        "reproduced": "yes"
                        if majority and diff > 0
                        else "no"
                        if not majority and diff <= 0
                        else "mixed",
                        "mean_diff": diff,
                    }
                )
    return out


def write_report(result: dict[str, Any], out_dir: Path) -> list[dict[str, Any]]:
    by = _by(result)
    cl = claims(result)
    seeds = sorted({r["seed"] for r in result["runs"]})
    tasks = sorted({t for t, _, _ in by})
    lines = [
        "# Recovery benchmark (PASER)",
        "",
        f"Seeds {seeds}; budgets are fractions of the candidate pool; mean ± std over seeds. Recovery ratio = "
        "(u − u_damaged)/(u_reference − u_damaged); leak = forget accuracy after recovery − before (no guard: "
        "the benchmark shows what the guard would stop); planted = selected copies/paraphrases of forget records.",
        "",
    ]
    for task in tasks:
        runs = [r for r in result["runs"] if r["task"] == task]
        ur, _ = _ms([r["utility_reference"] for r in runs])
        ud, _ = _ms([r["utility_damaged"] for r in runs])
        lines += [f"## {task}", "", f"utility: reference {ur:.3f}, damaged {ud:.3f} (means over seeds)", ""]
        budgets = sorted({b for t, _, b in by if t == task})
        lines += [
            "| variant | "
            + " | ".join(f"ratio @{b:.0%}" for b in budgets)
            + " | leak (max budget) | Δ forget loss (max budget) | planted |"
        ]
        lines += ["|---" * (len(budgets) + 4) + "|"]
        for v in ORDER:
            if not any((task, v, b) in by for b in budgets):
                continue
            cells = []
            for b in budgets:
                m, s = _ms([r["ratio"] for r in by.get((task, v, b), [])])
                cells.append(f"{m:.2f} ± {s:.2f}")
            last = by.get((task, v, budgets[-1]), [])
            lm, ls = _ms([r["leak"] for r in last])
            dm, ds = _ms([r["dloss"] for r in last])
            planted = sum(r["planted"] for b in budgets for r in by.get((task, v, b), []))
            lines.append(
                f"| {v} | " + " | ".join(cells) + f" | {lm:+.3f} ± {ls:.3f} | {dm:+.2f} ± {ds:.2f} | {planted} |"
            )
        mid = min(budgets, key=lambda b: abs(b - 0.05))
        lines += [
            "",
            f"At {mid:.0%}: share of the selection taken by its largest group (class / skill), clusters' ARI "
            "against those groups, and seeds on which the guard (ε 0.05 on forget accuracy) would accept:",
            "",
            "| variant | largest-group share | ARI | guard accepts |",
            "|---|---|---|---|",
        ]
        for v in ORDER[1:]:
            rows = by.get((task, v, mid), [])
            if not rows:
                continue
            sm, ss = _ms([r.get("top_share", math.nan) for r in rows])
            am, _ = _ms([r["ari"] if r.get("ari") is not None else math.nan for r in rows])
            acc = sum(bool(r.get("guard_accepts")) for r in rows)
            ari = "–" if math.isnan(am) else f"{am:.2f}"
            lines.append(f"| {v} | {sm:.2f} ± {ss:.2f} | {ari} | {acc}/{len(rows)} |")
        g = [r["gradient_filter"] for r in runs]
        lines += [
            "",
            "Gradient-alignment filter alone (τ_g 0.6, the default; diagnostic): planted caught "
            + ", ".join(f"{d['planted_caught']}/{d['planted']}" for d in g)
            + "; other candidates rejected "
            + ", ".join(f"{d['others_rejected']}/{d['pool']}" for d in g)
            + " (per seed).",
            "",
        ]
    lines += [
        "## PASER's direction: beats random at equal budget",
        "",
        "Filtered variants are compared with random selection from the same filtered pool; uniform+filter is the "
        "ablation without CDS weighting (its last rows: CDS weighting against it). reproduced: yes = most seeds "
        "win and the mean gain is positive, mixed = the two disagree.",
        "",
        "| task | variant | vs | budget | seeds won | mean utility diff | reproduced |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cl:
        lines.append(
            f"| {c['task']} | {c['variant']} | {c['baseline']} | {c['budget']:.0%} | {c['wins']}/{c['seeds']} | "
            f"{c['mean_diff']:+.4f} | {c['reproduced']} |"
        )
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    _figures(by, tasks, seeds, out_dir)
    return cl


def _figures(by: dict, tasks: list[str], seeds: list[int], out_dir: Path) -> None:
    from unlearnkit.eval.plots import _plt, _save, style

    plt = _plt()
    panels = (
        ("ratio", "recovery ratio", "ratio"),
        ("leak", "forget leak (accuracy after − before)", "leak"),
        ("dloss", "forget loss after − before", "forget_loss"),
    )
    for metric, label, fname in panels:
        fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 4), squeeze=False)
        for ax, task in zip(axes[0], tasks, strict=True):
            budgets = sorted({b for t, _, b in by if t == task})
            for k, v in enumerate(ORDER):
                pts = [(b, *_ms([r[metric] for r in by.get((task, v, b), [])])) for b in budgets]
                pts = [p for p in pts if not math.isnan(p[1])]
                if not pts:
                    continue
                xs, ms, ss = zip(*pts, strict=True)
                st = style(k)
                ax.errorbar([100 * x for x in xs], ms, yerr=ss, label=v, capsize=3, color=st["color"],
                            marker=st["marker"], linestyle="-" if v != "none" else ":")  # fmt: skip
            ax.set_title(task)
            ax.set_xlabel("budget (% of pool)")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        _save(fig, out_dir / f"recovery_{fname}.png", f"mean ± std over seeds {seeds}")


__all__ = ["claims", "write_report"]
