"""The papers' directions of result, decided from a benchmark run's numbers (never hard-coded).

A :class:`Claim` has up to three parts, and its verdict needs every part it has:

- ``test(m)`` — decided **per seed** (``m(method, metric)`` reads that seed's record); the part holds when it
  holds on a strict majority of the block's seeds. The report shows how many seeds agreed ("2/3").
- ``spread(s)`` — a statement about the spread over seeds (``s(method, metric)`` is the standard deviation);
  it needs at least two seeds.
- ``time(t)`` — a statement about cost, decided from ``t(method)``: the median of at least
  :data:`MIN_REPEATS` timed repeats of each method in one run (ratios of seconds measured side by side, never
  a single noisy RTE).

A part that cannot be decided (a missing method, a NaN, too few seeds or repeats, an invalid scenario) makes
the verdict ``None``. Metric values are deterministic for a seed, so re-running a benchmark gives the same
seed counts; only the time parts depend on the machine.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from unlearnkit.eval.report import ResultRecord, aggregate

MIN_REPEATS = 5
ALL = "*"


@dataclass(frozen=True)
class Claim:
    """A paper's qualitative result for ``method`` in ``scenarios`` (see the module docstring)."""

    method: str
    scenarios: tuple[str, ...]
    text: str
    needs: tuple[str, ...]
    test: Callable[[Callable[[str, str], float]], bool] | None = None
    spread: Callable[[Callable[[str, str], float]], bool] | None = None
    time: Callable[[Callable[[str], float]], bool] | None = None
    timed: tuple[str, ...] = ()

    @property
    def uses_std(self) -> bool:
        return self.spread is not None


def claims() -> list[Claim]:
    return [
        Claim("ft", ("class",), "FT fails to forget classes (UA ≥ 50 below Retrain)", ("ft",),
              test=lambda m: m("ft", "ua") <= m("retrain", "ua") - 50),
        Claim("ft", ("random",), "FT under-forgets (UA below Retrain's)", ("ft",),
              test=lambda m: m("ft", "ua") < m("retrain", "ua")),
        Claim("l1_sparse", ("class", "random"), "ℓ1-sparse closes FT's gap (lower Avg. Gap, higher UA)",
              ("l1_sparse", "ft"),
              test=lambda m: m("l1_sparse", "avg_gap") < m("ft", "avg_gap") and m("l1_sparse", "ua") >= m("ft", "ua")),
        Claim("ga", ("class",), "GA forgets (UA above FT's) but is unstable (Avg. Gap std above FT's)", ("ga", "ft"),
              test=lambda m: m("ga", "ua") > m("ft", "ua"),
              spread=lambda s: s("ga", "avg_gap") > s("ft", "avg_gap")),
        Claim("neggrad_plus", ("class", "random"), "NegGrad+'s retain term beats plain GA (lower Avg. Gap)",
              ("neggrad_plus", "ga"), test=lambda m: m("neggrad_plus", "avg_gap") <= m("ga", "avg_gap")),
        Claim("random_label", ("class",), "RL is Retrain-like class-wise (Avg. Gap ≤ 2)", ("random_label",),
              test=lambda m: m("random_label", "avg_gap") <= 2),
        Claim("random_label", ("random",), "RL's MIA-Efficacy overshoots Retrain's", ("random_label",),
              test=lambda m: m("random_label", "mia_efficacy") > m("retrain", "mia_efficacy")),
        Claim("salun", ("class", "random"), "SalUn's Avg. Gap ≤ RL's, with lower seed std", ("salun", "random_label"),
              test=lambda m: m("salun", "avg_gap") <= m("random_label", "avg_gap"),
              spread=lambda s: s("salun", "avg_gap") <= s("random_label", "avg_gap")),
        Claim("ssd", ("class", "subclass"), "SSD near Retrain (Avg. Gap ≤ 5) and ≥ 5× faster, no retain pass",
              ("ssd",), test=lambda m: m("ssd", "avg_gap") <= 5,
              time=lambda t: t("retrain") / t("ssd") >= 5, timed=("ssd", "retrain")),
        Claim("lfssd", ("class",), "LFSSD ≈ SSD without labels (Avg. Gaps within 5)", ("lfssd", "ssd"),
              test=lambda m: abs(m("lfssd", "avg_gap") - m("ssd", "avg_gap")) <= 5),
        Claim("iu", ("class",), "IU forgets classes (UA ≥ 90)", ("iu",), test=lambda m: m("iu", "ua") >= 90),
        Claim("fisher", ("class",), "Fisher forgetting is the slowest approximate method", ("fisher",),
              time=lambda t: t("fisher") >= t(ALL), timed=(ALL,)),
        Claim("iau", ("class", "random"), "IAU is ≥ 20× faster than Retrain", ("iau",),
              time=lambda t: t("retrain") / t("iau") >= 20, timed=("iau", "retrain")),
        Claim("bad_teacher", ("class",), "Bad Teacher is Retrain-like at small cost (Avg. Gap ≤ 2, faster)",
              ("bad_teacher",), test=lambda m: m("bad_teacher", "avg_gap") <= 2,
              time=lambda t: t("bad_teacher") < t("retrain"), timed=("bad_teacher", "retrain")),
        Claim("amnesiac", ("class",), "Amnesiac is Retrain-like class-wise (Avg. Gap ≤ 2)", ("amnesiac",),
              test=lambda m: m("amnesiac", "avg_gap") <= 2),
        Claim("unsir", ("class",), "UNSIR forgets the class (UA ≥ 90) after impair/repair", ("unsir",),
              test=lambda m: m("unsir", "ua") >= 90),
        Claim("scrub", ("class", "random"), "SCRUB is closer to Retrain than FT (lower Avg. Gap)", ("scrub", "ft"),
              test=lambda m: m("scrub", "avg_gap") < m("ft", "avg_gap")),
        Claim("boundary_expand", ("class",), "Boundary Expanding forgets the class (UA ≥ 90)", ("boundary_expand",),
              test=lambda m: m("boundary_expand", "ua") >= 90),
        Claim("boundary_shrink", ("class",), "Boundary Shrink forgets only partly (UA below Retrain's)",
              ("boundary_shrink",), test=lambda m: m("boundary_shrink", "ua") < m("retrain", "ua")),
        Claim("laf", ("class",), "LAF forgets without labels (UA ≥ 80, RA within 10 of Retrain)", ("laf",),
              test=lambda m: m("laf", "ua") >= 80 and m("laf", "ra") >= m("retrain", "ra") - 10),
        Claim("concept", ("class",), "Concept-aware poisoning drives UA to ~100 (≥ 95)", ("concept",),
              test=lambda m: m("concept", "ua") >= 95),
    ]  # fmt: skip


