"""WHP: "Who's Harry Potter?" (Eldan & Russinovich, arXiv 2310.02238), in MUSE's logit-arithmetic form
(``baselines/baselines/whos_harry_potter.py``).

A *reinforced* model is the target fine-tuned further on D_f (MUSE: 10 epochs, lr 1e-5, cosine). The unlearned
model's next-token logits are z = z_tgt − α·ReLU(z_reinf − z_tgt): tokens the reinforced model boosts are
pushed down. α = 1 by default; MUSE sweeps α with its stop rule (News α = 4, Books α = 256).

The result is a two-model module (:class:`WHPModel`); it saves both parts (``target/``, ``reinforced/``) and
generates through the same greedy loop as any LM. Known behaviour: over-unlearns in PrivLeak (News +110).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import StepCounter, build_result, stopwatch
from unlearnkit.context import RunContext
from unlearnkit.llm.data import LMSplit
from unlearnkit.llm.methods.base import LMUnlearner
from unlearnkit.llm.methods.task_vector import FinetuneConfig, reinforce
from unlearnkit.registry import register_method
from unlearnkit.types import UnlearnResult

MARKER = "whp.json"


class WHPModel(nn.Module):
    """Logits z_tgt − α·ReLU(z_reinf − z_tgt); callable like an HF causal LM (``.logits`` on the output)."""

    def __init__(self, target: nn.Module, reinforced: nn.Module, alpha: float) -> None:
        super().__init__()
        self.target = target
        self.reinforced = reinforced
        self.alpha = float(alpha)
        self.config = target.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs: Any) -> Any:
        kwargs.pop("use_cache", None)
        out = self.target(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        z_r = self.reinforced(input_ids=input_ids, attention_mask=attention_mask).logits
        out.logits = out.logits - self.alpha * torch.relu(z_r - out.logits)
        return out

    def save_lm(self, directory: Path) -> None:
        self.target.save_pretrained(Path(directory) / "target")
        self.reinforced.save_pretrained(Path(directory) / "reinforced")
        (Path(directory) / MARKER).write_text(json.dumps({"alpha": self.alpha}))

    @classmethod
    def load_lm(cls, directory: Path) -> WHPModel:
        from transformers import AutoModelForCausalLM

        alpha = json.loads((Path(directory) / MARKER).read_text())["alpha"]
        parts = [
            AutoModelForCausalLM.from_pretrained(str(Path(directory) / p), local_files_only=True).eval()
            for p in ("target", "reinforced")
        ]
        return cls(parts[0], parts[1], alpha).eval()


@register_method(
    "llm_whp",
    task="llm",
    family="llm",
    needs=("forget",),
    paper="Who's Harry Potter (Eldan & Russinovich, arXiv 2310.02238)",
)
class WHP(LMUnlearner):
    """Reinforce on D_f, then subtract the reinforced model's logit boosts."""

    config_cls = FinetuneConfig
    display = "WHP"
    toy: ClassVar[dict] = {"lr": 1e-3, "batch_size": 16, "epochs": 10, "alpha": 1.0}

    def unlearn(self, model: nn.Module, split: LMSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        with stopwatch() as t:
            target, reinforced, losses = reinforce(self, model, split, ctx, counter, "reinforce")
            out = WHPModel(target, reinforced, cfg.alpha)
        return build_result(
            self,
            out,
            seconds=t[0],
            steps=counter.steps,
            history=[{"step": i + 1, "finetune_loss": v} for i, v in enumerate(losses)],
            metadata={"display": self.display, "alpha": cfg.alpha},
        )
