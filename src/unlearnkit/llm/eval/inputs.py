"""What LM metrics read (:class:`LMEvalInputs`, cached per model role) and how they are registered.

A metric is ``fn(inputs) -> MetricValue`` (an aggregate plus per-sample values, OpenUnlearning's
``agg_value``/``value_by_index``), registered with :func:`lm_metric` under ``task="llm"`` with a direction
(``higher``, ``lower``, ``zero`` — e.g. PrivLeak — or ``reference``: match the retrained model) and what it
``needs`` (``reference``: the retrained model or its logged values; ``original``: the model before unlearning;
or other metrics' names, computed first and cached).

Reference values come from a reference *model* (evaluated once on the same items) or from ``reference_logs``
(a previous :func:`evaluate_lm` result of the reference, OpenUnlearning's ``retain_logs_path``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from unlearnkit.errors import ConfigError, ReferenceRequiredError
from unlearnkit.llm.data import LMEvalSet, QAItem, encode
from unlearnkit.llm.eval.generation import cut_at, greedy_generate, rouge_l
from unlearnkit.llm.losses import sequence_nll
from unlearnkit.registry import get_metric, list_metrics, register_metric

DIRECTIONS = {"higher": True, "lower": False, "zero": None, "reference": None}
ROLES = ("model", "reference", "original")


class MetricNotApplicable(ConfigError):
    """The evaluation set lacks what the metric reads (e.g. no QA items, no perturbed answers)."""


@dataclass(frozen=True)
class MetricValue:
    value: float
    per_sample: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "per_sample": self.per_sample}


@dataclass(frozen=True)
class LMMetricInfo:
    name: str
    fn: Callable[..., MetricValue]
    direction: str
    needs: tuple[str, ...]
    description: str


LM_METRICS: dict[str, LMMetricInfo] = {}


def lm_metric(name: str, *, direction: str, needs: tuple[str, ...] = (), description: str = "") -> Callable:
    """Register an LM metric (in the shared registry with ``task="llm"`` and in :data:`LM_METRICS`)."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")

    def deco(fn: Callable[..., MetricValue]) -> Callable[..., MetricValue]:
        desc = description or (fn.__doc__ or "").strip().split("\n")[0]
        register_metric(
            name,
            higher_is_better=DIRECTIONS[direction],
            needs_reference="reference" in needs,
            task="llm",
            description=desc,
        )(fn)
        fn.direction, fn.needs = direction, needs  # type: ignore[attr-defined]
        LM_METRICS[name] = LMMetricInfo(name, fn, direction, needs, desc)
        return fn

    return deco


def lm_metric_info(name: str) -> LMMetricInfo:
    get_metric(name)  # triggers discovery
    if name not in LM_METRICS:
        raise ConfigError(f"{name!r} is not a language-model metric; LM metrics: {', '.join(sorted(LM_METRICS))}")
    return LM_METRICS[name]


