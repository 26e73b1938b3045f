"""The placement benchmark: FreeEdit's location finder (v = 4 as in the paper, a finer v = 8, and the
max-clearance cell choice) against the naive baseline (the footprint at the centre of the support's bounding
box, the base on its top) over generated scenes.

Per edit: success (on the requested support within its bounds, base on the surface within 2 mm, no
interpenetration), penetration percentage, clearance and wall time. Not a test: run it with
``unlearnkit scene bench``; the report lands in ``docs/benchmarks/scene/``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.scene.demo import SMALL, random_scene
from unlearnkit.scene.edit import EditorConfig, SceneEditor
from unlearnkit.scene.metrics import assess
from unlearnkit.scene.model import SceneError
from unlearnkit.scene.placement import PlacementConfig, naive_place, place

METHODS = ("freeedit", "freeedit_v8", "max_clearance", "naive_centre")
STYLE = {
    "freeedit": ("#1f77b4", "o"),
    "freeedit_v8": ("#9467bd", "D"),
    "max_clearance": ("#2ca02c", "s"),
    "naive_centre": ("#d62728", "^"),
}


def _naive(editor: SceneEditor, scene: Any, primary: str, support_phrase: str) -> tuple[str, Any, float]:
    t0 = time.perf_counter()
    cmd = editor.parser.parse(f"put a {primary} on the {support_phrase}")
    support = editor.grounder.ground(cmd.grounding, scene, "support")
    label, mesh = editor.source.make(str(cmd.primary))
    mesh.apply_scale(editor.scaler.scale(label, mesh, scene[support]))
    placed = naive_place(scene, support, mesh)
    return support, placed, time.perf_counter() - t0


def _feasible(editor: SceneEditor, scene: Any, primary: str, support_label: str, cell: float = 0.01) -> bool:
    """Whether any spot fits the object at all: the max-clearance search on a ~1 cm grid (the oracle)."""
    support = editor.grounder.ground(support_label, scene, "support")
    label, mesh = editor.source.make(primary)
    mesh.apply_scale(editor.scaler.scale(label, mesh, scene[support]))
    voxels = max(4, min(48, int(np.ceil(max(mesh.extents[:2]) / cell))))
    try:
        place(scene, support, mesh, PlacementConfig(voxels=voxels, strategy="max_clearance", yaws_deg=(0.0,)))
    except SceneError:
        return False
    return True


def run_benchmark(n_scenes: int = 40, prompts_per_scene: int = 3, seed: int = 0) -> dict[str, Any]:
    """Scenes ``random_scene(seed + i)``; prompts drawn with ``numpy.random.default_rng(seed + i)``."""
    editors = {
        "freeedit": SceneEditor(config=EditorConfig(PlacementConfig(strategy="hierarchical"))),
        "freeedit_v8": SceneEditor(config=EditorConfig(PlacementConfig(strategy="hierarchical", voxels=8))),
        "max_clearance": SceneEditor(config=EditorConfig(PlacementConfig(strategy="max_clearance"))),
    }
    editors["freeedit"].edit(random_scene(seed), "put a mug on the table")  # warm imports and caches
    rows: list[dict[str, Any]] = []
    for i in range(n_scenes):
        scene = random_scene(seed + i)
        rng = np.random.default_rng(seed + i)
        support_label = next(o.label for o in scene if o.label != "floor")
        for _ in range(prompts_per_scene):
            primary = SMALL[rng.integers(len(SMALL))]
            prompt = f"put a {primary} on the {support_label}"
            base = {
                "scene_seed": seed + i,
                "prompt": prompt,
                "clutter": len(scene) - 2,
                "feasible": _feasible(editors["freeedit"], scene, primary, support_label),
            }
            for method, editor in editors.items():
                t0 = time.perf_counter()
                try:
                    res = editor.edit(scene, prompt)
                except SceneError as exc:
                    rows.append(
                        base
                        | {
                            "method": method,
                            "placed": False,
                            "success": False,
                            "reason": str(exc),
                            "seconds": time.perf_counter() - t0,
                        }
                    )
                    continue
                secs = time.perf_counter() - t0
                name = res.added[0]
                q = assess(scene, res.placement.support if res.placement else "", res.after[name].mesh)
                rows.append(base | {"method": method, "placed": True, "seconds": secs, **q.as_dict()})
            support, placed, secs = _naive(editors["freeedit"], scene, primary, support_label)
            q = assess(scene, support, placed)
            rows.append(base | {"method": "naive_centre", "placed": True, "seconds": secs, **q.as_dict()})
    summary = {}
    for m in METHODS:
        rs = [r for r in rows if r["method"] == m]
        placed = [r for r in rs if r["placed"]]
        summary[m] = {
            "edits": len(rs),
            "placed": len(placed),
            "success_rate": float(np.mean([r["success"] for r in rs])),
            "success_rate_feasible": float(np.mean([r["success"] for r in rs if r["feasible"]] or [np.nan])),
            "refused_feasible": sum(1 for r in rs if r["feasible"] and not r["placed"]),
            "refused_infeasible": sum(1 for r in rs if not r["feasible"] and not r["placed"]),
            "penetration_mean": float(np.mean([r["penetration"] for r in placed])) if placed else float("nan"),
            "overlap_rate": float(np.mean([r["overlap"] for r in placed])) if placed else float("nan"),
            "clearance_mean": float(np.mean([r["clearance"] for r in placed])) if placed else float("nan"),
            "clearance_median": float(np.median([r["clearance"] for r in placed])) if placed else float("nan"),
            "ms_per_edit_median": 1000 * float(np.median([r["seconds"] for r in rs])),
        }
    base_ms = summary["naive_centre"]["ms_per_edit_median"]
    for m in METHODS:
        summary[m]["time_ratio_vs_naive"] = summary[m]["ms_per_edit_median"] / base_ms
    return {
        "config": {
            "n_scenes": n_scenes,
            "prompts_per_scene": prompts_per_scene,
            "scene_seeds": [seed, seed + n_scenes - 1],
            "prompt_rng": "numpy default_rng(scene seed)",
            "placement": PlacementConfig().__dict__ | {"yaws_deg": list(PlacementConfig().yaws_deg)},
            "success": "on the support within its bounds, |base gap| ≤ 2 mm, no interpenetration",
        },
        "environment": _environment(),
        "summary": summary,
        "rows": rows,
    }


def _environment() -> dict[str, str]:
    import trimesh

    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "trimesh": trimesh.__version__,
        "machine": platform.machine(),
        "git": rev,
    }


def _markdown(report: dict[str, Any]) -> str:
    cfg, summ = report["config"], report["summary"]
    lines = [
        "# Scene placement benchmark",
        "",
        f"{cfg['n_scenes']} generated scenes (`random_scene(seed)`, "
        f"seeds {cfg['scene_seeds'][0]}–{cfg['scene_seeds'][1]}), "
        f"{cfg['prompts_per_scene']} insertion prompts each ('put a X on the <support>', X drawn with "
        f"{cfg['prompt_rng']}). Success: {cfg['success']}. Clearance: distance from the object's footprint to the "
        "nearest obstacle or support edge on a 1 cm grid (0 when touching or overlapping). Time: wall time per "
        "edit, including parsing, grounding and making the mesh; the ratio is against the baseline in the same run.",
        "",
        "Methods: `freeedit` is the location finder with the paper's constants (v = 4, τ = 1, ≤ 11 levels, "
        "4 yaws); `freeedit_v8` the same with v = 8 (a grid twice as fine); `max_clearance` v = 4 with the cell "
        "of widest free margin instead of the hierarchical level; `naive_centre` the baseline (centre of the "
        "support's bounding box, base on its top).",
        "",
        "Feasible: an exhaustive max-clearance search on a ~1 cm grid finds a spot at all (the oracle); an edit "
        "with no such spot can only be refused or fail.",
        "",
        "| method | edits | placed | success rate | success rate (feasible) | refused: feasible / infeasible "
        "| overlap rate | penetration % (mean) | clearance m (mean / median) | ms per edit (median) | time vs naive |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m, r in summ.items():
        lines.append(
            f"| {m} | {r['edits']} | {r['placed']} | {r['success_rate']:.3f} | {r['success_rate_feasible']:.3f} | "
            f"{r['refused_feasible']} / {r['refused_infeasible']} | {r['overlap_rate']:.3f} | "
            f"{r['penetration_mean']:.2f} | {r['clearance_mean']:.3f} / {r['clearance_median']:.3f} | "
            f"{r['ms_per_edit_median']:.1f} | {r['time_ratio_vs_naive']:.1f}× |"
        )
    refused = [r for r in report["rows"] if not r["placed"]]
    lines += ["", f"Refused edits (no free spot found): {len(refused)}."]
    for r in refused[:10]:
        lines.append(f"- seed {r['scene_seed']}, {r['method']}: {r['prompt']} — {r['reason']}")
    env = report["environment"]
    lines += [
        "",
        f"Environment: Python {env['python']}, numpy {env['numpy']}, trimesh {env['trimesh']}, "
        f"{env['machine']}, git {env['git']}. Figure: `placement.png` / `placement.pdf`.",
        "",
    ]
    return "\n".join(lines)


def _ecdf(ax: Any, values: list[float], colour: str, marker: str, label: str) -> None:
    v = np.sort(values)
    if len(v):
        ax.plot(
            v,
            np.arange(1, len(v) + 1) / len(v),
            color=colour,
            marker=marker,
            markevery=max(1, len(v) // 10),
            label=label,
        )


def _figure(report: dict[str, Any], folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows, summ = report["rows"], report["summary"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for k, m in enumerate(METHODS):
        colour, marker = STYLE[m]
        axes[0].bar(k, summ[m]["success_rate"], color=colour, label=m)
        axes[0].plot(k, summ[m]["success_rate"], marker=marker, color="black", ms=7)
        _ecdf(axes[1], [r["clearance"] for r in rows if r["method"] == m and r["placed"]], colour, marker, m)
        _ecdf(axes[2], [1000 * r["seconds"] for r in rows if r["method"] == m], colour, marker, m)
    axes[0].set_xticks(range(len(METHODS)), METHODS, rotation=15)
    axes[0].set_ylim(0, 1.05)
    axes[0].set_ylabel("placement success rate")
    axes[1].set_xlabel("clearance (m)")
    axes[1].set_ylabel("fraction of edits ≤ x")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("time per edit (ms, log)")
    axes[2].set_ylabel("fraction of edits ≤ x")
    for ax in axes[1:]:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    cfg = report["config"]
    fig.suptitle(
        f"Placement on generated scenes (seeds {cfg['scene_seeds'][0]}–{cfg['scene_seeds'][1]}, "
        f"{cfg['prompts_per_scene']} prompts each)",
        fontsize=11,
    )
    fig.tight_layout()
    out = [folder / "placement.png", folder / "placement.pdf"]
    for p in out:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return out


def write_report(report: dict[str, Any], folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    js, md = folder / "placement.json", folder / "README.md"
    js.write_text(json.dumps(report, indent=1, default=float))
    md.write_text(_markdown(report))
    return [js, md, *_figure(report, folder)]
