"""What a deletion objective sees during an edit, the objective base class, and the loss maths as pure functions.

An edit optimises some parameters (ROME: the value vector δ; constrained FT: one MLP matrix) against
``objective.loss(view)``, where :class:`EditView` holds the log-probabilities at the last position of every edit
prompt — the final output, and the logit lens at the *defended* layers for the whitebox defenses (Patil et al.,
arXiv 2309.17410, §4; ``rome/compute_v.py``). The editor adds its own locality terms (ROME's KL on
"{subject} is a" and δ decay; FT's ε box and KL anchor), so an objective is only the deletion term.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from unlearnkit.approx._common import MethodConfig
from unlearnkit.errors import ConfigError
from unlearnkit.llm.components import Registry
from unlearnkit.llm.facts import Fact

OBJECTIVES = Registry("deletion objective", "unlearnkit.llm.editing.objectives")


@dataclass
class EditView:
    """Log-probabilities at each edit prompt's last position: ``final`` (P, V) and ``lens`` (P, |layers|, V)."""

    final: torch.Tensor
    lens: torch.Tensor
    answer: int
    target: int | None = None


@dataclass(frozen=True)
class ObjectiveConfig(MethodConfig):
    """Objectives have no step budget of their own; ``max_steps`` is inherited and unused."""


@dataclass(frozen=True)
class LensConfig(ObjectiveConfig):
    """A whitebox defense: its weight and the lens layers it defends (None: the attacks' default layers)."""

    weight: float = field(
        default=1.0, metadata={"help": "weight of the defense term (the paper adds it with weight 1)"}
    )
    layers: tuple[int, ...] | None = field(
        default=None, metadata={"help": "defended lens layers (None: those the attacks target, after the edit)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.weight < 0:
            raise ConfigError(f"weight must be >= 0, got {self.weight}")


class Objective:
    """A deletion objective or defense: the loss on the edit prompts' distributions (lower = more deleted)."""

    name: ClassVar[str] = ""
    display: ClassVar[str] = ""
    config_cls: ClassVar[type] = ObjectiveConfig
    kind: ClassVar[str] = "deletion"
    """``deletion`` (the Rewrite Score is the share of p(answer) removed) or ``injection`` (ROME's score on the new
    target)."""
    uses_lens: ClassVar[bool] = False

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.config_cls()

    def prompts(self, fact: Fact) -> list[str]:
        """The prompts erased on (the Input-Rephrasing defense adds the fact's edit paraphrases)."""
        return [fact.prompt]

    def target_text(self, fact: Fact, tokenizer: Any) -> str | None:
        """The text the edit pushes towards (Error Injection, Empty Response); None for pure erasure."""
        return None

    def lens_layers(self, default: tuple[int, ...]) -> tuple[int, ...]:
        if not self.uses_lens:
            return ()
        layers = getattr(self.config, "layers", None)
        return tuple(layers) if layers else default

    def loss(self, view: EditView) -> torch.Tensor:
        raise NotImplementedError

    def record(self) -> dict[str, Any]:
        from unlearnkit.approx._common import config_to_dict

        return {"name": self.name, "config": config_to_dict(self.config)}


# -- loss maths (pure) ---------------------------------------------------------------------------------------------
def answer_probability(logp: torch.Tensor, answer: int) -> torch.Tensor:
    """p(answer) from log-probabilities (…, V) → (…): Fact Erasure's term (ROME: exp(−NLL) of the true answer)."""
    return logp[..., answer].exp()


def target_nll(logp: torch.Tensor, target: int) -> torch.Tensor:
    """−log p(target), averaged: Error Injection's and Empty Response's term."""
    return -logp[..., target].mean()


def topk_bottomk_margin(logp: torch.Tensor, answer: int, k: int) -> torch.Tensor:
    """Head-Projection defense term: max(0, p(y) − p⁽ᵏ⁾) + max(0, p₍ₖ₎ − p(y)), averaged over rows and layers.

    ``p⁽ᵏ⁾``/``p₍ₖ₎`` are the k-th largest/smallest probabilities among the *other* tokens, so the term is zero
    exactly when y is neither in the top-k nor in the bottom-k of the distribution (the sets the attack reads).
    """
    p = logp.exp()
    py = p[..., answer]
    others = torch.cat([p[..., :answer], p[..., answer + 1 :]], -1)
    kk = min(k, others.shape[-1])
    kth_large = others.topk(kk, -1).values[..., -1]
    kth_small = (-others).topk(kk, -1).values[..., -1].neg()
    return (torch.relu(py - kth_large) + torch.relu(kth_small - py)).mean()


def entropy(logp: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each distribution (…, V) → (…)."""
    return -(logp.exp() * logp).sum(-1)


def first_token(tokenizer: Any, text: str) -> int:
    """The id of ``text``'s first token as a continuation (a leading space, as after a prompt)."""
    text = text.strip()
    if not text:
        if tokenizer.eos_token_id is None:
            raise ConfigError("an empty target needs a tokenizer with an EOS token")
        return int(tokenizer.eos_token_id)
    ids = tokenizer(" " + text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ConfigError(f"{text!r} tokenizes to nothing")
    return int(ids[0])


__all__ = [
    "OBJECTIVES",
    "EditView",
    "LensConfig",
    "Objective",
    "ObjectiveConfig",
    "answer_probability",
    "entropy",
    "first_token",
    "target_nll",
    "topk_bottomk_margin",
]
