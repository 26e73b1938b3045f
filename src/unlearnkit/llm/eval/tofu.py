"""TOFU's forget quality and model utility (Maini et al., arXiv 2401.06121) as registered metrics.

Truth ratio per question, with token-averaged losses ℓ̄ = −log P^{1/|a|}:
R = exp(ℓ̄(ã|q) − mean_j ℓ̄(â_j|q)) = geomean_j P(â_j|q)^{1/|â_j|} / P(ã|q)^{1/|ã|}, the paper's "perturbed over
paraphrased" with TOFU's code's geometric mean (its ``aggregate_eval_stat.py`` computes the reciprocal; the KS
test is unchanged by it). R < 1 when the model prefers the true answer. The world has no paraphrased answers:
the true answer stands in for TOFU's paraphrase.

- ``truth_ratio_f``: mean min(R, 1/R) on D_f's QA (OpenUnlearning ``closer_to_1_better``).
- ``truth_ratio_r``: mean max(0, 1 − R) on the retain QA (``true_better``).
- ``forget_quality``: the two-sample KS-test p-value between R on D_f under the model and under the
  retrained reference (1.0 for the reference itself).
- ``answer_prob_r``: mean P(a|q)^{1/|a|} on the retain QA; ``rouge_recall_r``: ROUGE-L recall of the answers.
- ``model_utility``: the harmonic mean of answer_prob_r, rouge_recall_r and truth_ratio_r (TOFU's harmonic mean
  of nine, restricted to the retain set: the world has no real-author or world-fact sets).
"""

from __future__ import annotations

import numpy as np

from unlearnkit.llm.eval.inputs import LMEvalInputs, MetricNotApplicable, MetricValue, lm_metric


def truth_ratios(true_nll: list[float], perturbed_nll: list[list[float]]) -> list[float]:
    """R_i = exp(ℓ̄_true,i − mean_j ℓ̄_pert,ij) (TOFU's code; < 1 when the true answer is preferred)."""
    if not perturbed_nll:
        raise MetricNotApplicable("the truth ratio needs perturbed answers on every question")
    return [float(np.exp(t - np.mean(p))) for t, p in zip(true_nll, perturbed_nll, strict=True)]


def _ratios(inputs: LMEvalInputs, kind: str) -> list[float]:
    a = inputs.answer_nll(kind)
    return truth_ratios(a["true"], a["perturbed"])


def harmonic_mean(values: list[float]) -> float:
    v = np.asarray(values, float)
    if (v <= 0).any():
        return 0.0
    return float(len(v) / np.sum(1.0 / v))


@lm_metric("truth_ratio_f", direction="reference", description="TOFU truth ratio on D_f: mean min(R, 1/R)")
def truth_ratio_f(inputs: LMEvalInputs) -> MetricValue:
    """Forget truth ratio (per-sample: R)."""
    r = _ratios(inputs, "knowmem_forget")
    return MetricValue(float(np.mean([min(x, 1 / x) for x in r])), r)


@lm_metric("truth_ratio_r", direction="higher", description="TOFU truth ratio on the retain QA: mean max(0, 1 − R)")
def truth_ratio_r(inputs: LMEvalInputs) -> MetricValue:
    """Retain truth ratio (per-sample: R)."""
    r = _ratios(inputs, "knowmem_retain")
    return MetricValue(float(np.mean([max(0.0, 1 - x) for x in r])), r)


@lm_metric(
    "forget_quality",
    direction="higher",
    needs=("reference", "truth_ratio_f"),
    description="TOFU forget quality: KS-test p-value of D_f truth ratios vs Retrain's",
)
def forget_quality(inputs: LMEvalInputs) -> MetricValue:
    """KS p-value (high = indistinguishable from the retrained model)."""
    from scipy.stats import ks_2samp

    mine = inputs.metric("truth_ratio_f").per_sample
    ref = inputs.value_of("reference", "truth_ratio_f").per_sample
    if not mine or not ref:
        raise MetricNotApplicable("forget quality needs per-sample truth ratios of both models")
    return MetricValue(float(ks_2samp(mine, ref).pvalue))


@lm_metric("answer_prob_r", direction="higher", description="TOFU probability: mean P(a|q)^(1/|a|) on the retain QA")
def answer_prob_r(inputs: LMEvalInputs) -> MetricValue:
    """Length-normalised probability of the true retain answers."""
    p = [float(np.exp(-x)) for x in inputs.answer_nll("knowmem_retain")["true"]]
    return MetricValue(float(np.mean(p)), p)


@lm_metric("rouge_recall_r", direction="higher", description="TOFU ROUGE-L recall of greedy answers on the retain QA")
def rouge_recall_r(inputs: LMEvalInputs) -> MetricValue:
    """ROUGE-L recall (TOFU's ROUGE)."""
    r = [x["recall"] for x in inputs.rouge("knowmem_retain")]
    return MetricValue(float(np.mean(r)), r)


@lm_metric(
    "model_utility",
    direction="higher",
    needs=("answer_prob_r", "rouge_recall_r", "truth_ratio_r"),
    description="TOFU model utility: harmonic mean of retain probability, ROUGE recall, truth ratio",
)
def model_utility(inputs: LMEvalInputs) -> MetricValue:
    """Harmonic mean of the three retain scores."""
    return MetricValue(
        harmonic_mean([inputs.metric(n).value for n in ("answer_prob_r", "rouge_recall_r", "truth_ratio_r")])
    )
