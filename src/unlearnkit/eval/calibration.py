"""Calibrated unlearning strength, without a retrained model.

Official defaults were tuned on CIFAR ResNets; on a user's model they often forget nothing (SSD's α,
ℓ1-sparse's γ) or far too much. A user has no Retrain model to tune against (that is what
:mod:`unlearnkit.eval.tuning` needs), so :func:`calibrate` searches the method's declared *strength knobs*
(the ``strength`` class attribute: ``{config field: [values, weak → strong]}``) against targets that need
no retraining, measured on a validation part carved from the retain set:

- **class** forgetting: accuracy on the forget set at or below chance (100 / #classes), and among the
  settings that reach it the most retain-validation accuracy.
- **random / owner / ids / subclass / range** forgetting: the forget rows look like held-out rows of the
  same population — the loss-attack AUC between forget rows and held-out rows within ``0.5 ± tol_auc``
  and (classification) their accuracies within ``tol_acc`` — again with the most retain-validation
  accuracy (regression: the least retain-validation MAE). Held-out rows are ``split.val`` when it was
  carved from the test side (never the test set the final report uses), else ``split.test``; for
  sub-class and range scenarios only the held-out rows of the forgotten sub-class / target range.

Tolerances are two standard errors: for the AUC under the null, 2·sqrt((n_f + n_h + 1) / (12·n_f·n_h));
for the accuracy difference, 2·sqrt(p(1−p)(1/n_f + 1/n_h)) with the pooled p. The paper default is always
the first candidate. When no setting reaches the target the closest one is chosen and the result says so
(``reached=False``). The retain-validation rows are *not* used by the probe runs; the final model is then
unlearned with the chosen values on the whole split, and the target is measured again on it
(``final["reached"]``). ``original`` holds the same measurements of the input model, so a receipt can show
what reaching the target cost (a setting may reach "indistinguishable" by degrading every prediction).

The chosen values are hyper-parameters chosen on deletable rows: the result records the validation rows'
id hash so a receipt can name them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import config_from_dict
from unlearnkit.context import RunContext
from unlearnkit.data import IdDataset, ids_hash
from unlearnkit.data.scenarios import heldout_forget_mask, stratified_split
from unlearnkit.errors import ConfigError
from unlearnkit.eval import mia
from unlearnkit.eval.tuning import grid_combos
from unlearnkit.models.train import predict_logits
from unlearnkit.registry import get_method
from unlearnkit.types import ForgetSplit, UnlearnResult

log = logging.getLogger(__name__)
VAL_FRACTION = 0.1
MIN_VAL = 10


@dataclass
class Calibration:
    """What :func:`calibrate` searched, what it chose and whether the target was reached."""

    method: str
    scenario: str
    target: str
    knobs: dict[str, list[Any]]
    chosen: dict[str, Any]
    reached: bool
    table: list[dict[str, Any]] = field(default_factory=list)
    val_size: int = 0
    val_ids_hash: str = ""
    original: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)
    kind: str = "class"

    @property
    def message(self) -> str:
        values = ", ".join(f"{k}={v}" for k, v in self.chosen.items()) or "the paper defaults"
        if self.reached:
            return f"calibrated {self.method}: {values} reaches the target ({self.target})"
        return (
            f"calibrated {self.method}: NO setting of {', '.join(self.knobs)} reached the target ({self.target}); "
            f"the closest, {values}, is used"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "message": self.message}


def strength_knobs(method: str) -> dict[str, list[Any]]:
    """The method's declared strength grid (``{}`` for a method with nothing to calibrate, e.g. Retrain)."""
    cls = get_method(method).cls
    knobs = getattr(cls, "strength", None)
    if knobs is None:
        raise ConfigError(f"{method} declares no strength knob (a `strength` class attribute)")
    return dict(knobs)


def _is_regression(split: ForgetSplit) -> bool:
    return (split.retain if len(split.retain) else split.forget).is_regression


def heldout_rows(split: ForgetSplit) -> IdDataset | None:
    """Non-training rows the forget set is compared with (see the module docstring), or ``None``."""
    if split.val is not None and len(split.val) and split.meta.get("val_side") != "retain":
        data = split.val
    elif split.test is not None and len(split.test):
        data = split.test
    else:
        return None
    if split.scenario == "subclass":
        data = data.filter(heldout_forget_mask(split, data))
    elif split.scenario == "range":
        from unlearnkit.data.regression import heldout_range_mask

        data = data.filter(heldout_range_mask(split, data))
    return data if len(data) else None


