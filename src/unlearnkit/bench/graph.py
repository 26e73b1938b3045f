"""The graph-unlearning benchmark (``unlearnkit graph bench``): GNNDelete's table on two generated graphs.

For every graph (SBM, planted partition), seed and setting — edge deletion of 2.5% and 5% of the training
edges at random, node deletion (2.5% of the nodes with their edges) for link prediction, and node deletion
for node classification — it trains the original GNN once per (graph, task, seed), fits GNNDelete's
membership attack, and runs Retrain, GA, GNNDelete (identity and official init) and D2DGN (student from
the original and from scratch) with the CPU recipe below. Every cell is mean ± std over the seeds; the
report checks D2DGN's claims against GNNDelete (E_d AUROC, E_t AUROC, time, FLOPs) and says where they hold.

Outputs: ``results.json`` (every run, the aggregates, the checks, the recipe), ``results.md`` and figures
(PNG and PDF) with a distinct colour *and* marker per method.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unlearnkit.approx._common import config_from_dict
from unlearnkit.context import RunContext
from unlearnkit.graph.datasets import load_graph
from unlearnkit.graph.metrics import evaluate_graph
from unlearnkit.graph.mia import LinkMembershipAttack
from unlearnkit.graph.tasks import link_split, make_deletion, node_split
from unlearnkit.graph.train import GraphTrainConfig, train_original
from unlearnkit.registry import get_method

# (row label, registered method, config overrides): the CPU recipe (graph notes E.2), stated in the report
METHODS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("Retrain", "graph_retrain", {"epochs": 200, "lr": 1e-2}),
    ("GA", "graph_ga", {"epochs": 30, "lr": 1e-3}),
    ("GNNDelete", "gnndelete", {"epochs": 200, "lr": 1e-2}),
    ("GNNDelete (code init)", "gnndelete", {"epochs": 200, "lr": 1e-2, "init": "paper_code"}),
    ("D2DGN", "d2dgn", {"epochs": 150, "lr": 1e-3}),
    ("D2DGN (random student)", "d2dgn", {"epochs": 150, "lr": 1e-3, "student_init": "random"}),
)
LINK_COLUMNS = ("dt_auroc", "dt_auprc", "df_auroc", "df_auprc", "df_auroc_gap", "mi_ratio")
NODE_COLUMNS = ("node_acc", "node_forget_acc")
COST_COLUMNS = ("unlearn_seconds", "flops_forward", "added_params")
STYLE = {
    "Original": ("#444444", "o"),
    "Retrain": ("#1f77b4", "s"),
    "GA": ("#d62728", "v"),
    "GNNDelete": ("#ff7f0e", "^"),
    "GNNDelete (code init)": ("#8c564b", "<"),
    "D2DGN": ("#2ca02c", "D"),
    "D2DGN (random student)": ("#9467bd", "P"),
}


@dataclass
class GraphBenchConfig:
    seeds: tuple[int, ...] = (42, 21, 13)
    graphs: dict[str, dict[str, Any]] = field(default_factory=lambda: {"sbm": {}, "planted_partition": {}})
    # (task, deletion kind, amount, edge mode)
    settings: tuple[tuple[str, str, float, str], ...] = (
        ("link", "edge", 0.025, "random"),
        ("link", "edge", 0.05, "random"),
        ("link", "node", 0.025, "random"),
        ("node", "node", 0.025, "random"),
    )
    archs: tuple[str, ...] = ("gcn",)
    train: GraphTrainConfig = field(default_factory=GraphTrainConfig.cpu)
    methods: tuple[tuple[str, str, dict[str, Any]], ...] = METHODS
    draws: int = 500

    @classmethod
    def quick(cls) -> GraphBenchConfig:
        fast = tuple((label, name, {**kw, "epochs": min(kw["epochs"], 20)}) for label, name, kw in METHODS)
        return cls(
            seeds=(0,),
            graphs={"sbm": {"blocks": 4, "block_size": 30}},
            settings=(("link", "edge", 0.05, "random"),),
            train=GraphTrainConfig.cpu(epochs=50),
            methods=fast,
            draws=20,
        )


def setting_name(task: str, kind: str, amount: float, mode: str) -> str:
    what = f"{kind} {amount * 100:g}%" + (f" ({mode})" if kind == "edge" else "")
    return f"{'link prediction' if task == 'link' else 'node classification'}: {what} deletion"


def _run_cell(graph: str, graph_args: dict, arch: str, task: str, seed: int, settings, cfg, echo) -> list[dict]:
    ctx = RunContext(seed=seed)
    data = load_graph(graph, seed=seed, **graph_args)
    split = link_split(data, seed=seed) if task == "link" else node_split(data, seed=seed)
    train_cfg = dataclasses.replace(cfg.train, arch=arch)
    t0 = time.perf_counter()
    original = train_original(data, split, train_cfg, ctx)
    train_seconds = time.perf_counter() - t0
    rows = []
    for _, kind, amount, mode in settings:
        # GNNDelete's node deletion removes the edges and keeps the features (see graph.tasks)
        deletion = make_deletion(data, split, kind, amount, mode=mode, seed=seed, mask_features=False)
        attack = LinkMembershipAttack.fit(deletion, original.spec, train_cfg, ctx) if task == "link" else None
        results = {"Original": (original, None, 0)}
        for label, name, overrides in cfg.methods:
            info = get_method(name)
            res = info.cls(config_from_dict(info.cls.config_cls, overrides)).unlearn(original, deletion, ctx=ctx)
            results[label] = (res.model, res.seconds, res.steps)
        reference = results["Retrain"][0]
        for label, (model, seconds, steps) in results.items():
            metrics = evaluate_graph(
                model,
                deletion,
                original=original,
                reference=reference,
                seconds=seconds,
                attack=attack,
                draws=cfg.draws,
                seed=seed,
            )
            rows.append(
                {
                    "graph": graph,
                    "arch": arch,
                    "task": task,
                    "setting": setting_name(task, kind, amount, mode),
                    "seed": seed,
                    "method": label,
                    "steps": steps,
                    "train_seconds": train_seconds,
                    "deleted": {k: deletion.meta[k] for k in ("removed_edges", "forget_edges", "masked_nodes")},
                    **metrics,
                }
            )
        echo(f"{graph}/{arch}/seed {seed}: {setting_name(task, kind, amount, mode)} done")
    return rows


def aggregate(rows: list[dict]) -> dict[tuple[str, str, str, str], dict[str, tuple[float, float]]]:
    """(graph, arch, setting, method) → metric → (mean, std over seeds)."""
    groups: dict[tuple[str, str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["graph"], r["arch"], r["setting"], r["method"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        names = {k for r in rs for k, v in r.items() if isinstance(v, int | float) and k not in ("seed",)}
        out[key] = {
            k: (float(np.mean([r[k] for r in rs if k in r])), float(np.std([r[k] for r in rs if k in r])))
            for k in names
        }
    return out


def direction_checks(agg: dict) -> list[dict[str, Any]]:
    """D2DGN against GNNDelete (and Retrain against the original) on the seed means, per table."""
    checks = []
    tables = sorted({k[:3] for k in agg})
    for g, a, s in tables:
        m = {k[3]: v for k, v in agg.items() if k[:3] == (g, a, s)}
        d, gd, rt, og = m.get("D2DGN"), m.get("GNNDelete"), m.get("Retrain"), m.get("Original")
        if d is None or gd is None:
            continue
        claims = []
        if "df_auroc" in d:
            claims += [
                ("D2DGN E_d AUROC ≥ GNNDelete's", d["df_auroc"][0], gd["df_auroc"][0], ">="),
                ("D2DGN E_t AUROC ≥ GNNDelete's", d["dt_auroc"][0], gd["dt_auroc"][0], ">="),
                ("Retrain E_d AUROC > Original's", rt["df_auroc"][0], og["df_auroc"][0], ">"),
            ]
        if "node_acc" in d:
            claims.append(("D2DGN test accuracy ≥ GNNDelete's", d["node_acc"][0], gd["node_acc"][0], ">="))
        claims += [
            ("D2DGN faster than GNNDelete", d["unlearn_seconds"][0], gd["unlearn_seconds"][0], "<"),
            ("D2DGN fewer FLOPs per forward than GNNDelete", d["flops_forward"][0], gd["flops_forward"][0], "<"),
            ("D2DGN faster than Retrain", d["unlearn_seconds"][0], rt["unlearn_seconds"][0], "<"),
        ]
        for text, lhs, rhs, op in claims:
            holds = {">=": lhs >= rhs, ">": lhs > rhs, "<": lhs < rhs}[op]
            checks.append({"graph": g, "arch": a, "setting": s, "claim": text, "lhs": lhs, "rhs": rhs, "holds": holds})
    return checks


def _fmt(v: tuple[float, float] | None, digits: int = 3) -> str:
    if v is None:
        return "–"
    mean, std = v
    if abs(mean) >= 1e4:
        return f"{mean:.3g}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown(agg: dict, checks: list[dict], cfg: GraphBenchConfig, elapsed: float) -> str:
    lines = [
        "# Graph unlearning benchmark (GNNDelete protocol)",
        "",
        f"Seeds {', '.join(map(str, cfg.seeds))}; one thread (`torch.set_num_threads(1)`); mean ± std over seeds; "
        f"E_d AUROC averaged over {cfg.draws} draws of E_r. Wall time {elapsed:.0f} s on {platform.machine()}.",
        f"Original/Retrain recipe: {cfg.train.arch} {cfg.train.hidden}→{cfg.train.out}, {cfg.train.epochs} epochs, "
        f"Adam lr {cfg.train.lr}. Methods: "
        + "; ".join(f"{label} = `{name}` {kw}" for label, name, kw in cfg.methods)
        + ".",
        "",
    ]
    tables = sorted({k[:3] for k in agg})
    for g, a, s in tables:
        m = {k[3]: v for k, v in agg.items() if k[:3] == (g, a, s)}
        link = "dt_auroc" in next(iter(m.values()))
        cols = (LINK_COLUMNS if link else NODE_COLUMNS) + COST_COLUMNS
        rt = m.get("Retrain", {}).get("unlearn_seconds", (float("nan"), 0))[0]
        lines += [f"## {g} · {a} · {s}", "", "| method | " + " | ".join(cols) + " | speed-up vs Retrain |"]
        lines.append("|---" * (len(cols) + 2) + "|")
        for method in ["Original"] + [label for label, _, _ in cfg.methods]:
            if method not in m:
                continue
            v = m[method]
            sec = v.get("unlearn_seconds", (0.0, 0.0))[0]
            speed = f"{rt / sec:.1f}×" if method != "Original" and sec > 0 else "–"
            lines.append(f"| {method} | " + " | ".join(_fmt(v.get(c)) for c in cols) + f" | {speed} |")
        lines.append("")
    lines += ["## Paper directions (seed means)", "", "| graph | setting | claim | D2DGN / lhs | other / rhs | holds |"]
    lines.append("|---|---|---|---|---|---|")
    for c in checks:
        lines.append(
            f"| {c['graph']} | {c['setting']} | {c['claim']} | {c['lhs']:.4g} | {c['rhs']:.4g} | "
            f"{'yes' if c['holds'] else '**no**'} |"
        )
    held = sum(c["holds"] for c in checks)
    lines += ["", f"{held} of {len(checks)} direction checks hold.", ""]
    return "\n".join(lines)


def _short(setting: str) -> str:
    return (
        setting.replace("link prediction: ", "link: ")
        .replace("node classification: ", "node cls: ")
        .replace(" (random)", "")
        .replace(" deletion", "")
    )


def figures(agg: dict, out: Path, cfg: GraphBenchConfig) -> list[str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    written = []
    tables = sorted({k[:3] for k in agg if "dt_auroc" in agg[k]})
    if tables:
        ncols = min(3, len(tables))
        nrows = -(-len(tables) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.9 * nrows), squeeze=False)
        for ax in axes.flat[len(tables) :]:
            ax.set_visible(False)
        for ax, (g, a, s) in zip(axes.flat, tables, strict=False):
            for method, (color, marker) in STYLE.items():
                v = agg.get((g, a, s, method))
                if v is None:
                    continue
                ax.errorbar(
                    v["df_auroc"][0],
                    v["dt_auroc"][0],
                    xerr=v["df_auroc"][1],
                    yerr=v["dt_auroc"][1],
                    fmt=marker,
                    color=color,
                    ms=7,
                    capsize=2,
                    label=method,
                )
            ax.set_title(f"{g} · {s.split(': ')[1]}", fontsize=9)
            ax.set_xlabel("AUROC E_d vs E_r (forgetting)")
            ax.set_ylabel("AUROC on E_t (utility)")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7, loc="lower left")
        fig.suptitle(f"Utility vs forgetting, seeds {', '.join(map(str, cfg.seeds))}", fontsize=10)
        fig.tight_layout()
        for ext in ("png", "pdf"):
            fig.savefig(out / f"utility_vs_forgetting.{ext}", dpi=130)
            written.append(f"utility_vs_forgetting.{ext}")
        plt.close(fig)
    # cost: time and FLOPs relative to Retrain / Original, per table
    all_tables = sorted({k[:3] for k in agg})
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8))
    methods = [label for label, _, _ in cfg.methods]
    for k, (g, a, s) in enumerate(all_tables):
        for j, method in enumerate(methods):
            v, r, o = agg.get((g, a, s, method)), agg.get((g, a, s, "Retrain")), agg.get((g, a, s, "Original"))
            if v is None or r is None or o is None:
                continue
            color, marker = STYLE[method]
            x = k + (j - len(methods) / 2) * 0.1
            label = method if k == 0 else None
            axes[0].plot(x, v["unlearn_seconds"][0] / r["unlearn_seconds"][0], marker, color=color, label=label)
            axes[1].plot(x, v["flops_forward"][0] / o["flops_forward"][0], marker, color=color, label=label)
    for ax, title in zip(axes, ("unlearning time / Retrain's", "FLOPs per forward / Original's"), strict=True):
        ax.set_xticks(range(len(all_tables)))
        ax.set_xticklabels([f"{g}\n{_short(s)}" for g, _, s in all_tables], fontsize=7, rotation=45, ha="right")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(f"Cost, seeds {', '.join(map(str, cfg.seeds))}", fontsize=10)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(out / f"cost.{ext}", dpi=130)
        written.append(f"cost.{ext}")
    plt.close(fig)
    return written


def run_graph_benchmark(
    out: Path, cfg: GraphBenchConfig | None = None, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    cfg = cfg or GraphBenchConfig()
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows: list[dict] = []
    for graph, graph_args in cfg.graphs.items():
        for arch in cfg.archs:
            for task in sorted({s[0] for s in cfg.settings}):
                settings = [s for s in cfg.settings if s[0] == task]
                for seed in cfg.seeds:
                    rows += _run_cell(graph, graph_args, arch, task, seed, settings, cfg, echo)
    return write_report(out, rows, cfg, time.perf_counter() - start)


def write_report(out: Path, rows: list[dict], cfg: GraphBenchConfig, elapsed: float) -> dict[str, Any]:
    """Aggregate ``rows`` and write ``results.json``, ``results.md`` and the figures to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    agg = aggregate(rows)
    checks = direction_checks(agg)
    md = markdown(agg, checks, cfg, elapsed)
    written = figures(agg, out, cfg)
    recipe = {
        "seeds": list(cfg.seeds),
        "graphs": cfg.graphs,
        "settings": [list(s) for s in cfg.settings],
        "archs": list(cfg.archs),
        "train": dataclasses.asdict(cfg.train),
        "methods": [[label, name, kw] for label, name, kw in cfg.methods],
        "draws": cfg.draws,
        "threads": torch.get_num_threads(),
    }
    payload = {
        "recipe": recipe,
        "runs": rows,
        "aggregate": [
            {"graph": k[0], "arch": k[1], "setting": k[2], "method": k[3], **{m: list(v) for m, v in vals.items()}}
            for k, vals in sorted(agg.items())
        ],
        "checks": checks,
        "elapsed_seconds": elapsed,
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2))
    (out / "results.md").write_text(md)
    return {"markdown": md, "elapsed_seconds": elapsed, "files": ["results.json", "results.md", *written]}


def merge_reports(parts: list[Path], out: Path) -> dict[str, Any]:
    """One report from several ``results.json`` of runs with the same recipe (e.g. one process per graph)."""
    payloads = [json.loads((p / "results.json").read_text()) for p in parts]
    recipe = payloads[0]["recipe"]
    graphs = {g: a for p in payloads for g, a in p["recipe"]["graphs"].items()}
    cfg = GraphBenchConfig(
        seeds=tuple(recipe["seeds"]),
        graphs=graphs,
        settings=tuple(tuple(s) for s in recipe["settings"]),  # type: ignore[misc]
        archs=tuple(recipe["archs"]),
        train=GraphTrainConfig(**recipe["train"]),
        methods=tuple((label, name, kw) for label, name, kw in recipe["methods"]),
        draws=recipe["draws"],
    )
    rows = [r for p in payloads for r in p["runs"]]
    return write_report(out, rows, cfg, sum(p["elapsed_seconds"] for p in payloads))
