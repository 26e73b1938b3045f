"""The three deletion objectives of Patil et al. (arXiv 2309.17410, §4, eqs. in "Deletion objectives";
``rome/compute_v.py``, ``baselines/ft/ft_main.py``), each a loss on the final next-token distribution.

- **Error Injection** (the editing baseline): NLL of a false answer (CounterFact's ``target_new``; the world's
  first perturbed answer). The true answer is displaced, not targeted.
- **Empty Response**: NLL of a fixed dummy target (the paper's code uses the string ``"dummy"``; ``dummy=""``
  uses the tokenizer's EOS, the "empty" answer of a model without a ``dummy`` token, e.g. the world model).
- **Fact Erasure**: minimise p(y | x), the true answer's probability (ROME: exp(−NLL); the paper's FT sums the
  probabilities, here it is their mean over the edit prompts — a constant factor).

They act on the output only: whatever the model computes in its intermediate layers is left to the whitebox
attacks (the paper's point) unless a defense term is added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from unlearnkit.errors import ConfigError
from unlearnkit.llm.editing.objectives.base import (
    OBJECTIVES,
    EditView,
    Objective,
    ObjectiveConfig,
    answer_probability,
    target_nll,
)
from unlearnkit.llm.facts import Fact


@OBJECTIVES.register("fact_erasure")
class FactErasure(Objective):
    """Minimise the probability of the true answer at the output."""

    display = "Fact Erasure"

    def loss(self, view: EditView) -> torch.Tensor:
        return answer_probability(view.final, view.answer).mean()


@OBJECTIVES.register("error_injection")
class ErrorInjection(Objective):
    """Maximise the likelihood of a false answer (``Fact.target_new``)."""

    display = "Error Injection"
    kind = "injection"

    def target_text(self, fact: Fact, tokenizer: Any) -> str | None:
        if not fact.target_new:
            raise ConfigError(f"error_injection needs a false answer (target_new) for {fact.prompt!r}")
        return fact.target_new

    def loss(self, view: EditView) -> torch.Tensor:
        if view.target is None:
            raise ConfigError("error_injection needs a target token")
        return target_nll(view.final, view.target)


@dataclass(frozen=True)
class EmptyResponseConfig(ObjectiveConfig):
    dummy: str = field(default="dummy", metadata={"help": "the fixed target ('' = the EOS token)"})


@OBJECTIVES.register("empty_response")
class EmptyResponse(Objective):
    """Maximise the likelihood of a fixed dummy answer."""

    display = "Empty Response"
    config_cls = EmptyResponseConfig

    def target_text(self, fact: Fact, tokenizer: Any) -> str | None:
        return self.config.dummy

    def loss(self, view: EditView) -> torch.Tensor:
        if view.target is None:
            raise ConfigError("empty_response needs a target token")
        return target_nll(view.final, view.target)
