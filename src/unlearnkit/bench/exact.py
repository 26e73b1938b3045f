"""The exact-unlearning benchmark: S3T (B = 1, 2, L), SISA (rollback, retrain) and Retrain on one backbone.

Papers: S3T, Chowdhury, Choromanski, Sehanobish, Dubey, Chaturvedi, "Towards Scalable Exact Machine Unlearning
Using Parameter-Efficient Fine-Tuning", ICLR 2025, arXiv 2406.16257; SISA, Bourtoule et al., "Machine
Unlearning", IEEE S&P 2021, arXiv 1912.03817.

Per dataset (every strategy shares the frozen backbone pretrained on the public split, the shard/slice
assignment salt and the deletion streams), it measures:

1. test accuracy at 0 deletions; Retrain at 0 deletions is the monolithic full-data LoRA model;
2. accuracy against the number r of uniformly random sample deletions, mean over streams, reported at
   r = 0, δ_SISA/4, δ_SISA/2, δ_SISA, δ_S3T, where δ = m·L·H_{mB'} (Lemma 1) is the expected number of requests
   until every shard is dead; S3T and SISA-rollback never retrain, so a stream with every shard dead serves
   nothing (``RetrainRequiredError``) and counts at chance accuracy 1/C;
3. the deletion rate δ of a bookkeeping-only simulation (≥ 2000 uniform (shard, slice) streams) against
   m·L·H_{mB'} for B = 1 … 2L (capped at L!);
4. p50/p95 deletion latency: S3T deactivation (plan + in-memory swap, from the receipt's ``timings_ms``) and
   end-to-end (``latency_ms``: durable SQLite commit and purge included), SISA-rollback, SISA-retrain and
   Retrain, with the ratios Retrain/S3T and SISA-retrain/S3T from the same run;
5. training time (``fit_seconds_``, backbone pretraining included) and checkpoint storage against B.

The expectations (S3T p50 under 1 ms and ≥ 10⁴× faster than retraining; S3T(B=L) above SISA-rollback from
δ_SISA/2 deletions; δ within ±3 % of Lemma 1; ...) are evaluated from the measured numbers.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.bench.owner_sharding import OwnerStudyConfig, owner_study, plot_owner_study, render_owner_markdown
from unlearnkit.context import RunContext, derive_seed
from unlearnkit.data import DataBundle, IdDataset, load_builtin
from unlearnkit.errors import ConfigError, DataError, RetrainRequiredError
from unlearnkit.eval.report import git_revision, versions
from unlearnkit.exact import S3T, SISA, ExactStrategy, Retrain
from unlearnkit.exact.sequences import harmonic, simulate_deletion_rate, theoretical_deletion_rate

log = logging.getLogger(__name__)

BOOKKEEPING = "bookkeeping"  # a deletion never retrains: the curve runs until every shard is dead
RETRAINING = "retraining"  # every deletion retrains before it returns (costly: its curve is capped)
RETRAIN_MODES = ("every", "checkpoints")
SIM_SEED_TAG = "exact-bench-deletion-rate"


# ------------------------------------------------------------------------------------------------ config


@dataclass
class ExactBenchConfig:
    """What ``unlearnkit bench exact`` runs.

    Args:
        datasets: built-in datasets with a public split (``digits``, ``mnist1d``).
        shards, slices: m and L.
        budgets: S3T budgets B (default 1, 2 and L).
        streams: deletion streams per dataset; stream s trains every strategy with seed ``seed + s``.
        seed: data split seed and base training seed.
        epochs: epochs per S3T stage / per Retrain fit (SISA derives e' = 2e/(L+1) per stage).
        sim_streams: streams of the deletion-rate simulation (per budget).
        sim_max_budget: largest simulated B (default 2L, capped at L!).
        retrain_mode: ``every`` (one request per deletion, each retraining) or ``checkpoints`` (the first
            ``retrain_singles`` deletions one at a time for latency, then one batched request per checkpoint).
        retrain_singles: single-id requests before batching in ``checkpoints`` mode.
        bookkeeping_cap: S3T/SISA-rollback streams stop when every shard is dead or after
            ``bookkeeping_cap · δ_S3T(B=max)`` deletions.
    """

    datasets: tuple[str, ...] = ("digits", "mnist1d")
    shards: int = 3
    slices: int = 4
    budgets: tuple[int, ...] | None = None
    streams: int = 3
    seed: int = 0
    epochs: int = 20
    sim_streams: int = 2000
    sim_max_budget: int | None = None
    retrain_mode: str = "every"
    retrain_singles: int = 2
    bookkeeping_cap: float = 4.0
    quick: bool = False
    progress: bool = True

    @classmethod
    def quick_config(cls, **overrides: Any) -> ExactBenchConfig:
        """Digits only, one stream, retraining strategies measured at the checkpoints only (< 2 min)."""
        base = dict(
            datasets=("digits",),
            streams=1,
            retrain_mode="checkpoints",
            bookkeeping_cap=2.0,
            quick=True,
        )
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    @property
    def budgets_(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.budgets or (1, 2, self.slices))))

    @property
    def sim_budgets_(self) -> list[int]:
        top = self.sim_max_budget or 2 * self.slices
        return list(range(1, min(top, math.factorial(self.slices)) + 1))

    def validate(self) -> None:
        for name in ("shards", "slices", "streams", "epochs", "sim_streams"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if not self.datasets:
            raise ConfigError("give at least one dataset")
        if any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in self.budgets_):
            raise ConfigError(f"budgets must be positive integers, got {self.budgets!r}")
        if max(self.budgets_) > math.factorial(self.slices):
            raise ConfigError(f"budget {max(self.budgets_)} exceeds the {math.factorial(self.slices)} slice orders")
        if self.retrain_mode not in RETRAIN_MODES:
            raise ConfigError(f"retrain_mode must be one of {', '.join(RETRAIN_MODES)}, got {self.retrain_mode!r}")
        if self.retrain_singles < 0:
            raise ConfigError(f"retrain_singles must be >= 0, got {self.retrain_singles}")
        if self.bookkeeping_cap <= 0:
            raise ConfigError(f"bookkeeping_cap must be positive, got {self.bookkeeping_cap}")


@dataclass(frozen=True)
class StrategySpec:
    """One benchmarked strategy: how to build it and whether its deletions retrain."""

    key: str
    label: str
    kind: str  # s3t | sisa | retrain
    behaviour: str  # BOOKKEEPING | RETRAINING
    params: dict[str, Any] = field(default_factory=dict)

    def build(self, cfg: ExactBenchConfig, seed: int) -> ExactStrategy:
        common: dict[str, Any] = dict(epochs=cfg.epochs, seed=seed, salt=f"bench-exact-{seed}")
        common["ctx"] = RunContext(seed=seed, threads=1)
        if self.kind == "s3t":
            return S3T(shards=cfg.shards, slices=cfg.slices, selection="cyclic", **self.params, **common)
        if self.kind == "sisa":
            return SISA(shards=cfg.shards, slices=cfg.slices, **self.params, **common)
        return Retrain(**common)


def strategy_specs(cfg: ExactBenchConfig) -> list[StrategySpec]:
    """S3T for each budget, SISA-rollback, SISA-retrain and Retrain, in table order."""
    specs = [StrategySpec(f"s3t-b{b}", f"S3T (B={b})", "s3t", BOOKKEEPING, {"budget": b}) for b in cfg.budgets_]
    specs += [
        StrategySpec("sisa-rollback", "SISA-rollback", "sisa", BOOKKEEPING, {"mode": "rollback"}),
        StrategySpec("sisa-retrain", "SISA-retrain", "sisa", RETRAINING, {"mode": "retrain"}),
        StrategySpec("retrain", "Retrain (monolithic LoRA)", "retrain", RETRAINING),
    ]
    return specs


def checkpoints(shards: int, slices: int, budget_max: int) -> list[dict[str, Any]]:
    """r = 0, δ_SISA/4, δ_SISA/2, δ_SISA, δ_S3T (Lemma 1 of arXiv 2406.16257, B = ``budget_max``), rounded."""
    d_sisa = theoretical_deletion_rate(shards, slices, 1)
    d_s3t = theoretical_deletion_rate(shards, slices, budget_max)
    raw = [
        ("0", 0.0),
        ("δ_SISA/4", d_sisa / 4),
        ("δ_SISA/2", d_sisa / 2),
        ("δ_SISA", d_sisa),
        (f"δ_S3T(B={budget_max})", d_s3t),
    ]
    return [{"name": n, "delta": v, "r": math.floor(v + 0.5)} for n, v in raw]


# ------------------------------------------------------------------------------------------------ running


class _Progress:
    """A rich progress bar on stderr (or nothing)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: Any = None
        self._task: Any = None

    @contextlib.contextmanager
    def running(self) -> Iterator[_Progress]:
        if not self.enabled:
            yield self
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("[bold]bench exact[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            self._bar = bar
            self._task = bar.add_task("starting", total=self.total)
            yield self
        self._bar = None

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)


def _score(model: ExactStrategy, test: IdDataset) -> float | None:
    """Test accuracy of the served ensemble; ``None`` when every shard is dead (retrain required)."""
    try:
        return model.score(test)
    except RetrainRequiredError:
        return None


def _schedule(behaviour: str, cfg: ExactBenchConfig, cps: list[dict[str, Any]], cap: int) -> list[int]:
    """Sizes of the successive forget requests of one stream."""
    if behaviour == BOOKKEEPING:
        return [1] * cap
    top = max(c["r"] for c in cps)
    if cfg.retrain_mode == "every":
        return [1] * top
    singles = min(cfg.retrain_singles, top)
    sizes, done = [1] * singles, singles
    for r in sorted({c["r"] for c in cps}):
        if r > done:
            sizes.append(r - done)
            done = r
    return sizes


def _run_strategy(
    spec: StrategySpec,
    cfg: ExactBenchConfig,
    bundle: DataBundle,
    test: IdDataset,
    seed: int,
    stream: list[int],
    sizes: list[int],
    workdir: Path,
    progress: _Progress,
    tag: str,
) -> dict[str, Any]:
    """Fit one strategy, then issue the stream's forget requests, scoring the served model after each."""
    progress.describe(f"{tag} {spec.label}: fit")
    model = spec.build(cfg, seed)
    directory = workdir / f"{spec.key}-s{seed}"
    model.fit(bundle.train, bundle.public, directory=directory)
    try:
        from unlearnkit.models.train import predict_logits

        backbone_acc = float((predict_logits(model.template_, test.x).argmax(1) == test.y).float().mean())
        acc0 = _score(model, test)
        run: dict[str, Any] = {
            "seed": seed,
            "fit_seconds": float(model.fit_seconds_),
            "storage_bytes": int(model.storage_bytes()),
            "checkpoints": len(model.store.checkpoints("active")),  # type: ignore[union-attr]
            "aggregation": model.aggregation_,
            "accuracy0": acc0,
            "backbone_accuracy": backbone_acc,
            "curve": {"r": [0], "accuracy": [acc0]},
            "requests": [],
            "all_dead_at": None,
        }
        r = 0
        for size in sizes:
            batch = stream[r : r + size]
            progress.describe(f"{tag} {spec.label}: deletion {r + size}")
            receipt = model.forget(batch)
            r += size
            acc = _score(model, test)
            timings = dict(receipt.verification.get("timings_ms", {}))
            run["requests"].append(
                {
                    "r": r,
                    "size": size,
                    "latency_ms": float(receipt.latency_ms),
                    "timings_ms": timings,
                    "retrained": bool(receipt.retrained),
                }
            )
            run["curve"]["r"].append(r)
            run["curve"]["accuracy"].append(acc)
            if acc is None and len(model.pending_retrain()) == model.shards:
                run["all_dead_at"] = r
                break
        run["stopped_at"] = r
        return run
    finally:
        model.close()
        shutil.rmtree(directory, ignore_errors=True)


def _run_dataset(name: str, cfg: ExactBenchConfig, workdir: Path, progress: _Progress) -> dict[str, Any]:
    bundle = load_builtin(name, seed=cfg.seed)
    if bundle.test is None or bundle.public is None:
        raise DataError(f"dataset {name!r} needs test and public splits for this benchmark")
    cps = checkpoints(cfg.shards, cfg.slices, max(cfg.budgets_))
    cap = min(len(bundle.train), math.ceil(cfg.bookkeeping_cap * cps[-1]["delta"]))
    ids = bundle.train.id_list()
    specs = strategy_specs(cfg)
    out: dict[str, Any] = {
        "sizes": {"public": len(bundle.public), "train": len(bundle.train), "test": len(bundle.test)},
        "num_classes": bundle.train.num_classes,
        "chance": 1.0 / bundle.train.num_classes,
        "checkpoints": cps,
        "bookkeeping_cap": cap,
        "stream_seeds": [],
        "strategies": {
            s.key: {"label": s.label, "kind": s.kind, "behaviour": s.behaviour, "params": s.params, "runs": []}
            for s in specs
        },
    }
    for s in range(cfg.streams):
        seed = cfg.seed + s
        stream_seed = derive_seed(cfg.seed, "exact-bench-stream", name, s)
        out["stream_seeds"].append(stream_seed)
        stream = [int(i) for i in np.random.default_rng(stream_seed).permutation(ids)]
        for spec in specs:
            sizes = _schedule(spec.behaviour, cfg, cps, cap)
            run = _run_strategy(
                spec,
                cfg,
                bundle,
                bundle.test,
                seed,
                stream,
                sizes,
                workdir / name,
                progress,
                f"{name} stream {s + 1}/{cfg.streams}",
            )
            out["strategies"][spec.key]["runs"].append(run)
            log.info(
                "%s %s seed %d: acc0 %.4f, fit %.1fs",
                name,
                spec.key,
                seed,
                run["accuracy0"] or float("nan"),
                run["fit_seconds"],
            )
            progress.advance()
    out["summary"] = summarize_dataset(out, cfg)
    return out


def _simulate(cfg: ExactBenchConfig, progress: _Progress) -> list[dict[str, Any]]:
    """Lemma 1 check by bookkeeping only: uniform (shard, slice) requests until every shard is dead."""
    rows = []
    for b in cfg.sim_budgets_:
        progress.describe(f"deletion-rate simulation B={b}")
        res = simulate_deletion_rate(
            cfg.shards, cfg.slices, b, "cyclic", streams=cfg.sim_streams, seed=derive_seed(cfg.seed, SIM_SEED_TAG)
        )
        rows.append(
            {
                "budget": b,
                "effective_budget": min(b, cfg.slices),
                "theory": res.theory,
                "mean": res.mean,
                "std": res.std,
                "stderr": res.stderr,
                "relative_error": res.relative_error,
                "streams": res.streams,
            }
        )
    progress.advance()
    return rows


# ------------------------------------------------------------------------------------------------ summaries


def _pct(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else None


def _acc_at(run: dict[str, Any], r: int, chance: float) -> tuple[float, bool] | None:
    """(accuracy used for means, dead?) of one run after r deletions; ``None`` if not measured."""
    curve = dict(zip(run["curve"]["r"], run["curve"]["accuracy"], strict=True))
    if r in curve:
        acc = curve[r]
        return (chance, True) if acc is None else (float(acc), False)
    if run["all_dead_at"] is not None and r > run["all_dead_at"]:
        return chance, True
    return None


def _latency(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95 over the single-id requests of ``runs`` (the request that kills the last shard included)."""
    singles = [q for run in runs for q in run["requests"] if q["size"] == 1]
    deact = [q["timings_ms"].get("plan_ms", 0.0) + q["timings_ms"].get("swap_ms", 0.0) for q in singles]
    e2e = [q["latency_ms"] for q in singles]
    parts = {
        k: [q["timings_ms"][k] for q in singles if k in q["timings_ms"]]
        for k in ("plan_ms", "commit_ms", "swap_ms", "retrain_ms", "purge_ms")
    }
    return {
        "n": len(singles),
        "deactivation_p50_ms": _pct(deact, 50),
        "deactivation_p95_ms": _pct(deact, 95),
        "end_to_end_p50_ms": _pct(e2e, 50),
        "end_to_end_p95_ms": _pct(e2e, 95),
        **{f"{k[:-3]}_p50_ms": _pct(v, 50) for k, v in parts.items()},
    }


def summarize_dataset(ds: dict[str, Any], cfg: ExactBenchConfig) -> dict[str, Any]:
    """Means over streams: accuracy at 0 and at the checkpoints, δ of the model streams, latency, cost."""
    chance = ds["chance"]
    out: dict[str, Any] = {"strategies": {}}
    for key, st in ds["strategies"].items():
        runs = st["runs"]
        acc0 = [r["accuracy0"] for r in runs if r["accuracy0"] is not None]
        at = []
        for cp in ds["checkpoints"]:
            vals = [v for v in (_acc_at(run, cp["r"], chance) for run in runs) if v is not None]
            at.append(
                {
                    "name": cp["name"],
                    "r": cp["r"],
                    "n": len(vals),
                    "mean": float(np.mean([v for v, _ in vals])) if vals else None,
                    "std": float(np.std([v for v, _ in vals])) if vals else None,
                    "dead": sum(d for _, d in vals),
                }
            )
        dead_at = [r["all_dead_at"] for r in runs]
        out["strategies"][key] = {
            "label": st["label"],
            "accuracy0_mean": float(np.mean(acc0)) if acc0 else None,
            "accuracy0_std": float(np.std(acc0)) if acc0 else None,
            "at_checkpoints": at,
            "all_dead_at": dead_at,
            "censored": sum(
                1
                for r, d in zip(runs, dead_at, strict=True)
                if d is None and st["behaviour"] == BOOKKEEPING and r["stopped_at"] >= ds["bookkeeping_cap"]
            ),
            "latency": _latency(runs),
            "fit_seconds_mean": float(np.mean([r["fit_seconds"] for r in runs])),
            "fit_seconds_std": float(np.std([r["fit_seconds"] for r in runs])),
            "storage_bytes": int(np.mean([r["storage_bytes"] for r in runs])),
            "checkpoints": int(np.mean([r["checkpoints"] for r in runs])),
            "aggregation": runs[0]["aggregation"] if runs else None,
        }
    backbone = [r["backbone_accuracy"] for st in ds["strategies"].values() for r in st["runs"]]
    out["backbone_accuracy_mean"] = float(np.mean(backbone)) if backbone else None
    out["backbone_accuracy_std"] = float(np.std(backbone)) if backbone else None
    return out


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or den is None or den <= 0 else num / den


def latency_ratios(summary: dict[str, Any], top_key: str) -> dict[str, Any]:
    """Retrain and SISA-retrain end-to-end p50 over S3T(B=L)'s deactivation p50 and end-to-end p50."""
    s3t = summary["strategies"][top_key]["latency"]
    out = {}
    for key in ("retrain", "sisa-retrain"):
        other = summary["strategies"][key]["latency"]["end_to_end_p50_ms"]
        out[key] = {
            "vs_deactivation": _ratio(other, s3t["deactivation_p50_ms"]),
            "vs_end_to_end": _ratio(other, s3t["end_to_end_p50_ms"]),
        }
    return out


def _expect(claim: str, dataset: str | None, held: bool | None, detail: str) -> dict[str, Any]:
    return {"claim": claim, "dataset": dataset, "held": held, "detail": detail}


def evaluate_expectations(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each expectation of the benchmark brief and the S3T notes (§8.3, §9), computed from the numbers."""
    cfg = results["config"]
    m, big_l = cfg["shards"], cfg["slices"]
    top = max(cfg["budgets"])
    top_key = f"s3t-b{top}"
    out = []
    for name, ds in results["datasets"].items():
        sm = ds["summary"]["strategies"]
        lat = sm[top_key]["latency"]
        ratios = ds["summary"]["ratios"]
        for what, k in (("deactivation (plan + swap)", "deactivation_p50_ms"), ("end-to-end", "end_to_end_p50_ms")):
            v = lat[k]
            out.append(
                _expect(
                    f"S3T (B={top}) p50 deletion latency, {what}, under 1 ms",
                    name,
                    None if v is None else v < 1.0,
                    f"p50 = {_fmt_ms(v)} ms",
                )
            )
        for what, k in (("deactivation", "vs_deactivation"), ("end-to-end", "vs_end_to_end")):
            r = ratios["retrain"][k]
            out.append(
                _expect(
                    f"S3T (B={top}) ≥ 10⁴× faster than full retraining ({what} vs Retrain end-to-end p50)",
                    name,
                    None if r is None else r >= 1e4,
                    f"ratio = {_fmt_ratio(r)}",
                )
            )
            r = ratios["sisa-retrain"][k]
            out.append(
                _expect(
                    f"SISA-retrain ≥ 100× slower than S3T (B={top}) ({what}; notes §8.3 #6)",
                    name,
                    None if r is None else r >= 100,
                    f"ratio = {_fmt_ratio(r)}",
                )
            )
        cps = {c["name"]: c for c in sm[top_key]["at_checkpoints"]}
        rb = {c["name"]: c for c in sm["sisa-rollback"]["at_checkpoints"]}
        b1 = {c["name"]: c for c in sm.get("s3t-b1", {"at_checkpoints": []})["at_checkpoints"]}
        half = "δ_SISA/2"
        a, b = cps[half]["mean"], rb[half]["mean"]
        out.append(
            _expect(
                f"S3T (B={top}) above SISA-rollback after δ_SISA/2 deletions (r = {cps[half]['r']})",
                name,
                None if a is None or b is None else a > b,
                f"{_fmt_acc(a)} vs {_fmt_acc(b)}",
            )
        )
        later = [n for n in cps if n not in ("0", "δ_SISA/4")]
        pairs = [(n, cps[n]["mean"], rb[n]["mean"]) for n in later]
        ok = all(x is not None and y is not None and x >= y for _, x, y in pairs)
        out.append(
            _expect(
                f"S3T (B={top}) ≥ SISA-rollback at every checkpoint r ≥ δ_SISA/2 (equal at chance once both failed)",
                name,
                ok,
                "; ".join(f"{n}: {_fmt_acc(x)} vs {_fmt_acc(y)}" for n, x, y in pairs),
            )
        )
        if b1:
            pairs = [(n, cps[n]["mean"], b1[n]["mean"]) for n in cps if n != "0"]
            ok = all(x is not None and y is not None and x >= y for _, x, y in pairs)
            out.append(
                _expect(
                    f"S3T (B={top}) ≥ S3T (B=1) at every checkpoint r > 0 (graceful degradation)",
                    name,
                    ok,
                    "; ".join(f"{n}: {_fmt_acc(x)} vs {_fmt_acc(y)}" for n, x, y in pairs),
                )
            )
        s3t0 = sm[top_key]["accuracy0_mean"]
        for other in ("sisa-retrain", "retrain"):
            o = sm[other]["accuracy0_mean"]
            gap = None if s3t0 is None or o is None else (s3t0 - o) * 100
            out.append(
                _expect(
                    f"S3T (B={top}) within 2 pp of (or above) {sm[other]['label']} at 0 deletions",
                    name,
                    None if gap is None else abs(gap) <= 2.0 or gap > 0,
                    f"{_fmt_acc(s3t0)} vs {_fmt_acc(o)} ({gap:+.2f} pp)" if gap is not None else "n/a",
                )
            )
        sizes = {b: sm[f"s3t-b{b}"]["storage_bytes"] for b in cfg["budgets"]}
        base = sizes[min(sizes)] / min(sizes)
        worst = max(abs(v / (base * b) - 1) for b, v in sizes.items())
        out.append(
            _expect(
                "S3T checkpoint storage linear in B",
                name,
                worst <= 0.01,
                ", ".join(f"B={b}: {v} B ({v / sizes[min(sizes)]:.2f}×)" for b, v in sizes.items()),
            )
        )
    rows = results["deletion_rate"]
    bad = [r for r in rows if r["relative_error"] > 0.03]
    out.append(
        _expect(
            f"simulated δ within ±3 % of m·L·H_(mB') for every B (m={m}, L={big_l}, {rows[0]['streams']} streams)",
            None,
            not bad,
            "worst: "
            + ", ".join(
                f"B={r['budget']} {100 * r['relative_error']:.2f} %"
                for r in sorted(rows, key=lambda r: -r["relative_error"])[:2]
            ),
        )
    )
    at_l = [r for r in rows if r["budget"] >= big_l]
    if len(at_l) > 1:
        ref = theoretical_deletion_rate(m, big_l, big_l)
        flat = all(abs(r["mean"] - ref) / ref <= 0.03 for r in at_l)
        out.append(
            _expect(
                f"δ stops growing at B = L = {big_l} (simulated δ for B ≥ L within ±3 % of the B=L value)",
                None,
                flat,
                ", ".join(f"B={r['budget']}: {r['mean']:.1f}" for r in at_l),
            )
        )
    grow = [r["mean"] for r in rows if r["budget"] <= big_l]
    out.append(
        _expect(
            "δ increases with B up to L",
            None,
            all(b > a for a, b in itertools.pairwise(grow)),
            " < ".join(f"{v:.1f}" for v in grow),
        )
    )
    return out


# ------------------------------------------------------------------------------------------------ formatting


def _fmt_ms(v: float | None) -> str:
    if v is None:
        return "—"
    if v < 1:
        return f"{v:.3f}"
    if v < 100:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def _fmt_ratio(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.0f}×" if v >= 10 else f"{v:.1f}×"


def _fmt_acc(v: float | None, std: float | None = None) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if std is None else f"{v:.3f} ± {std:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(results: dict[str, Any]) -> str:
    """The benchmark's Markdown report (printed at the end and written to ``results.md``)."""
    cfg = results["config"]
    m, big_l = cfg["shards"], cfg["slices"]
    top = max(cfg["budgets"])
    names = list(results["datasets"])
    d_sisa = theoretical_deletion_rate(m, big_l, 1)
    d_s3t = theoretical_deletion_rate(m, big_l, top)
    sisa_epochs = max(1, round(2 * cfg["epochs"] / (big_l + 1)))
    parts = [
        "# Exact unlearning benchmark",
        "",
        f"m = {m} shards, L = {big_l} slices, S3T budgets B = {', '.join(map(str, cfg['budgets']))} "
        f"(cyclic rotation, Alg. 1); {cfg['epochs']} epochs per S3T stage and per Retrain fit, SISA e' = 2e/(L+1) = "
        f"{sisa_epochs} per stage; backbone pretrained on the public split and frozen; LoRA rank 4. "
        f"{cfg['streams']} deletion stream(s) per dataset (stream s trains every strategy with seed "
        f"{cfg['seed']}+s). δ_SISA = m·L·H_m = {d_sisa:.1f}, δ_S3T(B={top}) = m·L·H_(m·min(B,L)) = {d_s3t:.1f}. "
        f"Wall time {results['wall_seconds']:.0f} s on {results['machine']['cpus']} CPU(s), 1 torch thread "
        f"(load average {results['machine']['load_start']:.2f} at start, {results['machine']['load_end']:.2f} at end; "
        f"the CPU may be shared). Git revision {results['git_revision'] or 'unknown'}"
        f"{' — quick run' if cfg['quick'] else ''}.",
        "",
        "## 1. Accuracy at 0 deletions (test, mean ± std over training seeds)",
        "",
    ]
    specs = list(results["datasets"][names[0]]["strategies"])
    rows = [
        ["backbone only (public data, frozen)"]
        + [
            _fmt_acc(
                results["datasets"][n]["summary"]["backbone_accuracy_mean"],
                results["datasets"][n]["summary"]["backbone_accuracy_std"],
            )
            for n in names
        ]
    ]
    for key in specs:
        rows.append(
            [results["datasets"][names[0]]["strategies"][key]["label"]]
            + [
                _fmt_acc(
                    results["datasets"][n]["summary"]["strategies"][key]["accuracy0_mean"],
                    results["datasets"][n]["summary"]["strategies"][key]["accuracy0_std"],
                )
                for n in names
            ]
        )
    parts += [_table(["strategy", *names], rows), ""]
    parts += [
        "Aggregation: S3T and Retrain average logits; SISA takes a majority vote (the reference code's default). "
        "SISA-rollback and SISA-retrain are the same model before any deletion.",
        "",
        "## 2. Accuracy vs number of deletions (mean over streams)",
        "",
        "Uniformly random sample deletions (one stream = a seeded permutation of the deletable ids, shared by every "
        "strategy). S3T and SISA-rollback never retrain: when every shard is dead the model serves nothing "
        "(RetrainRequiredError, a *failure*), counted at chance accuracy and marked `†k/n` (k of n streams failed). "
        + (
            "SISA-retrain and Retrain retrain on every single-id request up to r = δ_S3T; later points are not "
            "measured (—)."
            if cfg["retrain_mode"] == "every"
            else f"SISA-retrain and Retrain: the first {cfg['retrain_singles']} deletions are single requests "
            "(latency samples), then one **batched** forget request per checkpoint (retraining is exact, so the "
            "model after a batch equals the model after the same deletions one by one)."
        ),
        "",
    ]
    for n in names:
        ds = results["datasets"][n]
        cps = ds["checkpoints"]
        rows = []
        for key in specs:
            st = ds["summary"]["strategies"][key]
            cells = []
            for c in st["at_checkpoints"]:
                cell = _fmt_acc(c["mean"], c["std"] if c["n"] > 1 else None)
                if c["dead"]:
                    cell += f" †{c['dead']}/{c['n']}"
                cells.append(cell)
            dead = [d for d in st["all_dead_at"] if d is not None]
            if ds["strategies"][key]["behaviour"] == BOOKKEEPING:
                fail_txt = ", ".join(str(d) for d in dead) or "—"
                if st["censored"]:
                    fail_txt += f" (+{st['censored']} alive at cap {ds['bookkeeping_cap']})"
            else:
                fail_txt = "never (retrains)"
            rows.append([st["label"], *cells, fail_txt])
        header = [
            "strategy",
            *[f"r={c['r']} ({c['name']})" if c["name"] != "0" else "r=0" for c in cps],
            "all shards dead at r",
        ]
        parts += [
            f"**{n}** (chance = {ds['chance']:.3f}; {ds['sizes']['train']} deletable, "
            f"{ds['sizes']['test']} test, {ds['sizes']['public']} public)",
            "",
            _table(header, rows),
            "",
        ]
    parts += ["## 3. Deletion rate δ (requests until every shard is dead)", ""]
    rate = results["deletion_rate"]
    base = rate[0]["mean"]
    model_dead: dict[int, list[int]] = {}
    for ds in results["datasets"].values():
        for b in cfg["budgets"]:
            model_dead.setdefault(b, []).extend(
                d for d in ds["summary"]["strategies"][f"s3t-b{b}"]["all_dead_at"] if d is not None
            )
    rows = []
    for r in rate:
        md = model_dead.get(r["budget"], [])
        rows.append(
            [
                str(r["budget"]),
                str(r["effective_budget"]),
                f"{r['theory']:.2f}",
                f"{r['mean']:.2f} ± {r['stderr']:.2f}",
                f"{100 * (r['mean'] - r['theory']) / r['theory']:+.2f} %",
                "yes" if r["relative_error"] <= 0.03 else "no",
                f"{r['mean'] / base:.2f}×",
                f"{np.mean(md):.1f} (n={len(md)})" if md else "—",
            ]
        )
    parts += [
        f"Simulation: {rate[0]['streams']} streams per B of uniform (shard, slice) requests on the S3T bookkeeping "
        f"code (cyclic orders), m = {m}, L = {big_l}; theory = m·L·H_(m·min(B,L)) (Lemma 1). The last column is the "
        "mean r at which the *trained* S3T models' streams (uniform sample deletions without replacement) killed "
        "every shard, over datasets × streams.",
        "",
        _table(
            ["B", "B'", "theory", "simulated (± s.e.)", "error", "within ±3 %", "gain vs B=1", "model streams"], rows
        ),
        "",
        "## 4. Deletion latency (single-id requests, ms)",
        "",
        "Deactivation = plan + in-memory swap (`timings_ms`): the served model is compliant at that point. "
        "End-to-end = the receipt's `latency_ms`: request record, plan, durable SQLite commit, swap, retraining "
        "(SISA-retrain, Retrain), purge of retired checkpoint files and of the held rows, receipt. Pooled over "
        "streams; S3T/SISA-rollback requests up to the one that killed the last shard.",
        "",
    ]
    for n in names:
        sm = results["datasets"][n]["summary"]
        rows = []
        for key in specs:
            lt = sm["strategies"][key]["latency"]
            rows.append(
                [
                    sm["strategies"][key]["label"],
                    str(lt["n"]),
                    _fmt_ms(lt["deactivation_p50_ms"]),
                    _fmt_ms(lt["deactivation_p95_ms"]),
                    _fmt_ms(lt["end_to_end_p50_ms"]),
                    _fmt_ms(lt["end_to_end_p95_ms"]),
                    _fmt_ms(lt["commit_p50_ms"]),
                    _fmt_ms(lt["purge_p50_ms"]),
                    _fmt_ms(lt["retrain_p50_ms"]),
                ]
            )
        parts += [
            f"**{n}**",
            "",
            _table(
                [
                    "strategy",
                    "n",
                    "deact. p50",
                    "deact. p95",
                    "end-to-end p50",
                    "end-to-end p95",
                    "commit p50",
                    "purge p50",
                    "retrain p50",
                ],
                rows,
            ),
            "",
        ]
    rows = []
    for n in names:
        ra = results["datasets"][n]["summary"]["ratios"]
        rows.append(
            [
                n,
                _fmt_ratio(ra["retrain"]["vs_deactivation"]),
                _fmt_ratio(ra["retrain"]["vs_end_to_end"]),
                _fmt_ratio(ra["sisa-retrain"]["vs_deactivation"]),
                _fmt_ratio(ra["sisa-retrain"]["vs_end_to_end"]),
            ]
        )
    parts += [
        f"Speed-ups, same run: end-to-end p50 of Retrain / SISA-retrain divided by S3T (B={top})'s deactivation "
        "p50 or end-to-end p50.",
        "",
        _table(
            [
                "dataset",
                "Retrain / S3T deact.",
                "Retrain / S3T end-to-end",
                "SISA-retrain / S3T deact.",
                "SISA-retrain / S3T end-to-end",
            ],
            rows,
        ),
        "",
        "## 5. Training time and storage",
        "",
        "`fit_seconds_` (backbone pretraining on the public split included), mean ± std over training seeds; "
        "storage = bytes of the active (LoRA + head) checkpoints.",
        "",
    ]
    rows = []
    for key in specs:
        row = [results["datasets"][names[0]]["summary"]["strategies"][key]["label"]]
        for n in names:
            st = results["datasets"][n]["summary"]["strategies"][key]
            row.append(f"{st['fit_seconds_mean']:.2f} ± {st['fit_seconds_std']:.2f}")
        st0 = results["datasets"][names[0]]["summary"]["strategies"][key]
        row += [str(st0["checkpoints"]), f"{st0['storage_bytes']:,}"]
        rows.append(row)
    parts += [_table(["strategy", *[f"fit s ({n})" for n in names], "checkpoints", "storage bytes"], rows), ""]
    rows = []
    s1 = results["datasets"][names[0]]["summary"]["strategies"][f"s3t-b{min(cfg['budgets'])}"]["storage_bytes"]
    for b in cfg["budgets"]:
        st = results["datasets"][names[0]]["summary"]["strategies"][f"s3t-b{b}"]
        sim = next((r for r in rate if r["budget"] == b), None)
        rows.append(
            [
                str(b),
                f"{st['storage_bytes']:,}",
                f"{st['storage_bytes'] / s1:.2f}×",
                f"{theoretical_deletion_rate(m, big_l, b):.1f}",
                f"{sim['mean']:.1f}" if sim else "—",
            ]
        )
    parts += [
        f"S3T storage vs B (Table 3 style; storage is data-independent, shown for {names[0]}):",
        "",
        _table(["B", "storage bytes", "× B=min", "δ theory", "δ simulated"], rows),
        "",
    ]
    parts += ["## Expectations", ""]
    rows = [
        [
            e["claim"],
            e["dataset"] or "—",
            {True: "held", False: "**did not hold**", None: "n/a"}[e["held"]],
            e["detail"],
        ]
        for e in results["expectations"]
    ]
    parts += [_table(["expectation", "dataset", "result", "measured"], rows), ""]
    parts += [f"Harmonic numbers: H_{m} = {harmonic(m):.4f}, H_{m * big_l} = {harmonic(m * big_l):.4f}.", ""]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------------ plots


def _figure(width: float = 7.0, height: float = 4.5) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def _mean_curve(runs: list[dict[str, Any]], chance: float, upto: int) -> tuple[list[int], list[float]]:
    rs: set[int] = set()
    for run in runs:
        rs.update(r for r in run["curve"]["r"] if r <= upto)
        if run["all_dead_at"] is not None:
            rs.update(range(run["all_dead_at"], upto + 1))
    xs, ys = [], []
    for r in sorted(rs):
        vals = [_acc_at(run, r, chance) for run in runs]
        if all(v is not None for v in vals):
            xs.append(r)
            ys.append(float(np.mean([v[0] for v in vals if v is not None])))
    return xs, ys


def plot_accuracy(name: str, ds: dict[str, Any], cfg: dict[str, Any], path: Path) -> Path:
    """Accuracy vs deletions, one line per strategy, with the δ checkpoints and chance marked."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    chance = ds["chance"]
    book = [run for st in ds["strategies"].values() if st["behaviour"] == BOOKKEEPING for run in st["runs"]]
    upto = max([run["stopped_at"] for run in book] + [c["r"] for c in ds["checkpoints"]])
    for key, st in ds["strategies"].items():
        xs, ys = _mean_curve(st["runs"], chance, upto)
        batched = st["behaviour"] == RETRAINING and cfg["retrain_mode"] == "checkpoints"
        label = st["label"] + (" (batched at checkpoints)" if batched else "")
        style = {"marker": "o", "linestyle": "--"} if batched else {"linewidth": 1.6}
        if key.startswith("s3t") or key == "sisa-rollback":
            ax.step(xs, ys, where="post", label=label, linewidth=1.6)
        else:
            ax.plot(xs, ys, label=label, **style)
    for c in ds["checkpoints"][1:]:
        ax.axvline(c["r"], color="grey", linestyle=":", linewidth=0.8)
        ax.text(
            c["r"],
            0.5,
            c["name"],
            rotation=90,
            va="center",
            ha="right",
            fontsize=7,
            color="grey",
            transform=ax.get_xaxis_transform(),
        )
    ax.axhline(chance, color="black", linestyle=":", linewidth=0.8, label="chance (failure)")
    ax.set_xlabel("number of deletions r")
    ax.set_ylabel("test accuracy (mean over streams)")
    ax.set_title(f"{name}: accuracy vs deletions (m={cfg['shards']}, L={cfg['slices']})")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_deletion_rate(rows: list[dict[str, Any]], cfg: dict[str, Any], path: Path) -> Path:
    """Simulated δ (± 1.96 s.e.) against B, with Lemma 1's m·L·H_(m·min(B,L))."""
    fig = _figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    bs = [r["budget"] for r in rows]
    ax.plot(bs, [r["theory"] for r in rows], "-", color="black", label="theory m·L·H(m·min(B,L))")
    ax.errorbar(
        bs,
        [r["mean"] for r in rows],
        yerr=[1.96 * r["stderr"] for r in rows],
        fmt="o",
        capsize=3,
        label=f"simulation ({rows[0]['streams']} streams)",
    )
    ax.axvline(cfg["slices"], color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("budget B (sequences per shard)")
    ax.set_ylabel("δ: requests until every shard is dead")
    ax.set_title(f"Deletion rate (m={cfg['shards']}, L={cfg['slices']}, cyclic)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_latency(results: dict[str, Any], path: Path) -> Path:
    """p50 latency bars (p95 as whiskers) on a log axis, one panel per dataset."""
    names = list(results["datasets"])
    fig = _figure(5.0 * len(names), 4.5)
    for i, n in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        labels, p50, p95 = [], [], []
        for key, st in results["datasets"][n]["summary"]["strategies"].items():
            lt = st["latency"]
            if st["latency"]["n"] == 0:
                continue
            if results["datasets"][n]["strategies"][key]["behaviour"] == BOOKKEEPING:
                labels.append(f"{st['label']}\ndeactivation")
                p50.append(lt["deactivation_p50_ms"])
                p95.append(lt["deactivation_p95_ms"])
            labels.append(f"{st['label']}\nend-to-end")
            p50.append(lt["end_to_end_p50_ms"])
            p95.append(lt["end_to_end_p95_ms"])
        ys = np.arange(len(labels))
        err = np.array([[0.0] * len(p50), [max(b - a, 0.0) for a, b in zip(p50, p95, strict=True)]])
        ax.barh(ys, p50, xerr=err, capsize=3, color="tab:blue", alpha=0.8)
        ax.set_yticks(ys, labels, fontsize=7)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("deletion latency, ms (bar p50, whisker p95)")
        ax.set_title(n)
    fig.tight_layout()
    fig.savefig(path)
    return path


# ------------------------------------------------------------------------------------------------ entry


def run_exact_bench(out_dir: str | Path, cfg: ExactBenchConfig | None = None) -> dict[str, Any]:
    """Run the benchmark and write ``results.json``, ``results.md`` and PNGs into ``out_dir``.

    Returns the results dictionary, with the Markdown report under ``"markdown"`` and the written files
    under ``"files"``.
    """
    cfg = cfg or ExactBenchConfig()
    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    RunContext(seed=cfg.seed, threads=1)
    specs = strategy_specs(cfg)
    progress = _Progress(cfg.progress, len(cfg.datasets) * cfg.streams * len(specs) + 1)
    work = Path(tempfile.mkdtemp(prefix="unlearnkit-bench-exact-"))
    datasets: dict[str, Any] = {}
    try:
        with progress.running():
            rate = _simulate(cfg, progress)
            for name in cfg.datasets:
                datasets[name] = _run_dataset(name, cfg, work, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    top_key = f"s3t-b{max(cfg.budgets_)}"
    for ds in datasets.values():
        ds["summary"]["ratios"] = latency_ratios(ds["summary"], top_key)
    config = asdict(cfg)
    config["budgets"] = list(cfg.budgets_)
    config["sim_budgets"] = cfg.sim_budgets_
    config.pop("progress", None)
    results: dict[str, Any] = {
        "benchmark": "exact",
        "config": config,
        "seeds": {
            "data_split": cfg.seed,
            "training": [cfg.seed + s for s in range(cfg.streams)],
            "deletion_streams": {n: d["stream_seeds"] for n, d in datasets.items()},
            "simulation": derive_seed(cfg.seed, SIM_SEED_TAG),
            "assignment_salt": "bench-exact-<training seed>",
        },
        "versions": versions(),
        "git_revision": git_revision(),
        "started_at": started_at,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": 1,
            "load_start": load_start,
            "load_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
        },
        "definitions": {
            "failure": "every shard dead (no exact model left): predict raises RetrainRequiredError; counted at "
            "chance accuracy 1/C in means, null in the raw curves",
            "delta": "expected requests until every shard is dead, m·L·H_(m·min(B,L)) (S3T Lemma 1); δ_SISA is B=1",
            "deactivation_ms": "plan_ms + swap_ms from the receipt's timings_ms",
            "end_to_end_ms": "receipt.latency_ms (commit, retraining and purge included)",
            "retrain_curve": cfg.retrain_mode,
            "aggregation": "S3T/Retrain: logit mean; SISA: majority vote",
            "sequence_selection": "cyclic",
        },
        "deletion_rate": rate,
        "datasets": datasets,
        "wall_seconds": time.perf_counter() - started,
    }
    owners = owner_study(OwnerStudyConfig(cfg.shards, cfg.slices, cfg.budgets_, seed=cfg.seed))
    results["owner_deletions"] = owners
    results["expectations"] = evaluate_expectations(results)
    markdown = render_markdown(results) + "\n\n" + render_owner_markdown(owners)
    files = [out / "results.json", out / "results.md"]
    (out / "results.json").write_text(json.dumps(results, indent=2, default=_json_default))
    (out / "results.md").write_text(markdown + "\n")
    for n, ds in datasets.items():
        files.append(plot_accuracy(n, ds, config, out / f"accuracy_vs_deletions_{n}.png"))
    files.append(plot_deletion_rate(rate, config, out / "deletion_rate.png"))
    files.append(plot_latency(results, out / "latency.png"))
    files.extend(plot_owner_study(owners, out / "owner_deletions"))
    results["markdown"] = markdown
    results["files"] = [str(f) for f in files]
    return results


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


__all__ = [
    "ExactBenchConfig",
    "StrategySpec",
    "checkpoints",
    "evaluate_expectations",
    "latency_ratios",
    "plot_accuracy",
    "plot_deletion_rate",
    "plot_latency",
    "render_markdown",
    "run_exact_bench",
    "strategy_specs",
    "summarize_dataset",
]
