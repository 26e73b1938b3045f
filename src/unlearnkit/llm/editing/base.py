"""The editor base: one fact, one deletion objective, one edited copy of the model.

Every editor (registered as a method with ``family="llm_edit"``) implements :meth:`Editor.edit`, which returns an
:class:`EditResult` holding an edited *copy* (the input is never mutated), the parameters it changed and its
history. The shared plumbing lives here: tokenising edit prompts, the subject's last-token position (ROME's key
position), the objective's target token, and :func:`edit_view`, which runs the model once and hands the
objective the final and logit-lens log-probabilities it reads.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import MethodConfig, config_to_dict, require
from unlearnkit.context import RunContext
from unlearnkit.errors import ConfigError
from unlearnkit.llm.data import encode
from unlearnkit.llm.editing.objectives.base import EditView, Objective, first_token
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import LMParts, default_attack_layers, lens_logprobs, lm_parts


@dataclass(frozen=True)
class EditConfig(MethodConfig):
    """The edited block (0-based). Default 5: ROME's GPT-J layer (``hparams/ROME/EleutherAI_gpt-j-6B.json``)."""

    layer: int = field(default=5, metadata={"help": "the block whose MLP output projection is edited (0-based)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.layer >= 0, f"layer must be >= 0, got {self.layer}")


@dataclass
class EditResult:
    """An edited copy of the model and what the edit did."""

    model: nn.Module
    editor: str
    objective: str
    layer: int
    changed: list[str]
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {
            "editor": self.editor,
            "objective": self.objective,
            "layer": self.layer,
            "changed": self.changed,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            **self.info,
        }


class Editor:
    """Base of the editors: :meth:`edit` deletes one fact from a copy of the model with one objective."""

    name: ClassVar[str] = ""
    display: ClassVar[str] = ""
    config_cls: ClassVar[type] = EditConfig
    toy: ClassVar[dict[str, Any]] = {}
    """Config overrides used on the embedded world's 6-layer model (the extraction benchmark)."""

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.config_cls()

    def edit(
        self,
        model: nn.Module,
        tokenizer: Any,
        fact: Fact,
        objective: Objective,
        *,
        retain_prompts: Sequence[str] = (),
        cov_texts: Sequence[str] = (),
        ctx: RunContext | None = None,
    ) -> EditResult:
        """Delete ``fact`` from a frozen copy of ``model`` (``model`` itself is never touched)."""
        start = time.perf_counter()
        out, parts, ctx = self._prepare(model, ctx)
        changed, history, info = self._apply(out, parts, tokenizer, fact, objective, retain_prompts, cov_texts, ctx)
        for p in out.parameters():
            p.requires_grad_(True)
        cfg = self.config
        elapsed = time.perf_counter() - start
        return EditResult(out, self.name, objective.name, cfg.layer, changed, cfg.steps, elapsed, history, info)

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
        """Edit ``out`` (frozen) in place; returns the changed parameter names, the optimisation history and what
        the editor reports about its update."""
        raise NotImplementedError

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "config": config_to_dict(self.config)}

    # -- shared plumbing ----------------------------------------------------------------------------------------
    def _prepare(self, model: nn.Module, ctx: RunContext | None) -> tuple[nn.Module, LMParts, RunContext]:
        ctx = ctx or RunContext()
        ctx.apply_threads()
        out = copy.deepcopy(model).eval()
        for p in out.parameters():
            p.requires_grad_(False)
        parts = lm_parts(out)
        parts.down_proj(self.config.layer)  # a one-line error when the layer does not exist
        return out, parts, ctx


def prompt_inputs(tokenizer: Any, prompts: Sequence[str]) -> dict[str, torch.Tensor]:
    """``BOS prompt`` rows, right-padded (the model's own tokenizer; no EOS)."""
    return encode(tokenizer, list(prompts), eos=False).inputs()


def subject_positions(tokenizer: Any, prompts: Sequence[str], subject: str) -> torch.Tensor:
    """Index of the subject's last token in each ``BOS prompt`` row (ROME's lookup: tokenise the prompt up to the
    end of the subject's first occurrence); the prompt's last token when there is no subject."""
    bos = 1 if tokenizer.bos_token_id is not None else 0
    out = []
    for p in prompts:
        if subject:
            if subject not in p:
                raise ConfigError(f"subject {subject!r} does not occur in {p!r}")
            p = p[: p.index(subject) + len(subject)]
        out.append(bos + len(tokenizer(p, add_special_tokens=False)["input_ids"]) - 1)
    return torch.tensor(out)


def target_id(objective: Objective, fact: Fact, tokenizer: Any) -> int | None:
    text = objective.target_text(fact, tokenizer)
    return None if text is None else first_token(tokenizer, text)


def edit_view(
    model: nn.Module,
    parts: LMParts,
    inputs: dict[str, torch.Tensor],
    layers: Sequence[int],
    answer: int,
    target: int | None,
) -> EditView:
    final, lens = lens_logprobs(model, inputs, layers, parts)
    return EditView(final, lens, answer, target)


def defended_layers(objective: Objective, parts: LMParts, layer: int) -> tuple[int, ...]:
    return objective.lens_layers(default_attack_layers(parts.n_layer, layer))


def last_token_kl(ref_logp: torch.Tensor, logp: torch.Tensor) -> torch.Tensor:
    """KL(p_ref ‖ p) of next-token distributions (rows × V log-probabilities), averaged over rows."""
    return (ref_logp.exp() * (ref_logp - logp)).sum(-1).mean()


@torch.no_grad()
def last_logprobs(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    final, _ = lens_logprobs(model, inputs, ())
    return final


__all__ = [
    "EditConfig",
    "EditResult",
    "Editor",
    "defended_layers",
    "edit_view",
    "last_logprobs",
    "last_token_kl",
    "prompt_inputs",
    "subject_positions",
    "target_id",
]
