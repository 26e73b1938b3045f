"""ROME: rank-one model editing (Meng et al., arXiv 2202.05262, §3, eqs. 2–4; code ``rome/rome_main.py``,
``compute_u.py``, ``compute_v.py``), with the deletion objectives of Patil et al. (arXiv 2309.17410, §4).

Edits W, the MLP output projection of one block ℓ (GPT-2 ``c_proj``, GPT-J ``fc_out``, Llama ``down_proj``):

1. **Key** k* = the mean over context templates of W's input at the subject's last token; C = E[k kᵀ] over
   retain text (ROME: 100k Wikipedia samples); u = C⁻¹k*, normalised to ‖u‖ = 1.
2. **Value**: a vector δ (init 0) is added to W's output at the subject's last token of every edit prompt and
   optimised with Adam (lr 0.5, 20 steps) on
   ``objective + kl_factor·KL(p_orig ‖ p_δ on "{subject} is a") + v_weight_decay·‖δ‖/‖v₀‖²``,
   clamped after each step to ‖δ‖ ≤ clamp_norm_factor·‖v₀‖ (v₀ = W's original output there).
3. **Rank-one update** ΔW = u (δ / (u·k))ᵀ (for ``Conv1D``'s (d_ff, d_model) weight; transposed for ``Linear``),
   so that (W + ΔW) maps the prompt's key k to v₀ + δ, and keys orthogonal to C⁻¹k* are unaffected (eq. 2).

Defaults are ROME's GPT-J hyper-parameters. Departures: C gets a ridge of ``cov_ridge``·mean(diag C) (a few
thousand retain tokens leave C rank-deficient at toy scale); with no retain text C = I (ROME's
``mom2_adjustment=False``); context prefixes are sampled from the model from its BOS token.
Known failure (the paper's point): the edit acts on the output, and the answer stays readable from the later
layers' residual stream (Head Projection / Probability Delta) and from paraphrases (Input Rephrasing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import require
from unlearnkit.context import RunContext
from unlearnkit.llm.data import encode
from unlearnkit.llm.editing.base import (
    EditConfig,
    Editor,
    defended_layers,
    edit_view,
    last_token_kl,
    prompt_inputs,
    subject_positions,
    target_id,
)
from unlearnkit.llm.editing.objectives.base import Objective, first_token
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import LMParts, is_conv1d, lens_logprobs
from unlearnkit.registry import register_method


@dataclass(frozen=True)
class ROMEConfig(EditConfig):
    steps: int = field(default=20, metadata={"help": "Adam steps on δ (v_num_grad_steps)"})
    lr: float = field(default=0.5, metadata={"help": "Adam learning rate on δ (v_lr)"})
    kl_factor: float = field(default=0.0625, metadata={"help": "weight of the KL term on '{subject} is a'"})
    v_weight_decay: float = field(default=0.5, metadata={"help": "weight of ‖δ‖/‖v₀‖²"})
    clamp_norm_factor: float = field(default=4.0, metadata={"help": "‖δ‖ ≤ this × ‖v₀‖ after every step"})
    kl_prompt: str = field(default="{} is a", metadata={"help": "the KL prompt ({} = the subject)"})
    prefix_lengths: tuple[int, ...] = field(
        default=(5, 10), metadata={"help": "lengths of the sampled context prefixes (empty: the bare prompt only)"}
    )
    prefixes_per_length: int = field(default=10, metadata={"help": "context prefixes sampled per length"})
    cov_ridge: float = field(default=1e-2, metadata={"help": "ridge on C, relative to its mean diagonal"})
    cov_tokens: int = field(default=100_000, metadata={"help": "retain tokens used for C (ROME: 100k samples)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.steps >= 0 and self.lr > 0, f"steps must be >= 0 and lr > 0, got {self.steps}, {self.lr}")
        require(self.clamp_norm_factor > 0, f"clamp_norm_factor must be > 0, got {self.clamp_norm_factor}")
        require(
            min((self.kl_factor, self.v_weight_decay, self.cov_ridge)) >= 0,
            "kl_factor, v_weight_decay, cov_ridge must be >= 0",
        )
        require("{}" in self.kl_prompt, f"kl_prompt needs a {{}} slot for the subject, got {self.kl_prompt!r}")
        require(all(n >= 1 for n in self.prefix_lengths), "prefix_lengths must be >= 1")


class _Probe:
    """Forward hooks on W: record its inputs, and add δ to its output at chosen (row, position) pairs."""

    def __init__(self, module: nn.Module) -> None:
        self.inputs: torch.Tensor | None = None
        self.outputs: torch.Tensor | None = None
        self.delta: torch.Tensor | None = None
        self.mask: torch.Tensor | None = None
        self._handles = [module.register_forward_pre_hook(self._pre), module.register_forward_hook(self._post)]

    def _pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self.inputs = args[0]

    def _post(self, module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
        self.outputs = output
        if self.delta is None or self.mask is None:
            return None
        return output + self.mask[..., None] * self.delta

    def at(self, inputs: dict[str, torch.Tensor], positions: torch.Tensor, delta: torch.Tensor | None) -> None:
        mask = torch.zeros(inputs["input_ids"].shape, dtype=torch.float32)
        mask[torch.arange(len(positions)), positions] = 1.0
        self.mask, self.delta = mask, delta

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


@torch.no_grad()
def second_moment(
    model: nn.Module, module: nn.Module, tokenizer: Any, texts: Sequence[str], max_tokens: int, batch_size: int = 32
) -> torch.Tensor | None:
    """C = E[k kᵀ] of ``module``'s inputs over the non-pad tokens of ``texts`` (None without texts)."""
    if not texts:
        return None
    probe = _Probe(module)
    total, n = None, 0
    try:
        for s in range(0, len(texts), batch_size):
            b = encode(tokenizer, list(texts[s : s + batch_size]), eos=False)
            model(**b.inputs(), use_cache=False)
            keys = probe.inputs[b.attention_mask.bool()].double()
            total = keys.T @ keys if total is None else total + keys.T @ keys
            n += keys.shape[0]
            if n >= max_tokens:
                break
    finally:
        probe.remove()
    return (total / max(n, 1)).float()


