"""MEMIT: mass-editing memory in a transformer (Meng et al., arXiv 2210.07229, §4, eqs. 14–16; code
``memit/memit_main.py``, ``compute_z.py``), for single-fact deletion as in Patil et al. (arXiv 2309.17410, §5:
``--window_sizes 3``, three layers centred on the edit layer).

1. **Target** z: ROME's δ optimisation (objective + KL on "{subject} is a" + decay, Adam lr 0.5, 25 steps), with δ
   added to the output of the *last* window layer at the subject's last token (adding it to that block's MLP
   output is the same as adding it to the block output) and clamped to ``clamp_norm_factor``·‖h‖ (0.75).
2. **Spread**: for each window layer l, lowest first, with the updates so far applied: the residual
   r = (z − h_last) / (layers left), the key k_l (the input of l's MLP output projection at the subject's last
   token) and ΔW_l = r · [(λC_l + k kᵀ)⁻¹ k]ᵀ (eq. 14 with one key; λ = ``mom2_update_weight``, C_l = E[k kᵀ] over
   retain text, the identity without it).

Defaults are MEMIT's GPT-J hyper-parameters with the paper's 3-layer window; ``layer`` is the window's centre
(also what the attacks read as "the edit layer"). Departure: λ = 15,000 assumes GPT-J's d_ff = 16,384 and a
100k-sample C; the toy setting scales it to the tiny model's width (the share of r written at one key is about
kᵀ(λC)⁻¹k, which grows with d_ff / λ) and clamps δ at 1.5‖h‖ (at 0.75‖h‖ Fact Erasure left the answer in 3 of
10 outputs on the 6-layer world model; at 4‖h‖ random-fact accuracy fell by 0.25).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import require
from unlearnkit.context import RunContext
from unlearnkit.llm.editing.base import prompt_inputs, subject_positions
from unlearnkit.llm.editing.objectives.base import Objective
from unlearnkit.llm.editing.rome import ROME, ROMEConfig, _Probe, second_moment
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import LMParts, is_conv1d
from unlearnkit.registry import register_method


@dataclass(frozen=True)
class MEMITConfig(ROMEConfig):
    window: int = field(default=3, metadata={"help": "edited layers, centred on `layer` (--window_sizes)"})
    mom2_update_weight: float = field(default=15_000.0, metadata={"help": "λ, the weight of C in (λC + kkᵀ)"})
    steps: int = field(default=25, metadata={"help": "Adam steps on δ (v_num_grad_steps)"})
    clamp_norm_factor: float = field(default=0.75, metadata={"help": "‖δ‖ ≤ this × ‖h‖ (the block output)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.window >= 1, f"window must be >= 1, got {self.window}")
        require(self.mom2_update_weight > 0, f"mom2_update_weight must be > 0, got {self.mom2_update_weight}")
        require(
            self.layer - (self.window - 1) // 2 >= 0,
            f"a window of {self.window} around layer {self.layer} starts below layer 0",
        )

    @property
    def layers(self) -> tuple[int, ...]:
        start = self.layer - (self.window - 1) // 2
        return tuple(range(start, start + self.window))


@register_method(
    "llm_memit",
    task="llm_edit",
    family="llm_edit",
    needs=("fact",),
    paper="MEMIT (Meng et al., arXiv 2210.07229); deletion objectives of Patil et al. (arXiv 2309.17410)",
)
class MEMIT(ROME):
    """Spread one target residual over a window of MLP output projections, lowest layer first."""

    display = "MEMIT"
    config_cls = MEMITConfig
    toy: ClassVar[dict[str, Any]] = {
        "layer": 1,
        "prefix_lengths": (),
        "v_weight_decay": 0.0,
        "clamp_norm_factor": 1.5,
        "mom2_update_weight": 200.0,
    }

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
        layers = cfg.layers
        for layer in layers:
            parts.down_proj(layer)  # one-line error when the window leaves the model
        last = layers[-1]
        templates = self._templates(out, tokenizer, fact, ctx)
        probe = _Probe(parts.down_proj(last))
        try:
            delta, h_norm, history = self._value(
                out, parts, probe, tokenizer, fact, objective, templates, hidden_norm_layer=last + 1
            )
        finally:
            probe.remove()
        prompts = [t.format(fact.prompt) for t in templates]
        inputs = prompt_inputs(tokenizer, prompts)
        pos = subject_positions(tokenizer, prompts, fact.subject)
        rows = torch.arange(len(prompts))
        with torch.no_grad():
            z = out(**inputs, use_cache=False, output_hidden_states=True).hidden_states[last + 1][rows, pos].mean(0)
            z = z + delta
        names, norms = [], []
        for i, layer in enumerate(layers):
            proj = parts.down_proj(layer)
            probe = _Probe(proj)
            try:
                with torch.no_grad():
                    h = out(**inputs, use_cache=False, output_hidden_states=True).hidden_states[last + 1]
                    k = probe.inputs[rows, pos].float().mean(0)
            finally:
                probe.remove()
            resid = (z - h[rows, pos].mean(0)) / (len(layers) - i)
            cov = second_moment(out, proj, tokenizer, cov_texts, cfg.cov_tokens)
            if cov is None:
                cov = torch.eye(k.shape[0])
            adj = torch.linalg.solve(cfg.mom2_update_weight * cov.double() + torch.outer(k, k).double(), k.double())
            update = torch.outer(adj, resid.double()) if is_conv1d(proj) else torch.outer(resid.double(), adj)
            with torch.no_grad():
                proj.weight.add_(update.to(proj.weight.dtype))
            names.append(parts.down_proj_name(layer))
            norms.append(float(update.norm()))
        return (
            names,
            history,
            {
                "layers": list(layers),
                "delta_norm": float(delta.norm()),
                "hidden_norm": h_norm,
                "update_norms": norms,
                "covariance": "retain text" if cov_texts else "identity",
            },
        )
