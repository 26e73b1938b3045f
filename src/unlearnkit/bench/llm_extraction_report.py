"""Tables, figures and the paper's directions for ``unlearnkit llm bench extraction``.

Each direction of Patil et al. (arXiv 2309.17410, §6) is decided per seed from the numbers and reported with
its majority-of-seeds count, per editor: a direction is *reproduced* when it holds on more than half the seeds.
Whitebox success = the mean of Head Projection's and Probability Delta's Attack-Success@B.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.bench.llm_extraction import ATTACK_ORDER, OBJECTIVE_ORDER

DEFENSES = ("head_projection_defense", "max_entropy_defense", "input_rephrasing_defense")
SHORT = {"head_projection": "HP", "probability_delta": "PD", "input_rephrasing": "IR", "union": "Union"}
NAMES = {
    "error_injection": "Error Injection",
    "empty_response": "Empty Response",
    "fact_erasure": "Fact Erasure",
    "head_projection_defense": "HP defense",
    "max_entropy_defense": "Max-Entropy defense",
    "input_rephrasing_defense": "IR defense",
}
MARKERS = "osD^vP*Xh<>p"


def _mean(values: Sequence[float]) -> float:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else float("nan")


def floor(seed: dict[str, Any], attack: str) -> float:
    return _mean([float(h) for h in seed["floor"][attack]])


def cell(seed: dict[str, Any], editor: str, objective: str) -> dict[str, float] | None:
    """Per-seed means of one editor × objective cell (None when it was not run)."""
    c = seed["cells"].get(f"{editor}/{objective}")
    if c is None or not c["rows"]:
        return None
    rows = c["rows"]
    out = {a: _mean([float(r["attacks"][a]["hit"]) for r in rows]) for a in rows[0]["attacks"]}
    out |= {f"{a}_leak": out[a] - floor(seed, a) for a in rows[0]["attacks"]}
    out["whitebox"] = (out["head_projection"] + out["probability_delta"]) / 2
    for key in ("rewrite_score", "recall_post", "delta_acc_neighbourhood", "delta_acc_random"):
        out[key] = _mean([r.get(key) for r in rows])
    out["seconds_per_fact"] = c["seconds"] / len(rows)
    return out


def _cell_text(values: Sequence[float], digits: int = 2, signed: bool = False) -> str:
    v = [x for x in values if x is not None and not math.isnan(x)]
    if not v:
        return "–"
    fmt = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
    m = fmt.format(float(np.mean(v)))
    return f"{m} ± {float(np.std(v)):.{digits}f}" if len(v) > 1 else m


def directions(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The paper's directions, decided per seed and editor, with majority counts."""
    seeds = results["seeds"]
    editors = results["config"]["editors"]
    checks = [
        (
            "After Fact Erasure the answer is gone from the output (answer recall ≤ 0.1)",
            lambda c: c["fact_erasure"]["recall_post"] <= 0.1,
        ),
        (
            "After Fact Erasure a whitebox attack (HP or PD) recovers the answer above the retrained floor",
            lambda c: max(c["fact_erasure"]["head_projection_leak"], c["fact_erasure"]["probability_delta_leak"]) > 0,
        ),
        (
            "The Head-Projection defense lowers whitebox success (vs Fact Erasure)",
            lambda c: c["head_projection_defense"]["whitebox"] < c["fact_erasure"]["whitebox"],
        ),
        (
            "The Max-Entropy defense lowers whitebox success (vs Fact Erasure)",
            lambda c: c["max_entropy_defense"]["whitebox"] < c["fact_erasure"]["whitebox"],
        ),
        (
            "The Head-Projection defense does not lower Input-Rephrasing success",
            lambda c: c["head_projection_defense"]["input_rephrasing"] >= c["fact_erasure"]["input_rephrasing"],
        ),
        (
            "The Max-Entropy defense does not lower Input-Rephrasing success",
            lambda c: c["max_entropy_defense"]["input_rephrasing"] >= c["fact_erasure"]["input_rephrasing"],
        ),
        (
            "The Input-Rephrasing defense lowers Input-Rephrasing success",
            lambda c: c["input_rephrasing_defense"]["input_rephrasing"] < c["fact_erasure"]["input_rephrasing"],
        ),
        (
            "No single defense has the lowest success on every attack (HP, PD, IR)",
            lambda c: (
                not any(
                    all(
                        c[d][a] <= min(c[o][a] for o in DEFENSES)
                        for a in ("head_projection", "probability_delta", "input_rephrasing")
                    )
                    for d in DEFENSES
                )
            ),
        ),
    ]
    out = []
    for editor in editors:
        for text, check in checks:
            per_seed = []
            for s in seeds:
                cells = {o: cell(s, editor, o) for o in OBJECTIVE_ORDER}
                try:
                    per_seed.append(bool(check(cells)))
                except (KeyError, TypeError):  # an objective was not run
                    per_seed = []
                    break
            if not per_seed:
                continue
            count = sum(per_seed)
            out.append(
                {
                    "editor": editor,
                    "direction": text,
                    "per_seed": per_seed,
                    "count": count,
                    "seeds": len(per_seed),
                    "reproduced": count * 2 > len(per_seed),
                }
            )
    return out


