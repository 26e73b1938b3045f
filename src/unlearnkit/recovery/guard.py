"""The recovery guard: keep a recovered model only if the forget metrics stay within ε of before.

A recovery fine-tune is exactly the operation of a relearning attack (Hu et al., arXiv 2406.13356), so its
result is checked before it replaces anything: the forget accuracy (classifiers: accuracy on D_f; LMs:
teacher-forced exact match of D_f's responses, every response token the argmax) may rise by at most
``epsilon``; optionally the forget loss may fall by at most ``max_loss_drop`` (relative), and held-out utility
must improve. A rejected recovery is rolled back: :func:`unlearnkit.recovery.recover` returns the input model
untouched and the CLI writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unlearnkit.approx._common import MethodConfig, require


@dataclass(frozen=True)
class GuardConfig(MethodConfig):
    epsilon: float = field(default=0.05, metadata={"help": "allowed rise of the forget accuracy (absolute)"})
    max_loss_drop: float | None = field(
        default=None, metadata={"help": "allowed relative fall of the forget loss (None: not checked)"}
    )
    require_utility_gain: bool = field(default=False, metadata={"help": "reject unless held-out utility rises"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epsilon >= 0, f"epsilon must be >= 0, got {self.epsilon}")
        require(self.max_loss_drop is None or 0 <= self.max_loss_drop <= 1, "max_loss_drop must lie in [0, 1]")


@dataclass
class GuardDecision:
    accepted: bool
    reasons: list[str]
    before: dict[str, float]
    after: dict[str, float]

    def record(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "reasons": self.reasons, "before": self.before, "after": self.after}


def decide(
    before: dict[str, float],
    after: dict[str, float],
    cfg: GuardConfig,
    utility_before: float | None = None,
    utility_after: float | None = None,
) -> GuardDecision:
    """Compare forget metrics (``accuracy``, ``loss``) before and after recovery against the tolerances."""
    reasons = []
    rise = after["accuracy"] - before["accuracy"]
    if rise > cfg.epsilon:
        reasons.append(
            f"forget accuracy rose {before['accuracy']:.3f} → {after['accuracy']:.3f} (more than ε = {cfg.epsilon})"
        )
    if cfg.max_loss_drop is not None and before["loss"] > 0:
        drop = (before["loss"] - after["loss"]) / before["loss"]
        if drop > cfg.max_loss_drop:
            reasons.append(f"forget loss fell {drop:.1%} (more than {cfg.max_loss_drop:.1%})")
    ub, ua = utility_before, utility_after
    if cfg.require_utility_gain and ub is not None and ua is not None and ua <= ub:
        reasons.append(f"held-out utility did not improve ({ub:.3f} → {ua:.3f})")
    b = dict(before)
    a = dict(after)
    if ub is not None:
        b["utility"] = ub
    if ua is not None:
        a["utility"] = ua
    return GuardDecision(not reasons, reasons, b, a)


__all__ = ["GuardConfig", "GuardDecision", "decide"]
