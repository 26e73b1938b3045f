"""``unlearnkit bench recovery``: recovery ratio vs budget and forget leak, PASER against its baselines.

For each task (a pruned + unlearned digits classifier, a pruned + unlearned tiny GPT-2; see
:mod:`unlearnkit.bench.recovery_tasks`), seed and budget (2–20% of the pool), every variant selects from the same
pool, fine-tunes a copy of the damaged model and is measured (no guard, so leaks are visible):

- ``none``: the damaged model; ``random``: B uniformly (``random+filter``: from what the filters keep);
  ``uniform``: equal budget per cluster, random within;
- ``paser``: the paper — CDS allocation, top IES within clusters, the Concept Consistency Graph (texts);
- ``paser+filter``: the same behind the forget-aware filters (near-duplicate, forget concepts);
- ``paser-rnd`` / ``paser-rnd+filter``: CDS allocation with random choice within clusters (the library default);
  ``paser-w+filter``: JSD-weighted choice within clusters; ``uniform+filter``: equal budget per cluster, filtered.

Recovery ratio = (u − u_damaged) / (u_reference − u_damaged); forget leak = forget accuracy after − before;
``planted`` counts selected copies/paraphrases of forget records; ``top_share`` is the share of the selection
taken by its most frequent group (class for digits, skill or "fact" for the LM) and ``ari`` the adjusted Rand
index of the clusters against those groups. PASER's direction ("beats random at equal budget") is decided per
(task, budget) by the number of seeds on which it holds.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from unlearnkit.bench.recovery_tasks import RecoveryTask, digits_task, lm_task
from unlearnkit.recovery import RecoveryTrainConfig, SelectConfig, recover
from unlearnkit.recovery.metrics import forget_leak, recovery_ratio
from unlearnkit.recovery.select import run_filters

log = logging.getLogger(__name__)

FILTERS = ("duplicate", "concept")
VARIANTS: dict[str, dict[str, Any]] = {
    "random": {"strategy": "random", "filters": ()},
    "random+filter": {"strategy": "random", "filters": FILTERS},
    "uniform": {"strategy": "uniform", "filters": ()},
    "uniform+filter": {"strategy": "uniform", "filters": FILTERS},
    "paser": {"strategy": "paser", "within": "top", "ccg": True, "filters": ()},
    "paser+filter": {"strategy": "paser", "within": "top", "ccg": True, "filters": FILTERS},
    "paser-rnd": {"strategy": "paser", "within": "random", "filters": ()},
    "paser-rnd+filter": {"strategy": "paser", "within": "random", "filters": FILTERS},
    "paser-w+filter": {"strategy": "paser", "within": "weighted", "filters": FILTERS},
}
TRAIN = {
    "digits": RecoveryTrainConfig(epochs=15, lr=1e-3, batch_size=16),
    "gpt2": RecoveryTrainConfig(epochs=3, min_steps=40, lr=3e-3, batch_size=8),
}


@dataclass
class RecoveryBenchConfig:
    tasks: tuple[str, ...] = ("digits", "gpt2")
    seeds: tuple[int, ...] = (0, 1, 2)
    budgets: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2)
    variants: tuple[str, ...] = tuple(VARIANTS)
    lm_steps: int = 1000
    small: bool = False
    task_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> RecoveryBenchConfig:
        return cls(seeds=(0,), budgets=(0.05,), lm_steps=200, small=True)


def build_task(name: str, seed: int, cfg: RecoveryBenchConfig) -> RecoveryTask:
    extra = cfg.task_overrides.get(name, {})
    if name == "digits":
        return digits_task(seed, **extra)
    if name == "gpt2":
        return lm_task(seed, steps=cfg.lm_steps, small=cfg.small, **extra)
    raise ValueError(f"unknown recovery task {name!r}; choose digits or gpt2")


def gradient_diagnostic(task: RecoveryTask) -> dict[str, Any]:
    """What the gradient-alignment filter alone would reject (planted caught vs other rows removed)."""
    t0 = time.perf_counter()
    keep, _ = run_filters(task.subject, task.damaged, task.candidates, task.forget, ("gradient",), SelectConfig())
    rejected = {task.candidates.ids[i] for i, k in enumerate(keep) if not k}
    return {
        "planted_caught": len(rejected & task.planted),
        "planted": len(task.planted),
        "others_rejected": len(rejected - task.planted),
        "pool": len(task.candidates),
        "seconds": time.perf_counter() - t0,
    }


def _ari(task: RecoveryTask, labels: list[int]) -> float | None:
    if not labels or not task.groups:
        return None
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score([task.groups.get(i, "?") for i in task.candidates.ids], labels))


def run_task(task: RecoveryTask, cfg: RecoveryBenchConfig) -> dict[str, Any]:
    s = task.subject
    u_ref, u_dmg = task.utility(task.reference), task.utility(task.damaged)
    f_dmg = s.forget_metrics(task.damaged, task.forget)
    rows: list[dict[str, Any]] = []
    for budget in cfg.budgets:
        rows.append(
            {
                "variant": "none", "budget": budget, "utility": u_dmg, "ratio": 0.0, "leak": 0.0, "planted": 0,
                "forget_accuracy": f_dmg["accuracy"], "forget_loss": f_dmg["loss"],
            }
        )  # fmt: skip
        for name in cfg.variants:
            t0 = time.perf_counter()
            sel = SelectConfig(**VARIANTS[name])
            res = recover(
                s, task.damaged, task.reference, task.candidates, budget,
                forget=task.forget, select_config=sel, train_config=TRAIN[task.name], seed=task.seed,
                enforce_guard=False,
            )  # fmt: skip
            u = task.utility(res.model)
            counts = Counter(task.groups.get(i, "?") for i in res.selection.ids)
            f = s.forget_metrics(res.model, task.forget)
            rows.append(
                {
                    "variant": name,
                    "budget": budget,
                    "selected": len(res.selection.ids),
                    "utility": u,
                    "ratio": recovery_ratio(u_ref, u_dmg, u),
                    "forget_accuracy": f["accuracy"],
                    "forget_loss": f["loss"],
                    "leak": forget_leak(f_dmg["accuracy"], f["accuracy"]),
                    "guard_accepts": res.accepted,
                    "planted": len(set(res.selection.ids) & task.planted),
                    "filters": {k: v["rejected"] for k, v in res.selection.filters.items()},
                    "ccg_rejected": res.selection.ccg_rejected,
                    "silhouette": (res.selection.clustering or {}).get("silhouette"),
                    "ari": _ari(task, res.selection.labels),
                    "groups": dict(counts),
                    "top_share": max(counts.values()) / max(sum(counts.values()), 1) if counts else 0.0,
                    "guard_reasons": res.guard.reasons if res.guard else [],
                    "seconds": time.perf_counter() - t0,
                }
            )
            log.info("%s seed %d budget %.2f %s: ratio %.3f leak %.3f", task.name, task.seed, budget, name,
                     rows[-1]["ratio"], rows[-1]["leak"])  # fmt: skip
    return {
        "task": task.name,
        "seed": task.seed,
        "meta": task.meta,
        "utility_reference": u_ref,
        "utility_damaged": u_dmg,
        "forget_reference": s.forget_metrics(task.reference, task.forget),
        "forget_damaged": f_dmg,
        "gradient_filter": gradient_diagnostic(task),
        "rows": rows,
    }


def run_recovery_benchmark(
    out_dir: Path, cfg: RecoveryBenchConfig, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    from unlearnkit.bench.recovery_report import write_report
    from unlearnkit.eval.report import git_revision, versions

    runs = []
    t0 = time.perf_counter()
    for name in cfg.tasks:
        for seed in cfg.seeds:
            t = time.perf_counter()
            task = build_task(name, seed, cfg)
            built = time.perf_counter() - t
            run = run_task(task, cfg)
            run["seconds"] = {"build": built, "total": time.perf_counter() - t}
            runs.append(run)
            if progress:
                progress(f"{name} seed {seed}: {run['seconds']['total']:.0f} s")
    result = {
        "config": {**asdict(cfg), "variants_config": VARIANTS, "train": {k: asdict(v) for k, v in TRAIN.items()}},
        "versions": versions(),
        "git_revision": git_revision(),
        "seconds": time.perf_counter() - t0,
        "runs": runs,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(result, indent=2, default=str))
    result["claims"] = write_report(result, out_dir)
    (out_dir / "results.json").write_text(json.dumps(result, indent=2, default=str))
    return result


__all__ = ["TRAIN", "VARIANTS", "RecoveryBenchConfig", "build_task", "run_recovery_benchmark", "run_task"]