@torch.no_grad()
def sample_prefixes(
    model: nn.Module, tokenizer: Any, lengths: Sequence[int], per_length: int, gen: torch.Generator
) -> list[str]:
    """ROME's context templates: ``"{}"`` plus short texts sampled from the model itself, each followed by ``{}``."""
    templates = ["{}"]
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    for length in lengths:
        x = torch.full((per_length, 1), start, dtype=torch.long)
        for _ in range(length):
            logits = model(input_ids=x, use_cache=False).logits[:, -1].float()
            x = torch.cat([x, torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)], 1)
        for row in x[:, 1:].tolist():
            text = tokenizer.decode(row, skip_special_tokens=True).replace("{", "").replace("}", "").strip()
            templates.append(f"{text} {{}}" if text else "{}")
    return templates


@register_method(
    "llm_rome",
    task="llm_edit",
    family="llm_edit",
    needs=("fact",),
    paper="ROME (Meng et al., arXiv 2202.05262); deletion objectives of Patil et al. (arXiv 2309.17410)",
)
class ROME(Editor):
    """Rank-one update of one MLP output projection; the value vector is optimised against the objective."""

    display = "ROME"
    config_cls = ROMEConfig
    toy: ClassVar[dict[str, Any]] = {"layer": 1, "prefix_lengths": (), "steps": 25, "v_weight_decay": 0.0}

    def _templates(self, out: nn.Module, tokenizer: Any, fact: Fact, ctx: RunContext) -> list[str]:
        """The context templates the key and value are averaged over: sampled prefixes, or the bare prompt."""
        cfg = self.config
        if not cfg.prefix_lengths:
            return ["{}"]
        gen = ctx.generator(self.name, fact.prompt)
        return sample_prefixes(out, tokenizer, cfg.prefix_lengths, cfg.prefixes_per_length, gen)

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
        templates = self._templates(out, tokenizer, fact, ctx)
        probe = _Probe(proj)
        try:
            u, k_star = self._left_vector(out, proj, tokenizer, fact, templates, cov_texts)
            delta, v0_norm, history = self._value(out, parts, probe, tokenizer, fact, objective, templates)
            k = self._key(out, probe, tokenizer, fact, ["{}"])
        finally:
            probe.remove()
        right = delta / torch.dot(u, k)
        weight = proj.weight
        with torch.no_grad():
            update = torch.outer(u, right) if is_conv1d(proj) else torch.outer(right, u)
            weight.add_(update.to(weight.dtype))
        return (
            [parts.down_proj_name(cfg.layer)],
            history,
            {
                "delta_norm": float(delta.norm()),
                "v0_norm": v0_norm,
                "update_norm": float(update.norm()),
                "covariance": "retain text" if cov_texts else "identity",
                "templates": len(templates),
                "key_cosine": float(torch.nn.functional.cosine_similarity(k, k_star, 0)),
            },
        )

    # -- the three steps ----------------------------------------------------------------------------------------
    def _key(
        self, model: nn.Module, probe: _Probe, tokenizer: Any, fact: Fact, templates: Sequence[str]
    ) -> torch.Tensor:
        """The mean input to W at the subject's last token over ``templates`` applied to the fact's prompt."""
        prompts = [t.format(fact.prompt) for t in templates]
        inputs = prompt_inputs(tokenizer, prompts)
        pos = subject_positions(tokenizer, prompts, fact.subject)
        probe.at(inputs, pos, None)
        with torch.no_grad():
            model(**inputs, use_cache=False)
        return probe.inputs[torch.arange(len(prompts)), pos].float().mean(0)

    def _left_vector(
        self,
        model: nn.Module,
        proj: nn.Module,
        tokenizer: Any,
        fact: Fact,
        templates: list[str],
        cov_texts: Sequence[str],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        probe = _Probe(proj)
        try:
            k_star = self._key(model, probe, tokenizer, fact, templates)
        finally:
            probe.remove()
        cov = second_moment(model, proj, tokenizer, cov_texts, cfg.cov_tokens)
        if cov is None:
            u = k_star.clone()
        else:
            ridge = cfg.cov_ridge * cov.diagonal().mean().clamp_min(1e-12)
            u = torch.linalg.solve(cov + ridge * torch.eye(cov.shape[0]), k_star)
        return u / u.norm(), k_star

    def _value(
        self,
        model: nn.Module,
        parts: LMParts,
        probe: _Probe,
        tokenizer: Any,
        fact: Fact,
        objective: Objective,
        templates: list[str],
        hidden_norm_layer: int | None = None,
    ) -> tuple[torch.Tensor, float, list[dict[str, float]]]:
        """Optimise δ (added to ``probe``'s module output at the subject's last token); its decay and clamp are
        relative to that output's norm, or to the block output's (lens layer ``hidden_norm_layer``) for MEMIT."""
        cfg = self.config
        prompts = [t.format(p) for t in templates for p in objective.prompts(fact)]
        inputs = prompt_inputs(tokenizer, prompts)
        pos = subject_positions(tokenizer, prompts, fact.subject)
        layers = defended_layers(objective, parts, cfg.layer)
        answer, target = first_token(tokenizer, fact.answer), target_id(objective, fact, tokenizer)
        d_model = parts.unembed.weight.shape[1]
        delta = torch.zeros(d_model, requires_grad=True)
        kl_inputs = kl_pos = kl_ref = None
        if fact.subject and cfg.kl_factor > 0:
            kl_prompts = [t.format(cfg.kl_prompt.format(fact.subject)) for t in templates]
            kl_inputs = prompt_inputs(tokenizer, kl_prompts)
            kl_pos = subject_positions(tokenizer, kl_prompts, fact.subject)
            probe.at(kl_inputs, kl_pos, None)
            with torch.no_grad():
                kl_ref = lens_logprobs(model, kl_inputs, (), parts)[0]
        probe.at(inputs, pos, None)
        with torch.no_grad():  # v₀: W's output at the subject's last token of the first edit prompt
            out = model(**inputs, use_cache=False, output_hidden_states=hidden_norm_layer is not None)
        ref = probe.outputs if hidden_norm_layer is None else out.hidden_states[hidden_norm_layer]
        v0_norm = float(ref[0, pos[0]].float().norm())
        opt = torch.optim.Adam([delta], lr=cfg.lr)
        history = []
        for step in range(cfg.steps):
            probe.at(inputs, pos, delta)
            loss_obj = objective.loss(edit_view(model, parts, inputs, layers, answer, target))
            loss = loss_obj + cfg.v_weight_decay * delta.norm() / max(v0_norm, 1e-12) ** 2
            row = {"step": step + 1, "objective": float(loss_obj.detach())}
            if kl_inputs is not None:
                probe.at(kl_inputs, kl_pos, delta)
                kl = last_token_kl(kl_ref, lens_logprobs(model, kl_inputs, (), parts)[0])
                loss = loss + cfg.kl_factor * kl
                row["kl"] = float(kl.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                limit = cfg.clamp_norm_factor * v0_norm
                if delta.norm() > limit:
                    delta.mul_(limit / delta.norm())
            history.append(row)
        probe.at(inputs, pos, None)
        return delta.detach(), v0_norm, history
