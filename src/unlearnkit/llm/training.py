"""Fine-tuning a causal LM on texts: the target and the retrained reference of the MUSE protocol.

One loop for both (AdamW, one-cycle or constant schedule, token-averaged NLL with pads masked), so that the
reference differs from the target only in its data. Deterministic on CPU for a given seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from unlearnkit.context import derive_seed
from unlearnkit.errors import ConfigError
from unlearnkit.llm.data import cycle_batches, encode
from unlearnkit.llm.losses import mean_nll


@dataclass(frozen=True)
class LMTrainConfig:
    """Defaults fit the embedded world's tiny GPT-2 (notes §4.2: AdamW 3e-3 one-cycle, batch 32, 1,000 steps)."""

    steps: int = field(default=1000, metadata={"help": "optimiser steps"})
    lr: float = field(default=3e-3, metadata={"help": "peak AdamW learning rate"})
    batch_size: int = field(default=32, metadata={"help": "texts per step"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    schedule: str = field(default="onecycle", metadata={"help": "onecycle | constant"})
    max_length: int = field(default=2048, metadata={"help": "tokens per text (longer texts are cut)"})

    def __post_init__(self) -> None:
        if self.steps < 0 or self.lr <= 0 or self.batch_size < 1:
            raise ConfigError(f"invalid training config {self}")
        if self.schedule not in ("onecycle", "constant"):
            raise ConfigError(f"schedule must be onecycle or constant, got {self.schedule!r}")


def train_lm(model: Any, tokenizer: Any, texts: list[str], cfg: LMTrainConfig, seed: int = 0) -> list[dict[str, float]]:
    """Fine-tune ``model`` in place on ``texts``; returns the loss every 100 steps."""
    data = encode(tokenizer, texts, cfg.max_length)
    gen = torch.Generator().manual_seed(derive_seed(seed, "train-lm-batches"))
    batches = cycle_batches(data, cfg.batch_size, gen)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = (
        torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(cfg.steps, 1))
        if cfg.schedule == "onecycle"
        else None
    )
    model.train()
    history: list[dict[str, float]] = []
    for step in range(cfg.steps):
        batch = next(batches)
        loss = mean_nll(model(**batch.inputs()).logits, batch.labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        if step % 100 == 0 or step == cfg.steps - 1:
            history.append({"step": step, "loss": float(loss.detach())})
    model.eval()
    return history


def config_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


__all__ = ["LMTrainConfig", "config_dict", "train_lm"]
