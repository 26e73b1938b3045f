"""LM evaluation: MUSE's six criteria, TOFU's forget quality / model utility, MIAs, and the MUSE protocols.

``evaluate_lm(model, tokenizer, evalset, reference=retrain)`` computes every registered LM metric;
:mod:`.muse` and :mod:`.tofu` define them, :mod:`.mia` the attack scores, :mod:`.protocols` the stop rule,
scalability and sustainability.
"""

from unlearnkit.llm.eval import muse, tofu  # noqa: F401  (registers the metrics)
from unlearnkit.llm.eval.inputs import (
    LM_METRICS,
    LMEvalInputs,
    MetricNotApplicable,
    MetricValue,
    evaluate_lm,
    lm_metric,
    lm_metric_info,
)
from unlearnkit.llm.eval.protocols import alpha_sweep, run_with_checkpoints, scalability, stop_index, sustainability

__all__ = [
    "LM_METRICS",
    "LMEvalInputs",
    "MetricNotApplicable",
    "MetricValue",
    "alpha_sweep",
    "evaluate_lm",
    "lm_metric",
    "lm_metric_info",
    "run_with_checkpoints",
    "scalability",
    "stop_index",
    "sustainability",
]
