"""MUSE's protocols over several runs: the stop rule (model selection), scalability (C5), sustainability (C6).

- :func:`stop_index`: MUSE's selection rule (``jaechan-repo/muse_bench knowmem/scripts/get_best_forget_quality.py``):
  the first checkpoint whose KnowMem on D_f is ≤ the retrained model's, else the last. Evaluated here on the
  *selection* QA (``knowmem_select``), not on the reported QA (MUSE's mild selection bias is not copied).
- :func:`run_with_checkpoints`: runs a gradient method, evaluating chosen metrics every ``every`` steps
  (a checkpoint), keeps the model at the stop point, and optionally runs on past it.
- :func:`alpha_sweep`: the stop rule for Task Vector / WHP over α ∈ {1, 2, 4, …} (MUSE's sweep).
- :func:`scalability` / :func:`sustainability`: utility after unlearning nested forget sets of growing size
  from the target, and after sequential requests each starting from the previous result.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from unlearnkit.context import RunContext
from unlearnkit.llm.data import LMEvalSet, LMSplit
from unlearnkit.llm.eval.inputs import evaluate_lm


def stop_index(knowmem_f: Sequence[float], reference: float) -> int:
    """Index of the first checkpoint with KnowMem_f ≤ ``reference`` (MUSE's rule), else the last index."""
    if not knowmem_f:
        raise ValueError("no checkpoints")
    for i, v in enumerate(knowmem_f):
        if v <= reference:
            return i
    return len(knowmem_f) - 1


@dataclass
class CheckpointRun:
    """Per-checkpoint metrics, the chosen (stop) checkpoint and its model."""

    curve: list[dict[str, Any]]
    stop: int
    stop_model: Any
    final_model: Any
    reached: bool
    seconds_to_stop: float
    result: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stop_step(self) -> int:
        return int(self.curve[self.stop]["step"])


def run_with_checkpoints(
    method: Any,
    model: Any,
    split: LMSplit,
    evalset: LMEvalSet,
    *,
    reference_select: float,
    every: int,
    ctx: RunContext,
    metrics: Sequence[str] = ("knowmem_select",),
    reference: Any = None,
    reference_logs: dict[str, dict[str, Any]] | None = None,
    past_stop: int | None = 0,
) -> CheckpointRun:
    """Run ``method`` with a checkpoint every ``every`` steps; stop ``past_stop`` checkpoints after the stop rule
    fires (``None``: run the whole budget). The curve's first row is step 0 (the input model)."""
    import time

    names = list(dict.fromkeys(["knowmem_select", *metrics]))

    def measure(step: int, m: Any) -> dict[str, Any]:
        row = evaluate_lm(
            m, split.tokenizer, evalset, reference=reference, reference_logs=reference_logs, metrics=names
        )
        return {"step": step, **row}

    curve = [measure(0, model)]
    state: dict[str, Any] = {"stop": 0 if curve[0]["knowmem_select"] <= reference_select else None}
    state["model"] = copy.deepcopy(model) if state["stop"] is not None else None
    start = time.perf_counter()
    state["seconds"] = 0.0 if state["stop"] is not None else None
    eval_seconds = [0.0]

    def callback(step: int, m: Any) -> bool:
        if step % every:
            return False
        t0 = time.perf_counter()
        curve.append(measure(step, m))
        eval_seconds[0] += time.perf_counter() - t0
        if state["stop"] is None and curve[-1]["knowmem_select"] <= reference_select:
            state["stop"] = len(curve) - 1
            state["model"] = copy.deepcopy(m)
            state["seconds"] = time.perf_counter() - start - eval_seconds[0]
        return state["stop"] is not None and past_stop is not None and len(curve) - 1 - state["stop"] >= past_stop

    result = method.run(model, split, ctx=ctx, callback=callback)
    if curve[-1]["step"] != result.steps:
        curve.append(measure(result.steps, result.model))
    reached = state["stop"] is not None
    stop = state["stop"] if reached else len(curve) - 1
    stop_model = state["model"] if reached else result.model
    secs = state["seconds"] if reached else result.seconds
    return CheckpointRun(curve, stop, stop_model, result.model, reached, float(secs), result)


def alpha_sweep(
    make: Callable[[float], Any],
    model: Any,
    split: LMSplit,
    evalset: LMEvalSet,
    *,
    reference_select: float,
    ctx: RunContext,
    alphas: Sequence[float] = (1, 2, 4, 8, 16, 32),
    metrics: Sequence[str] = ("knowmem_select",),
    reference: Any = None,
    reference_logs: dict[str, dict[str, Any]] | None = None,
) -> CheckpointRun:
    """MUSE's α sweep for Task Vector / WHP: the first α whose selection KnowMem ≤ the reference's."""
    names = list(dict.fromkeys(["knowmem_select", *metrics]))
    curve, models, seconds = [], [], []
    for a in alphas:
        res = make(float(a)).unlearn(model, split, ctx=ctx)
        row = evaluate_lm(
            res.model, split.tokenizer, evalset, reference=reference, reference_logs=reference_logs, metrics=names
        )
        curve.append({"alpha": float(a), "step": res.steps, **row})
        models.append(res.model)
        seconds.append(res.seconds)
        if row["knowmem_select"] <= reference_select:
            break
    stop = stop_index([r["knowmem_select"] for r in curve], reference_select)
    reached = curve[stop]["knowmem_select"] <= reference_select
    return CheckpointRun(
        curve, stop, models[stop], models[-1], reached, float(seconds[stop]), extra={"alpha": curve[stop]["alpha"]}
    )


def scalability(
    make: Callable[[], Any],
    model: Any,
    splits: Sequence[LMSplit],
    evalsets: Sequence[LMEvalSet],
    *,
    ctx: RunContext,
    metrics: Sequence[str] = ("knowmem_r", "knowmem_f"),
) -> list[dict[str, Any]]:
    """Unlearn each forget set (growing sizes) from the same ``model``; the metrics of each result."""
    rows = []
    for split, ev in zip(splits, evalsets, strict=True):
        res = make().unlearn(model, split, ctx=ctx)
        rows.append(
            {
                "forget_texts": len(split.forget),
                "steps": res.steps,
                **evaluate_lm(res.model, split.tokenizer, ev, metrics=list(metrics)),
            }
        )
    return rows


def sustainability(
    make: Callable[[], Any],
    model: Any,
    splits: Sequence[LMSplit],
    evalsets: Sequence[LMEvalSet],
    *,
    ctx: RunContext,
    metrics: Sequence[str] = ("knowmem_r", "knowmem_f"),
) -> list[dict[str, Any]]:
    """Sequential requests: request k unlearns ``splits[k]`` starting from request k−1's model."""
    rows = []
    current = model
    for k, (split, ev) in enumerate(zip(splits, evalsets, strict=True), 1):
        res = make().unlearn(current, split, ctx=ctx)
        current = res.model
        rows.append(
            {"requests": k, "steps": res.steps, **evaluate_lm(current, split.tokenizer, ev, metrics=list(metrics))}
        )
    return rows


__all__ = ["CheckpointRun", "alpha_sweep", "run_with_checkpoints", "scalability", "stop_index", "sustainability"]
