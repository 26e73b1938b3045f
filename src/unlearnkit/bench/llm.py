"""The LM-unlearning benchmark on the embedded world: MUSE's table, step curves, scalability, sustainability.

Per seed: :func:`~unlearnkit.llm.world.world_models` trains the target (every trained person) and the
retrained reference (without fold0), both from the seed. Every registered LM method (except Retrain, which is
the reference row) runs with its ``toy`` config on D_f = fold0 from the target, with a checkpoint every
``every`` steps over the whole step budget; MUSE's stop rule (first checkpoint whose selection-QA KnowMem ≤
the reference's) picks the reported checkpoint, and the end of the budget is reported too ("fixed budget").
Task Vector and WHP follow MUSE's α sweep instead. Scalability unlearns folds {0}, {0,1}, {0,1,2}, {0..3} from
the target with the epoch count fixed at each method's stop point (MUSE C5); sustainability unlearns folds
0, 1, 2, 3 one after the other (C6). An exact row (an S3T language model after ``forget``) is added when the
exact engine provides one (:func:`exact_lm_row`).

Outputs (``out_dir``): ``results.json`` (every row, curve and seed with configs and versions), ``results.md``
(tables and the directions MUSE reports, each marked reproduced or not from the numbers), PNG + PDF figures.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import platform
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unlearnkit.approx._common import config_from_dict, config_to_dict
from unlearnkit.context import RunContext
from unlearnkit.llm.eval import alpha_sweep, evaluate_lm, run_with_checkpoints, scalability, sustainability
from unlearnkit.llm.methods.base import GradientUnlearner, LMUnlearner
from unlearnkit.llm.training import LMTrainConfig
from unlearnkit.llm.world import TinyGPT2Config, WorldConfig, WorldModels, world_models
from unlearnkit.registry import list_methods

log = logging.getLogger(__name__)
TABLE_METRICS = (
    "verbmem_f",
    "knowmem_f",
    "knowmem_r",
    "privleak",
    "utility_preserved",
    "forget_quality",
    "model_utility",
    "mia_min_k_pp",
    "mia_zlib",
    "mia_loss",
)
CURVE_METRICS = ("knowmem_select", "knowmem_f", "knowmem_r", "privleak")
# MUSE ran scalability and sustainability for these six (``baselines/scripts/unlearn_news_{scal,sust}.sh``)
SCAL_SUST = ("llm_ga", "llm_ga_gdr", "llm_ga_klr", "llm_npo", "llm_npo_gdr", "llm_npo_klr")
SWEEP_METHODS = ("llm_task_vector", "llm_whp")


@dataclass
class LMBenchConfig:
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] | None = None
    every: int = 10
    scal_sust: bool = True
    cache_dir: Path | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    world: WorldConfig | None = None
    model: TinyGPT2Config | None = None
    train: LMTrainConfig | None = None
    resume: bool = True
    exact: bool = True
    """Add the S3T language model's row (when the exact engine supports causal LMs)."""
    """Reuse ``seed-N.json`` files in the output directory (seeds can run as separate processes)."""

    @classmethod
    def quick(cls) -> LMBenchConfig:
        return cls(seeds=(0,), methods=("llm_ga", "llm_npo", "llm_ga_gdr"), scal_sust=False)


