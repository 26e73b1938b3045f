"""MUSE's six-way evaluation (Shi et al., arXiv 2407.06460, §3; ``swj0419/muse_bench/metrics``) as registered metrics.

Percentages as MUSE's tables (ROUGE × 100, PrivLeak in %); MIA AUCs are fractions.

- ``verbmem_f`` (C1): ROUGE-L F1 of greedy continuations of D_f prefixes against the true continuation
  (truncated to ``verbmem_max_new_tokens``; as many new tokens are generated as the reference has).
- ``knowmem_f`` / ``knowmem_r`` (C2 / C4): ROUGE-L F1 of greedy QA answers (ICL prompt, cut at the stop
  strings) on D_f's / the retain2 QA. ``knowmem_select`` is the same on the selection QA (the stop rule's).
- ``privleak`` (C3): (AUC − AUC_retrain)/AUC_retrain × 100 of the Min-K% (K = ``min_k``) AUC, forget vs
  holdout; AUC_retrain is *measured* on the reference (or read from its logs), not hard-coded.
- ``utility_preserved``: KnowMem_r as a percentage of the original model's.
- ``mia_min_k``, ``mia_min_k_pp``, ``mia_zlib``, ``mia_loss``: forget-vs-holdout AUCs (MUSE orientation).

C5/C6 (scalability, sustainability) and the stop rule are protocols over several runs:
:mod:`unlearnkit.llm.eval.protocols`.
"""

from __future__ import annotations

import numpy as np

from unlearnkit.llm.eval import mia
from unlearnkit.llm.eval.inputs import LMEvalInputs, MetricValue, lm_metric


def _mean_f1(inputs: LMEvalInputs, kind: str) -> MetricValue:
    per = [100.0 * r["f1"] for r in inputs.rouge(kind)]
    return MetricValue(float(np.mean(per)), per)


@lm_metric("verbmem_f", direction="lower", description="VerbMem on D_f: ROUGE-L F1 × 100 of continuations (MUSE C1)")
def verbmem_f(inputs: LMEvalInputs) -> MetricValue:
    """MUSE C1: verbatim memorisation of the forget texts."""
    return _mean_f1(inputs, "verbmem")


@lm_metric("knowmem_f", direction="lower", description="KnowMem on D_f: QA ROUGE-L F1 × 100 (MUSE C2)")
def knowmem_f(inputs: LMEvalInputs) -> MetricValue:
    """MUSE C2: knowledge of the forget set."""
    return _mean_f1(inputs, "knowmem_forget")


@lm_metric("knowmem_select", direction="lower", description="KnowMem on D_f's selection QA (the stop rule's split)")
def knowmem_select(inputs: LMEvalInputs) -> MetricValue:
    """KnowMem on the held-apart selection questions."""
    return _mean_f1(inputs, "select_forget")


@lm_metric("knowmem_r", direction="higher", description="KnowMem on retain2: QA ROUGE-L F1 × 100 (MUSE C4, utility)")
def knowmem_r(inputs: LMEvalInputs) -> MetricValue:
    """MUSE C4: utility preserved on the retain QA."""
    return _mean_f1(inputs, "knowmem_retain")


@lm_metric(
    "utility_preserved",
    direction="higher",
    needs=("original", "knowmem_r"),
    description="KnowMem_r as % of the original model's",
)
def utility_preserved(inputs: LMEvalInputs) -> MetricValue:
    """KnowMem_r relative to the model before unlearning (100 = nothing lost)."""
    base = inputs.value_of("original", "knowmem_r").value
    now = inputs.metric("knowmem_r").value
    return MetricValue(100.0 * now / base if base > 0 else float("nan"))


def _scores(inputs: LMEvalInputs, kind: str, attack: str) -> list[float]:
    k = inputs.evalset.min_k
    stats = inputs.token_stats(kind)
    if attack == "min_k":
        return [mia.min_k(s["logprobs"], k) for s in stats]
    if attack == "min_k_pp":
        return [mia.min_k_pp(s["logprobs"], s["mu"], s["sigma"], k) for s in stats]
    if attack == "loss":
        return [mia.loss_score(s["logprobs"]) for s in stats]
    texts = getattr(inputs.evalset, kind)
    return [mia.zlib_score(s["logprobs"], t) for s, t in zip(stats, texts, strict=True)]


def _auc(inputs: LMEvalInputs, attack: str) -> MetricValue:
    f = _scores(inputs, "privleak_forget", attack)
    h = _scores(inputs, "privleak_holdout", attack)
    return MetricValue(mia.mia_auc(f, h), f + h)


@lm_metric("mia_min_k", direction="reference", description="Min-K% Prob AUC, forget (0) vs holdout (1); Retrain ≈ 0.5")
def mia_min_k(inputs: LMEvalInputs) -> MetricValue:
    """Min-K% Prob membership AUC (per-sample values: forget scores, then holdout scores)."""
    return _auc(inputs, "min_k")


@lm_metric("mia_min_k_pp", direction="reference", description="Min-K%++ AUC, forget vs holdout")
def mia_min_k_pp(inputs: LMEvalInputs) -> MetricValue:
    """Min-K%++ membership AUC."""
    return _auc(inputs, "min_k_pp")


@lm_metric("mia_zlib", direction="reference", description="zlib-normalised loss AUC, forget vs holdout")
def mia_zlib(inputs: LMEvalInputs) -> MetricValue:
    """zlib membership AUC."""
    return _auc(inputs, "zlib")


@lm_metric("mia_loss", direction="reference", description="loss AUC, forget vs holdout")
def mia_loss(inputs: LMEvalInputs) -> MetricValue:
    """Loss membership AUC."""
    return _auc(inputs, "loss")


@lm_metric(
    "privleak",
    direction="zero",
    needs=("reference", "mia_min_k"),
    description="PrivLeak (%): Min-K% AUC relative to Retrain's (MUSE C3; → 0)",
)
def privleak(inputs: LMEvalInputs) -> MetricValue:
    """MUSE C3 against the measured Retrain AUC."""
    return MetricValue(mia.privleak(inputs.metric("mia_min_k").value, inputs.value_of("reference", "mia_min_k").value))