@dataclass
class LMEvalInputs:
    """The evaluated ``model``, its ``tokenizer``, the items, and optional reference / original models or logs."""

    model: Any
    tokenizer: Any
    evalset: LMEvalSet
    reference: Any = None
    original: Any = None
    reference_logs: dict[str, dict[str, Any]] | None = None
    original_logs: dict[str, dict[str, Any]] | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def role(self, which: str) -> LMEvalInputs:
        """The same items evaluated with the reference / original as the model (cached)."""
        if which == "model":
            return self
        if which not in ("reference", "original"):
            raise ConfigError(f"unknown model role {which!r}")
        key = ("role", which)
        if key not in self._cache:
            model = getattr(self, which)
            if model is None:
                raise ReferenceRequiredError(
                    f"this metric needs the {'retrained reference' if which == 'reference' else 'original'} model "
                    f"(or its logged values)"
                )
            self._cache[key] = LMEvalInputs(model, self.tokenizer, self.evalset)
        return self._cache[key]

    def value_of(self, which: str, name: str) -> MetricValue:
        """Metric ``name`` of the reference/original: from its logs when given, else by evaluating it."""
        logs = self.reference_logs if which == "reference" else self.original_logs if which == "original" else None
        if logs is not None and name in logs:
            row = logs[name]
            return MetricValue(float(row["value"]), row.get("per_sample"))
        return self.role(which).metric(name)

    def metric(self, name: str) -> MetricValue:
        key = ("metric", name)
        if key not in self._cache:
            info = lm_metric_info(name)
            self._cache[key] = info.fn(self)
        return self._cache[key]

    # -- cached model outputs ---------------------------------------------------------------------------
    def generations(self, kind: str) -> list[str]:
        """Greedy outputs for ``verbmem`` (continuations) or a QA list (answers cut at the stop strings)."""
        key = ("gen", kind)
        if key in self._cache:
            return self._cache[key]
        ev = self.evalset
        if kind == "verbmem":
            if not ev.verbmem:
                raise MetricNotApplicable("the evaluation set has no VerbMem items")
            refs = [self._truncate(v.reference, ev.verbmem_max_new_tokens) for v in ev.verbmem]
            news = [max(1, len(self.tokenizer(r, add_special_tokens=False)["input_ids"])) for r in refs]
            out = greedy_generate(self.model, self.tokenizer, [v.prompt for v in ev.verbmem], news)
        else:
            items = self.qa(kind)
            raw = greedy_generate(
                self.model, self.tokenizer, [ev.qa_prompt(q) for q in items], ev.knowmem_max_new_tokens
            )
            out = [cut_at(r, ev.stop) for r in raw]
        self._cache[key] = out
        return out

    def qa(self, kind: str) -> list[QAItem]:
        items = getattr(self.evalset, kind, None)
        if not items:
            raise MetricNotApplicable(f"the evaluation set has no {kind} items")
        return items

    def rouge(self, kind: str) -> list[dict[str, float]]:
        key = ("rouge", kind)
        if key not in self._cache:
            refs = (
                [self._truncate(v.reference, self.evalset.verbmem_max_new_tokens) for v in self.evalset.verbmem]
                if kind == "verbmem"
                else [q.answer for q in self.qa(kind)]
            )
            self._cache[key] = rouge_l(self.generations(kind), refs)
        return self._cache[key]

    def _truncate(self, text: str, n: int) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= n else self.tokenizer.decode(ids[:n])

    @torch.no_grad()
    def token_stats(self, kind: str) -> list[dict[str, list[float]]]:
        """Per text of ``privleak_forget``/``privleak_holdout``: token log-probs and Min-K%++'s μ and σ."""
        key = ("tokens", kind)
        if key in self._cache:
            return self._cache[key]
        texts = getattr(self.evalset, kind)
        if not texts:
            raise MetricNotApplicable(f"the evaluation set has no {kind} texts")
        out = []
        for start in range(0, len(texts), 32):
            batch = encode(self.tokenizer, texts[start : start + 32], eos=False)
            logits = self.model(**batch.inputs()).logits[:, :-1].float()
            logp = torch.log_softmax(logits, -1)
            p = logp.exp()
            mu = (p * logp).sum(-1)
            sigma = ((p * logp**2).sum(-1) - mu**2).clamp_min(0).sqrt()
            target = batch.labels[:, 1:]
            picked = logp.gather(-1, target.clamp_min(0)[..., None]).squeeze(-1)
            for i in range(len(batch)):
                m = target[i] != -100
                out.append({"logprobs": picked[i][m].tolist(), "mu": mu[i][m].tolist(), "sigma": sigma[i][m].tolist()})
        self._cache[key] = out
        return out

    @torch.no_grad()
    def answer_nll(self, kind: str) -> dict[str, list]:
        """Token-averaged NLL of each item's answer and of its perturbed answers, given the question prompt."""
        key = ("answer_nll", kind)
        if key in self._cache:
            return self._cache[key]
        items = self.qa(kind)
        prompts = [self.evalset.qa_prompt(q) for q in items]

        def score(answers: list[str], qs: list[str]) -> list[float]:
            vals: list[float] = []
            for s in range(0, len(answers), 64):
                b = encode(self.tokenizer, answers[s : s + 64], prompts=qs[s : s + 64], eos=False)
                vals += sequence_nll(self.model(**b.inputs()).logits, b.labels).tolist()
            return vals

        seps = ["" if p.endswith((" ", "\n")) else " " for p in prompts]
        true = score([sep + q.answer for sep, q in zip(seps, items, strict=True)], prompts)
        pert: list[list[float]] = []
        if all(q.perturbed for q in items):
            flat = [(i, seps[i] + a) for i, q in enumerate(items) for a in q.perturbed]
            vals = score([a for _, a in flat], [prompts[i] for i, _ in flat])
            pert = [[] for _ in items]
            for (i, _), v in zip(flat, vals, strict=True):
                pert[i].append(v)
        self._cache[key] = {"true": true, "perturbed": pert}
        return self._cache[key]


def evaluate_lm(
    model: Any,
    tokenizer: Any,
    evalset: LMEvalSet,
    *,
    reference: Any = None,
    original: Any = None,
    reference_logs: dict[str, dict[str, Any]] | None = None,
    metrics: Iterable[str] | None = None,
    per_sample: bool = False,
) -> dict[str, Any]:
    """Every requested LM metric (default: all that apply) → ``{name: value}`` or ``{name: {value, per_sample}}``.

    Without an explicit list, metrics that need a missing reference/original or items are skipped.
    """
    inputs = LMEvalInputs(
        model, tokenizer, evalset, reference=reference, original=original, reference_logs=reference_logs
    )
    explicit = metrics is not None
    names = list(metrics) if explicit else [m.name for m in list_metrics("llm")]
    out: dict[str, Any] = {}
    for name in names:
        try:
            v = inputs.metric(name)
        except (ReferenceRequiredError, MetricNotApplicable):
            if explicit:
                raise
            continue
        out[name] = v.to_dict() if per_sample else v.value
    return out


__all__ = [
    "DIRECTIONS",
    "LM_METRICS",
    "LMEvalInputs",
    "LMMetricInfo",
    "MetricNotApplicable",
    "MetricValue",
    "evaluate_lm",
    "lm_metric",
    "lm_metric_info",
]