def _losses(model: nn.Module, data: IdDataset) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-row losses and (classification) correctness of ``model`` on ``data``."""
    if data.is_regression:
        from unlearnkit.models.regression import predict

        return (predict(model, data.x) - data.y).abs().double().numpy(), None
    logits = predict_logits(model, data.x)
    logits = torch.nan_to_num(logits, nan=0.0, posinf=1e4, neginf=-1e4)
    loss = F.cross_entropy(logits, data.y, reduction="none").double().numpy()
    return loss, (logits.argmax(1) == data.y).double().numpy()


def measure(model: nn.Module, split: ForgetSplit, val: IdDataset | None, held: IdDataset | None) -> dict[str, Any]:
    """Forget accuracy / error, retain-validation score and (with held-out rows) the indistinguishability test."""
    f_loss, f_ok = _losses(model, split.forget)
    row: dict[str, Any] = {}
    if f_ok is not None:
        row["forget_acc"] = 100.0 * float(f_ok.mean())
    else:
        row["forget_mae"] = float(f_loss.mean())
    if val is not None:
        v_loss, v_ok = _losses(model, val)
        if v_ok is not None:
            row["retain_val_acc"] = 100.0 * float(v_ok.mean())
        else:
            row["retain_val_mae"] = float(v_loss.mean())
    if held is not None:
        h_loss, h_ok = _losses(model, held)
        n_f, n_h = len(f_loss), len(h_loss)
        row["auc"] = mia.auc_of_losses(f_loss, h_loss)
        row["tol_auc"] = max(0.02, 2 * math.sqrt((n_f + n_h + 1) / (12 * n_f * n_h)))
        if f_ok is not None:
            p = float((f_ok.sum() + h_ok.sum()) / (n_f + n_h))  # type: ignore[union-attr]
            row["heldout_acc"] = 100.0 * float(h_ok.mean())  # type: ignore[union-attr]
            row["tol_acc"] = max(2.0, 200 * math.sqrt(max(p * (1 - p), 1e-4) * (1 / n_f + 1 / n_h)))
    return row


def _violation(row: dict[str, Any], kind: str, chance: float) -> float:
    """0 when the target is reached, else how far it is (comparable across candidates of one search)."""
    if kind == "class":
        return max(0.0, row["forget_acc"] - chance) / 100.0
    v = max(0.0, abs(row["auc"] - 0.5) - row["tol_auc"])
    if "heldout_acc" in row:
        v += max(0.0, abs(row["forget_acc"] - row["heldout_acc"]) - row["tol_acc"]) / 100.0
    return v


def _target(split: ForgetSplit, kind: str, chance: float) -> str:
    if kind == "class":
        return f"forget-class accuracy ≤ chance ({chance:.1f}%), then the most retain-validation accuracy"
    what = "accuracy and loss distribution" if not _is_regression(split) else "loss distribution"
    return (
        f"forget rows' {what} indistinguishable from held-out rows (loss-MIA AUC ≈ 0.5), then the best "
        "retain-validation score"
    )


def target_kind(split: ForgetSplit) -> str:
    """``class`` (forget accuracy at or below chance) or ``heldout`` (forget rows look held-out)."""
    return "class" if split.scenario == "class" and not _is_regression(split) else "heldout"


def target_reached(model: nn.Module, split: ForgetSplit) -> tuple[bool | None, dict[str, Any]]:
    """Whether ``model`` meets the calibration target on the whole ``split`` (``None``: not measurable)."""
    kind = target_kind(split)
    held = heldout_rows(split) if kind == "heldout" else None
    if kind == "heldout" and held is None:
        return None, {}
    row = measure(model, split, None, held)
    row["reached"] = _violation(row, kind, 100.0 / max(split.forget.num_classes, 1)) == 0.0
    return row["reached"], row


def calibrate(
    method: str,
    model: nn.Module,
    split: ForgetSplit,
    *,
    ctx: RunContext | None = None,
    base: dict[str, Any] | None = None,
    val_fraction: float = VAL_FRACTION,
) -> Calibration:
    """Search ``method``'s strength knobs against the no-retraining target; see the module docstring.

    ``base`` holds config values that apply to every candidate (e.g. ``max_steps``). Raises
    :class:`ConfigError` when the method has nothing to calibrate or the target cannot be measured.
    """
    ctx = ctx or RunContext()
    cls = get_method(method).cls
    knobs = strength_knobs(method)
    if not knobs:
        raise ConfigError(f"{method} has no strength knob to calibrate (it is not an approximate method)")
    if not 0 < val_fraction < 1:
        raise ConfigError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    kind = target_kind(split)
    held = heldout_rows(split) if kind == "heldout" else None
    if kind == "heldout" and held is None:
        raise ConfigError(
            f"calibrating {split.scenario} forgetting compares the forget rows with held-out (never trained on) "
            "rows of the same population, and this split has none: give a test set"
        )
    if len(split.retain) < 2 * MIN_VAL:
        raise ConfigError(f"the retain set has {len(split.retain)} rows; calibration needs at least {2 * MIN_VAL}")
    frac = max(val_fraction, MIN_VAL / len(split.retain))
    val, rest = stratified_split(split.retain, frac, ctx.seed)
    probe = dataclasses.replace(split, retain=rest)
    num_classes = split.forget.num_classes or 1
    chance = 100.0 / max(num_classes, 1)
    base = dict(base or {})
    candidates: list[dict[str, Any]] = [{}]
    candidates += [c for c in grid_combos(knobs) if c]
    original = measure(model, probe, val, held)
    original["violation"] = _violation(original, kind, chance)
    table: list[dict[str, Any]] = []
    best: tuple[Any, ...] | None = None
    chosen: dict[str, Any] = {}
    for combo in candidates:
        cfg = config_from_dict(cls.config_cls, {**base, **combo})
        with ctx.quiet():
            result = cls(cfg).unlearn(model, probe, ctx=dataclasses.replace(ctx, inplace=False))
        row = measure(result.model, probe, val, held)
        row["violation"] = _violation(row, kind, chance)
        row["reached"] = row["violation"] == 0.0
        row["values"] = {k: getattr(cfg, k) for k in knobs}
        row["seconds"] = result.seconds
        table.append(row)
        score = row.get("retain_val_acc", -row.get("retain_val_mae", 0.0))
        key = (row["violation"], -score)
        if best is None or key < best:
            best, chosen = key, row["values"]
        log.info("calibrate %s %s: %s", method, combo or "defaults", row)
    reached = best is not None and best[0] == 0.0
    return Calibration(
        method=method,
        scenario=split.scenario,
        target=_target(split, kind, chance),
        knobs=knobs,
        chosen=chosen,
        reached=reached,
        table=table,
        val_size=len(val),
        val_ids_hash=ids_hash(val.id_list()),
        original=original,
        kind=kind,
    )


def unlearn(
    method: str,
    model: nn.Module,
    split: ForgetSplit,
    *,
    ctx: RunContext | None = None,
    config: dict[str, Any] | None = None,
    calibrate: bool = False,
) -> UnlearnResult:
    """Run ``method`` on ``model``; with ``calibrate=True`` its strength is chosen by :func:`calibrate` first.

    ``config`` overrides the paper defaults (with calibration: the knobs it does not search). The result's
    ``metadata["calibration"]`` holds the search (chosen values, whether the target was reached, the table)
    and the target measured again on the final model.
    """
    ctx = ctx or RunContext()
    cls = get_method(method).cls
    config = dict(config or {})
    cal: Calibration | None = None
    if calibrate:
        cal = _calibrate(method, model, split, ctx=ctx, base=config)
        config = {**config, **cal.chosen}
    result = cls(config_from_dict(cls.config_cls, config)).unlearn(model, split, ctx=ctx)
    if cal is not None:
        cal.final = target_reached(result.model, split)[1]
        result.metadata["calibration"] = cal.to_dict()
    return result


_calibrate = calibrate


__all__ = [
    "Calibration",
    "calibrate",
    "heldout_rows",
    "measure",
    "strength_knobs",
    "target_kind",
    "target_reached",
    "unlearn",
]