def lm_methods(cfg: LMBenchConfig) -> list[Any]:
    infos = [m for m in list_methods(family="llm") if m.name != "llm_retrain"]
    if cfg.methods is not None:
        known = {m.name for m in infos}
        wanted = [m if m.startswith("llm_") else f"llm_{m}" for m in cfg.methods]
        unknown = [m for m in wanted if m not in known]
        if unknown:
            from unlearnkit.errors import ConfigError

            raise ConfigError(f"unknown LM method(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        infos = [m for m in infos if m.name in wanted]
    return infos


def make_method(info: Any, overrides: dict[str, Any] | None = None, **extra: Any) -> LMUnlearner:
    return info.cls(config_from_dict(info.cls.config_cls, {**info.cls.toy, **(overrides or {}), **extra}))


def _steps_per_epoch(method: Any, n_forget: int) -> int:
    return max(1, math.ceil(n_forget / method.config.batch_size))


def _fixed(info: Any, method: Any, run: Any, base_forget: int, overrides: dict[str, Any]) -> Callable[[int], Any]:
    """A factory for scalability/sustainability: the method with its budget fixed at the stop point."""
    if info.name in SWEEP_METHODS:
        alpha = run.extra["alpha"]
        return lambda size: make_method(info, overrides, alpha=alpha)
    stop_step = max(run.stop_step, 1)
    if hasattr(method.config, "num_batches"):  # RMU: steps ∝ forget-set size
        return lambda size: make_method(info, overrides, num_batches=stop_step * size)
    epochs = max(1, math.ceil(stop_step / _steps_per_epoch(method, base_forget)))
    return lambda size: make_method(info, overrides, epochs=epochs)


def exact_available() -> bool:
    try:
        from unlearnkit.bench import llm_exact  # noqa: F401
    except ImportError:
        return False
    return True


def exact_lm_row(wm: WorldModels, split: Any, evalset: Any, ref_logs: dict, seed: int) -> dict[str, Any] | None:
    """The S3T language model after ``forget`` (fold0's ids), when the exact engine offers one; else ``None``."""
    try:
        from unlearnkit.bench import llm_exact
    except ImportError:
        return None
    return llm_exact.s3t_row(wm, split, evalset, ref_logs, seed)


def run_seed(
    seed: int, cfg: LMBenchConfig, echo: Callable[[str], None], progress: Path | None = None
) -> dict[str, Any]:
    ctx = RunContext(seed=seed)
    t0 = time.perf_counter()
    world = dataclasses.replace(cfg.world, seed=seed) if cfg.world is not None else None
    wm = world_models(world, cfg.model, cfg.train, seed=seed, cache_dir=cfg.cache_dir)
    echo(
        f"seed {seed}: target {wm.seconds['target']:.0f} s, retrain {wm.seconds['retrain']:.0f} s "
        f"(loaded in {time.perf_counter() - t0:.0f} s)"
    )
    split, ev = wm.world.split(tokenizer=wm.tokenizer), wm.world.eval_set()
    ref_logs = evaluate_lm(wm.retrain, wm.tokenizer, ev, per_sample=True)
    ref_select = ref_logs["knowmem_select"]["value"]

    def full(model: Any) -> dict[str, float]:
        return evaluate_lm(
            model, wm.tokenizer, ev, reference_logs=ref_logs, original=wm.target, metrics=list(TABLE_METRICS)
        )

    rows = [
        {"method": "Target", "seed": seed, "stop_step": None, "seconds": wm.seconds["target"], **full(wm.target)},
        {"method": "Retrain", "seed": seed, "stop_step": None, "seconds": wm.seconds["retrain"], **full(wm.retrain)},
    ]
    exact = exact_lm_row(wm, split, ev, ref_logs, seed) if cfg.exact else None
    if exact is not None:
        rows.append({"seed": seed, **exact})
    curves: dict[str, list[dict[str, Any]]] = {}
    scal: dict[str, list[dict[str, Any]]] = {}
    sust: dict[str, list[dict[str, Any]]] = {}
    failures: list[dict[str, Any]] = []

    def snapshot() -> dict[str, Any]:
        return {
            "seed": seed,
            "rows": rows,
            "curves": curves,
            "scalability": scal,
            "sustainability": sust,
            "failures": failures,
            "record": wm.record(),
            "reference_select": ref_select,
            "forget_texts": len(split.forget),
        }

    folds = range(wm.world.config.folds)
    scal_splits = [wm.world.split(tuple(range(k + 1)), tokenizer=wm.tokenizer) for k in folds]
    scal_evals = [wm.world.eval_set(tuple(range(k + 1))) for k in folds]
    sust_splits = [wm.world.split((k,), tokenizer=wm.tokenizer) for k in folds]
    sust_evals = [wm.world.eval_set((k,)) for k in folds]
    for info in lm_methods(cfg):
        overrides = cfg.overrides.get(info.name, {})
        name = info.cls.display or info.name
        try:
            method = make_method(info, overrides)
            if info.name in SWEEP_METHODS:
                run = alpha_sweep(
                    lambda a, _i=info, _o=overrides: make_method(_i, _o, alpha=a),
                    wm.target,
                    split,
                    ev,
                    reference_select=ref_select,
                    ctx=ctx,
                    metrics=CURVE_METRICS,
                    reference_logs=ref_logs,
                )
            else:
                if not isinstance(method, GradientUnlearner):
                    continue
                run = run_with_checkpoints(
                    method,
                    wm.target,
                    split,
                    ev,
                    reference_select=ref_select,
                    every=cfg.every,
                    ctx=ctx,
                    metrics=CURVE_METRICS,
                    reference_logs=ref_logs,
                    past_stop=None,
                )
            curves[name] = run.curve
            stop_row = full(run.stop_model)
            final_row = full(run.final_model)
            rows.append(
                {
                    "method": name,
                    "seed": seed,
                    "stop_step": run.stop_step,
                    "reached_stop": run.reached,
                    "seconds": run.seconds_to_stop,
                    "alpha": run.extra.get("alpha"),
                    "config": config_to_dict(method.config),
                    **stop_row,
                    "budget": {"steps": run.curve[-1]["step"], **final_row},
                }
            )
            echo(
                f"seed {seed}: {name:<10} stop step {run.stop_step:>4} ({'reached' if run.reached else 'NOT reached'})"
                f"  KnowMem_f {stop_row['knowmem_f']:.1f}  KnowMem_r {stop_row['knowmem_r']:.1f}"
                f"  PrivLeak {stop_row['privleak']:+.1f}  (budget end: KnowMem_r {final_row['knowmem_r']:.1f},"
                f" PrivLeak {final_row['privleak']:+.1f})"
            )
            if cfg.scal_sust and info.name in SCAL_SUST:
                factory = _fixed(info, method, run, len(split.forget), overrides)
                scal[name] = scalability_rows(factory, wm, scal_splits, scal_evals, ctx)
                sust[name] = sustainability(lambda _f=factory: _f(1), wm.target, sust_splits, sust_evals, ctx=ctx)
        except Exception as exc:  # a failing method is reported, not fatal
            failures.append(
                {
                    "method": name,
                    "seed": seed,
                    "error": f"{type(exc).__name__}: {exc}",
                    "trace": traceback.format_exc(limit=3),
                }
            )
            echo(f"seed {seed}: {name} FAILED: {type(exc).__name__}: {exc}")
        if progress is not None:  # everything so far, so an interrupted run keeps its finished methods
            progress.write_text(json.dumps(snapshot(), indent=1, default=str))
    return snapshot()


def scalability_rows(
    factory: Callable[[int], Any], wm: WorldModels, splits: list, evals: list, ctx: RunContext
) -> list:
    rows = []
    for k, (split, ev) in enumerate(zip(splits, evals, strict=True), 1):
        rows += scalability(lambda _k=k: factory(_k), wm.target, [split], [ev], ctx=ctx)
        rows[-1]["folds"] = k
    return rows


def _toys(cfg: LMBenchConfig) -> dict[str, dict[str, Any]]:
    return {m.name: {**m.cls.toy, **cfg.overrides.get(m.name, {})} for m in lm_methods(cfg)}


def run_seeds(
    out_dir: Path,
    seeds: Sequence[int],
    resume: bool,
    run_one: Callable[[int], dict[str, Any]],
    echo: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Each seed's result, saved as ``seed-N.json`` as soon as it is done; with ``resume`` a saved one is read back."""
    out = []
    for seed in seeds:
        path = out_dir / f"seed-{seed}.json"
        if resume and path.is_file():
            out.append(json.loads(path.read_text()))
            echo(f"seed {seed}: loaded from {path}")
            continue
        out.append(run_one(seed))
        path.write_text(json.dumps(out[-1], indent=1, default=str))
    return out


def run_benchmark(out_dir: Path, cfg: LMBenchConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    from unlearnkit.bench import llm_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.cache_dir is None:
        cfg.cache_dir = out_dir / "cache"
    torch.set_num_threads(1)
    start = time.perf_counter()
    seeds = run_seeds(
        out_dir,
        cfg.seeds,
        cfg.resume,
        lambda seed: run_seed(seed, cfg, echo, progress=out_dir / f"seed-{seed}.partial.json"),
        echo,
    )
    for result in seeds:  # exact rows computed in a separate process (exact-N.json), when the engine has LMs
        extra = out_dir / f"exact-{result['seed']}.json"
        if extra.is_file() and exact_available() and not any(r["method"].startswith("S3T") for r in result["rows"]):
            result["rows"].insert(2, {"seed": result["seed"], **json.loads(extra.read_text())})
    results = {
        "benchmark": "llm-muse-world",
        "config": {**dataclasses.asdict(cfg), "cache_dir": str(cfg.cache_dir), "toy": _toys(cfg)},
        "environment": lm_environment(),
        "seeds": seeds,
        "elapsed_seconds": time.perf_counter() - start,
    }
    summary = llm_report.write_report(out_dir, results)
    return {**summary, "elapsed_seconds": results["elapsed_seconds"]}


def lm_environment() -> dict[str, Any]:
    """What a language-model benchmark's numbers depend on: library versions and the torch thread count."""
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "device": "cpu",
    }


__all__ = ["LMBenchConfig", "exact_lm_row", "lm_environment", "lm_methods", "make_method", "run_benchmark", "run_seed"]
