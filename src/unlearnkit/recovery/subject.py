"""The model-kind interface selection, filters, training and the guard talk to (classifiers and causal LMs).

A :class:`Subject` knows how to embed candidates, score their degradation (JSD reference vs current), take
per-sample gradients, fine-tune on a selection and measure forget metrics and utility for one kind of model.
:class:`~unlearnkit.recovery.classifier.ClassifierSubject` and :class:`~unlearnkit.recovery.lm.LMSubject`
implement it; :func:`subject_for` picks one from the candidates' kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from unlearnkit.approx._common import MethodConfig, require
from unlearnkit.recovery.candidates import Candidates


@dataclass(frozen=True)
class RecoveryTrainConfig(MethodConfig):
    """Recovery fine-tuning. LM defaults are PASER's LoRA (``main.py``: r 8, α 16, dropout 0.05, 3 epochs,
    lr 3e-4, micro-batch 4); classifiers are fine-tuned fully with Adam (the notes' digits recipe: 15 epochs)."""

    epochs: int = field(default=3, metadata={"help": "epochs over the selection"})
    min_steps: int = field(default=0, metadata={"help": "at least this many steps (tiny selections)"})
    lr: float = field(default=3e-4, metadata={"help": "learning rate (AdamW for LoRA, Adam for classifiers)"})
    batch_size: int = field(default=4, metadata={"help": "samples per step"})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank (LMs)"})
    lora_alpha: float = field(default=16.0, metadata={"help": "LoRA alpha (LMs)"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout (LMs)"})
    keep_sparsity: bool = field(default=True, metadata={"help": "re-apply the pruning masks after training"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs >= 0 and self.min_steps >= 0, "epochs and min_steps must be >= 0")
        require(self.lr > 0 and self.batch_size >= 1, "lr must be > 0 and batch_size >= 1")
        require(self.lora_r >= 1 and self.lora_alpha > 0 and 0 <= self.lora_dropout < 1, "invalid LoRA settings")

    def steps_for(self, n: int) -> int:
        return max(self.min_steps, self.epochs * -(-n // self.batch_size)) if n else 0


class Subject:
    """One model kind. ``keep_classes`` (classifiers) restricts divergences and utility to retained classes."""

    kind: str = ""

    def embed(self, reference: nn.Module, cands: Candidates, how: str, seed: int = 0) -> np.ndarray:
        raise NotImplementedError

    def divergence(self, reference: nn.Module, current: nn.Module, cands: Candidates) -> np.ndarray:
        raise NotImplementedError

    def costs(self, cands: Candidates) -> np.ndarray:
        """Length of each candidate (PASER's Cost is its square); 1 for rows."""
        return np.ones(len(cands))

    def alignment(self, model: nn.Module, cands: Candidates, forget: Candidates) -> np.ndarray:
        """cos(∇ℓ(x), ∇ℓ(forget set)) per candidate, at ``model`` (not modified); the forget gradient is the
        gradient of the mean loss over the forget records."""
        raise NotImplementedError

    def train(self, model: nn.Module, cands: Candidates, cfg: RecoveryTrainConfig, seed: int) -> nn.Module:
        """Fine-tune on ``cands`` and return the trained model (``model`` may be changed in place)."""
        raise NotImplementedError

    def forget_metrics(self, model: nn.Module, forget: Candidates) -> dict[str, float]:
        """``accuracy`` (the guard's primary metric) and ``loss`` on the forget records."""
        raise NotImplementedError

    def utility(self, model: nn.Module, data: Any) -> float:
        raise NotImplementedError


def subject_for(
    cands: Candidates, *, tokenizer: Any = None, keep_classes: Any = None, model: nn.Module | None = None
) -> Subject:
    """The subject for ``cands``' kind; an LM's context length is read from ``model.config`` when given."""
    if cands.kind == "text":
        from unlearnkit.recovery.lm import LMSubject

        config = getattr(model, "config", None)
        length = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None) or 256
        return LMSubject(tokenizer, max_length=int(length))
    from unlearnkit.recovery.classifier import ClassifierSubject

    return ClassifierSubject(keep_classes)


__all__ = ["RecoveryTrainConfig", "Subject", "subject_for"]