def timed_methods(scenario: str, present: Sequence[str]) -> list[str]:
    """The methods the time parts of ``scenario``'s claims read (every present method for "slowest" claims)."""
    out: set[str] = set()
    for claim in claims():
        if scenario in claim.scenarios and claim.time is not None and claim.method in present:
            out |= set(present) if ALL in claim.timed else set(claim.timed)
    return sorted(out)


def _safe(fn: Callable[[], bool]) -> bool | None:
    try:
        verdict = fn()
    except (KeyError, ValueError, TypeError, ZeroDivisionError):
        return None
    return None if verdict is None else bool(verdict)


def evaluate_claims(
    records: Sequence[ResultRecord],
    valid: dict[tuple[str, str], bool],
    timings: dict[tuple[str, str], dict[str, list[float]]] | None = None,
) -> list[dict[str, Any]]:
    """Decide every claim whose methods ran, per (dataset, scenario); ``reproduced`` is None when undecidable.

    Each row has ``seeds`` (the block's seeds), ``agreed`` (seeds on which the per-seed part held, or None)
    and ``basis`` (what the verdict rests on, in words).
    """
    timings = timings or {}
    agg = aggregate(records, ["ua", "avg_gap"])
    by_seed: dict[tuple[str, str, int], dict[str, dict[str, float]]] = {}
    for r in records:
        by_seed.setdefault((r.dataset, r.scenario, r.seed), {})[r.method] = r.metrics
    out = []
    for dataset, scenario in sorted({(r.dataset, r.scenario) for r in records}):
        present = {meth for (d, sc, meth) in agg if (d, sc) == (dataset, scenario)}
        approx = sorted(present - {"original", "retrain"})
        seeds = sorted({s for (d, sc, s) in by_seed if (d, sc) == (dataset, scenario)})
        for claim in claims():
            if scenario not in claim.scenarios or not set(claim.needs) <= present:
                continue
            n = sum(1 for s in seeds if claim.method in by_seed[(dataset, scenario, s)])
            parts: list[bool | None] = []
            basis: list[str] = []
            agreed: int | None = None
            if claim.test is not None:
                verdicts = []
                for s in seeds:
                    rows = by_seed[(dataset, scenario, s)]
                    if claim.method not in rows:
                        continue

                    def m(method: str, metric: str, _rows: dict = rows) -> float:
                        value = _rows.get(method, {}).get(metric, math.nan)
                        if math.isnan(value):
                            raise ValueError(f"{method}.{metric} is missing")
                        return value

                    verdicts.append(_safe(lambda c=claim, f=m: c.test(f)))  # type: ignore[misc]
                decided = [v for v in verdicts if v is not None]
                agreed = sum(decided)
                parts.append(None if not decided else agreed * 2 > n)
                basis.append(f"{agreed}/{n} seeds")
            if claim.spread is not None:

                def sd(method: str, metric: str, _d: str = dataset, _s: str = scenario) -> float:
                    value = agg.get((_d, _s, method), {}).get(metric, (math.nan, math.nan))[1]
                    if math.isnan(value):
                        raise ValueError(f"{method}.{metric} has no spread")
                    return value

                parts.append(None if n < 2 else _safe(lambda c=claim, f=sd: c.spread(f)))  # type: ignore[misc]
                basis.append(f"std over {n} seeds")
            if claim.time is not None:
                block = timings.get((dataset, scenario), {})

                def t(method: str, _block: dict = block, _approx: list = approx) -> float:
                    names = _approx if method == ALL else [method]
                    medians = []
                    for name in names:
                        runs = _block.get(name, [])
                        if len(runs) < MIN_REPEATS:
                            raise ValueError(f"{name} has {len(runs)} timed repeats (< {MIN_REPEATS})")
                        medians.append(statistics.median(runs))
                    return max(medians)

                parts.append(_safe(lambda c=claim, f=t: c.time(f)))  # type: ignore[misc]
                reps = min((len(v) for v in block.values()), default=0)
                basis.append(f"median of {reps} timed repeats")
            verdict: bool | None = None if any(p is None for p in parts) else all(parts)
            if not valid.get((dataset, scenario), True):
                verdict = None
            out.append(
                {
                    "dataset": dataset,
                    "scenario": scenario,
                    "method": claim.method,
                    "claim": claim.text,
                    "reproduced": verdict,
                    "seeds": n,
                    "agreed": agreed,
                    "basis": ", ".join(basis),
                }
            )
    return out


__all__ = ["ALL", "MIN_REPEATS", "Claim", "claims", "evaluate_claims", "timed_methods"]
