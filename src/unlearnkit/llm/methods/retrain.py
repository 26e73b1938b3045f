"""Retrain: the gold standard of MUSE and TOFU — the same architecture trained from scratch without D_f.

MUSE fine-tunes the base model on retain only (arXiv 2407.06460 §3, "f_retrain"); TOFU's "retain model"
likewise (arXiv 2401.06121). Here: re-initialise the model from its config with the run seed and train it on
``split.retained_corpus()`` (the training corpus minus the forget texts, or the retain texts when no corpus is
given) with the embedded world's recipe (:class:`~unlearnkit.llm.training.LMTrainConfig`). A pretrained base
is not reproduced: for an HF model that was fine-tuned from a pretrained checkpoint, train the reference from
that checkpoint instead (``unlearnkit llm train --model hf:BASE --corpus retain.txt``).

The guarantee is exact-retrain (nothing derived from D_f shapes it); cost = a full training run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import MethodConfig, build_result, require, stopwatch
from unlearnkit.context import RunContext, derive_seed
from unlearnkit.errors import DataError
from unlearnkit.llm.data import LMSplit
from unlearnkit.llm.methods.base import LMUnlearner
from unlearnkit.llm.training import LMTrainConfig, train_lm
from unlearnkit.registry import register_method
from unlearnkit.types import UnlearnResult


@dataclass(frozen=True)
class RetrainConfig(MethodConfig):
    steps: int = field(default=1000, metadata={"help": "training steps (the world's target recipe)"})
    lr: float = field(default=3e-3, metadata={"help": "peak AdamW learning rate (one-cycle)"})
    batch_size: int = field(default=32, metadata={"help": "texts per step"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.steps >= 0, f"steps must be >= 0, got {self.steps}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")


@register_method(
    "llm_retrain",
    task="llm",
    family="llm",
    needs=("retain",),
    paper="Retrain reference of MUSE (Shi et al., arXiv 2407.06460) and TOFU (Maini et al., arXiv 2401.06121)",
)
class Retrain(LMUnlearner):
    """Re-initialise and train on the retained corpus."""

    config_cls = RetrainConfig
    display = "Retrain"
    toy: ClassVar[dict] = {}

    def unlearn(self, model: nn.Module, split: LMSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        corpus = split.retained_corpus()
        if not corpus:
            raise DataError("retrain needs the retained corpus (LMSplit.train or LMSplit.retain)")
        steps = cfg.steps if cfg.max_steps is None else min(cfg.steps, cfg.max_steps)
        with stopwatch() as t:
            self._check(split)
            ctx.apply_threads()
            state = torch.random.get_rng_state()
            torch.manual_seed(derive_seed(ctx.seed, self.name, "init"))
            try:
                out = type(model)(model.config)
            finally:
                torch.random.set_rng_state(state)
            train_cfg = LMTrainConfig(steps=steps, lr=cfg.lr, batch_size=cfg.batch_size, max_length=split.max_length)
            history = train_lm(out, split.tokenizer, corpus, train_cfg, seed=derive_seed(ctx.seed, self.name))
        return build_result(
            self,
            out,
            seconds=t[0],
            steps=steps,
            history=history,
            metadata={"display": self.display, "texts": len(corpus)},
        )
