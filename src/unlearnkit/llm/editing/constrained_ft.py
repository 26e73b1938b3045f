"""Constrained fine-tuning of one MLP matrix (Zhu et al., arXiv 2012.00363, eq. 3: ‖θ − θ₀‖∞ ≤ ε; the editing
baseline of ROME and of Patil et al., arXiv 2309.17410, §5; code ``baselines/ft/ft_main.py``,
``hparams/FT/*_constr.json``).

Adam (lr 5e-4, 25 steps) on the weight and bias of one block's MLP output projection only; after every step
each entry is clamped into [θ₀ − ε, θ₀ + ε] (ε = ``norm_constraint`` = 1e-4 in the paper's commands). Loss =
the deletion objective on the edit prompts (+ the lens terms of a defense) + ``kl_weight``·KL(p₀ ‖ p) of the
next-token distribution on retain prompts, a locality anchor the paper's FT does not have (default 0; the toy
configuration uses it, notes §4.4). Departure: the paper stops an injection edit early once its loss stays
below 1e-2 for 5 steps; here every edit runs its step budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import require
from unlearnkit.context import RunContext
from unlearnkit.llm.editing.base import (
    EditConfig,
    Editor,
    defended_layers,
    edit_view,
    last_logprobs,
    last_token_kl,
    prompt_inputs,
    target_id,
)
from unlearnkit.llm.editing.objectives.base import Objective, first_token
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import LMParts, lens_logprobs
from unlearnkit.registry import register_method


@dataclass(frozen=True)
class ConstrainedFTConfig(EditConfig):
    steps: int = field(default=25, metadata={"help": "Adam steps"})
    lr: float = field(default=5e-4, metadata={"help": "Adam learning rate"})
    norm_constraint: float = field(default=1e-4, metadata={"help": "ε of the L∞ box around the original weights"})
    kl_weight: float = field(default=0.0, metadata={"help": "weight of the KL anchor on retain prompts (paper: 0)"})
    kl_prompts: int = field(default=8, metadata={"help": "retain prompts in the KL anchor"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.steps >= 0 and self.lr > 0, f"steps must be >= 0 and lr > 0, got {self.steps}, {self.lr}")
        require(self.norm_constraint > 0, f"norm_constraint must be > 0, got {self.norm_constraint}")
        require(self.kl_weight >= 0 and self.kl_prompts >= 0, "kl_weight and kl_prompts must be >= 0")


@register_method(
    "llm_constrained_ft",
    task="llm_edit",
    family="llm_edit",
    needs=("fact",),
    paper="constrained fine-tuning (Zhu et al., arXiv 2012.00363), as in Patil et al. (arXiv 2309.17410)",
)
class ConstrainedFT(Editor):
    """Fine-tune one MLP output projection inside an L∞ box against the deletion objective."""

    display = "Constrained FT"
    config_cls = ConstrainedFTConfig
    toy: ClassVar[dict[str, Any]] = {"layer": 1, "norm_constraint": 0.02, "steps": 40, "lr": 2e-3, "kl_weight": 1.0}

    def _apply(
        self,
        out: nn.Module,
        parts: LMParts,
        tokenizer: Any,
        fact: Fact,
        objective: Objective,
        retain_prompts: Sequence[str],
        cov_texts: Sequence[str],
        ctx: RunContext,
    ) -> tuple[list[str], list[dict[str, float]], dict[str, Any]]:
        cfg = self.config
        proj = parts.down_proj(cfg.layer)
        params = [p for p in (proj.weight, getattr(proj, "bias", None)) if p is not None]
        originals = [p.detach().clone() for p in params]
        for p in params:
            p.requires_grad_(True)
        inputs = prompt_inputs(tokenizer, objective.prompts(fact))
        layers = defended_layers(objective, parts, cfg.layer)
        answer, target = first_token(tokenizer, fact.answer), target_id(objective, fact, tokenizer)
        anchor = list(retain_prompts)[: cfg.kl_prompts] if cfg.kl_weight > 0 else []
        anchor_inputs = prompt_inputs(tokenizer, anchor) if anchor else None
        anchor_ref = last_logprobs(out, anchor_inputs) if anchor_inputs is not None else None
        opt = torch.optim.Adam(params, lr=cfg.lr)
        history = []
        for step in range(cfg.steps):
            loss_obj = objective.loss(edit_view(out, parts, inputs, layers, answer, target))
            loss = loss_obj
            row = {"step": step + 1, "objective": float(loss_obj.detach())}
            if anchor_inputs is not None:
                kl = last_token_kl(anchor_ref, lens_logprobs(out, anchor_inputs, (), parts)[0])
                loss = loss + cfg.kl_weight * kl
                row["kl"] = float(kl.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p, p0 in zip(params, originals, strict=True):
                    p.copy_(torch.maximum(torch.minimum(p, p0 + cfg.norm_constraint), p0 - cfg.norm_constraint))
            history.append(row)
        names = [parts.down_proj_name(cfg.layer)] + (
            [parts.down_proj_name(cfg.layer)[: -len("weight")] + "bias"] if len(params) > 1 else []
        )
        change = max(float((p.detach() - p0).abs().max()) for p, p0 in zip(params, originals, strict=True))
        return names, history, {"max_abs_change": change}
