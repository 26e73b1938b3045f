"""Recovery metrics (registered with ``task="recovery"``): recovery ratio and forget leak.

recovery ratio = (u_recovered − u_damaged) / (u_original − u_damaged)  (1 = fully recovered, 0 = no gain);
forget leak   = forget metric after recovery − before (0 = nothing re-taught; > 0 = relearning).
"""

from __future__ import annotations

import math

from unlearnkit.registry import register_metric


@register_metric(
    "recovery_ratio",
    higher_is_better=True,
    task="recovery",
    description="share of the utility lost to damage that recovery restored",
)
def recovery_ratio(original: float, damaged: float, recovered: float) -> float:
    gap = original - damaged
    if abs(gap) < 1e-12:
        return math.nan
    return (recovered - damaged) / gap


@register_metric(
    "forget_leak",
    higher_is_better=False,
    task="recovery",
    description="rise of the forget metric caused by recovery (relearning)",
)
def forget_leak(before: float, after: float) -> float:
    return after - before


__all__ = ["forget_leak", "recovery_ratio"]