def render_markdown(results: dict[str, Any], dirs: list[dict[str, Any]], figures: list[str]) -> str:
    seeds = results["seeds"]
    cfg = results["config"]
    first = seeds[0]
    budgets = ", ".join(f"{SHORT[a]} B = {b}" for a, b in first["budgets"].items())
    n_facts = [len(s["facts"]) for s in seeds]
    paras = sorted({len(f["paraphrases"]) for s in seeds for f in s["facts"]})
    lines = [
        "# Extraction attacks on edited facts (Patil et al. at toy scale)",
        "",
        f"Generated world, 6-layer tiny GPT-2 (n_embd {cfg['model']['n_embd']}), seeds "
        f"{', '.join(str(s['seed']) for s in seeds)}; {n_facts} facts deleted per seed (fold0's birthplaces and jobs "
        "the target knows), each on its own from the clean target. Edited block "
        f"{first['edit_layer']} (first changed lens layer {first['edit_layer'] + 1}); attacked lens layers "
        f"{first['attack_layers']}; k = {cfg['k']}; {budgets}. The floor is each attack on the model retrained "
        "without fold0's people. Input Rephrasing samples on the world's question templates: "
        f"{paras} paraphrase(s) per fact, so at most {max(paras or [0])} × samples candidates. Accuracy = the answer "
        "in a 3-token greedy continuation. Mean ± std over seeds.",
        "",
        f"Editor settings (toy): {results['config']['editor_toy']}. An editor with a window (MEMIT) edits the "
        "blocks around the edited block and writes its target after the last of them.",
        "",
    ]
    for editor in cfg["editors"]:
        lines += [
            f"## {editor}: Attack-Success@B minus the floor",
            "",
            "| objective | HP − floor | PD − floor | IR − floor | Union − floor | Rewrite ↑ | answer recall ↓ "
            "| Neighbourhood ΔAcc ↓ | Random ΔAcc ↓ | s / fact |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        floors = " | ".join(_cell_text([floor(s, a) for s in seeds]) for a in ATTACK_ORDER)
        target = " | ".join(
            _cell_text([_mean([float(h) for h in s["target"][a]]) for s in seeds]) for a in ATTACK_ORDER
        )
        lines.append(f"| retrain (floor: raw success) | {floors} | – | – | – | – | – |")
        lines.append(f"| unedited target (raw success) | {target} | – | 1.00 | – | – | – |")
        for o in cfg["objectives"]:
            cs = [c for c in (cell(s, editor, o) for s in seeds) if c is not None]
            if not cs:
                continue
            leaks = " | ".join(_cell_text([c[f"{a}_leak"] for c in cs], signed=True) for a in ATTACK_ORDER)
            rest = " | ".join(
                _cell_text([c[k] for c in cs])
                for k in ("rewrite_score", "recall_post", "delta_acc_neighbourhood", "delta_acc_random")
            )
            lines.append(f"| {NAMES[o]} | {leaks} | {rest} | {_cell_text([c['seconds_per_fact'] for c in cs], 1)} |")
        lines.append("")
    lines += [
        "## Directions the paper reports",
        "",
        "Decided per seed from the numbers above; reproduced = holds on a majority of seeds.",
        "",
        "| editor | direction | seeds holding | reproduced |",
        "|---|---|---|---|",
    ]
    for d in dirs:
        verdict = "yes" if d["reproduced"] else "**no**"
        lines.append(f"| {d['editor']} | {d['direction']} | {d['count']}/{d['seeds']} | {verdict} |")
    lines += ["", "## Figures", ""]
    seeds_text = ", ".join(str(s["seed"]) for s in seeds)
    for f in figures:
        if f.endswith(".png"):
            lines.append(
                f"![{Path(f).stem}]({Path(f).name}) — per-layer answer rank (median over every fact of seeds "
                f"{seeds_text}) and the share of facts whose answer is in the top-{cfg['k']} of each lens layer; "
                "attacked layers shaded."
            )
    env = results["environment"]
    lines += [
        "",
        f"torch {env['torch']}, transformers {env['transformers']}, Python {env['python']}, "
        f"{env['threads']} thread(s), {env['device']}; {results['elapsed_seconds']:.0f} s for this run "
        "(cached seeds excluded).",
    ]
    return "\n".join(lines) + "\n"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figures(out: Path, results: dict[str, Any]) -> list[str]:
    plt = _plt()
    seeds = results["seeds"]
    cfg = results["config"]
    editors = cfg["editors"]
    k = cfg["k"]
    fig, axes = plt.subplots(2, len(editors), figsize=(5.5 * len(editors), 7), squeeze=False)
    cmap = plt.get_cmap("tab10")
    attacked = seeds[0]["attack_layers"]
    for j, editor in enumerate(editors):
        series: dict[str, list[list[int]]] = {
            "target (unedited)": [r for s in seeds for r in s["ranks"]["target"]],
            "retrain (floor)": [r for s in seeds for r in s["ranks"]["retrain"]],
        }
        for o in cfg["objectives"]:
            rows = [r for s in seeds for r in (s["cells"].get(f"{editor}/{o}") or {"rows": []})["rows"]]
            if rows:
                series[NAMES[o]] = [r["ranks_post"] for r in rows]
        for i, (name, ranks) in enumerate(series.items()):
            arr = np.array(ranks)
            x = np.arange(arr.shape[1])
            style = {"color": cmap(i % 10), "marker": MARKERS[i % len(MARKERS)], "label": name, "ms": 5}
            axes[0][j].plot(x, np.median(arr, 0) + 1, **style)
            axes[1][j].plot(x, (arr < k).mean(0), **style)
        for row in (0, 1):
            ax = axes[row][j]
            ax.axvspan(min(attacked) - 0.4, max(attacked) + 0.4, color="0.9", zorder=0)
            ax.set_xlabel("lens layer (0 = embeddings, last = output)")
        axes[0][j].set_yscale("log")
        axes[0][j].set_ylabel("median answer rank + 1")
        axes[1][j].set_ylabel(f"share with the answer in the top-{k}")
        ecfg = cfg.get("editor_toy", {}).get(editor, {})
        layer = seeds[0]["edit_layer"]
        if ecfg.get("window", 1) > 1:
            lo = layer - (ecfg["window"] - 1) // 2
            where = f"edited blocks {lo}–{lo + ecfg['window'] - 1}"
        else:
            where = f"edited block {layer}"
        axes[0][j].set_title(f"{editor} ({where})")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(f"Answer rank per logit-lens layer, seeds {', '.join(str(s['seed']) for s in seeds)}")
    paths = []
    for ext in ("png", "pdf"):
        p = out / f"answer_rank.{ext}"
        fig.savefig(p, dpi=130, bbox_inches="tight")
        paths.append(str(p))
    plt.close(fig)
    return paths


def write_report(out: Path, results: dict[str, Any]) -> dict[str, Any]:
    from unlearnkit.bench.llm_report import save_report

    return save_report(out, results, directions(results), figures(out, results), render_markdown)


__all__ = ["cell", "directions", "figures", "floor", "render_markdown", "write_report"]
