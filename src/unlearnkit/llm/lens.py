"""The parts of a Hugging Face causal LM that editing and extraction attacks touch, and the logit lens.

:func:`lm_parts` finds, for the common decoder families, the list of blocks, each block's MLP output
projection (the matrix ROME edits: GPT-2 ``mlp.c_proj`` (a ``Conv1D``, weight (d_ff, d_model)), GPT-J
``mlp.fc_out``, GPT-NeoX ``mlp.dense_4h_to_h``, Llama/Mistral/Qwen ``mlp.down_proj``, OPT ``fc2``; ``Linear``,
weight (d_model, d_ff)), the final norm and the unembedding. Any other architecture raises a one-line error.

**Lens layers** are indexed like ``output_hidden_states``: lens layer ``l`` is the residual stream after the
first ``l`` blocks (0 = the embeddings, ``n_layer`` = the final output). Editing block ``b`` (0-based) first
changes lens layer ``b + 1``. The logit lens (nostalgebraist 2020; Patil et al., arXiv 2309.17410, §3.2) decodes
the last position of lens layer ``l < n_layer`` as ``softmax(W_U · LN_f(h_l))``; lens layer ``n_layer`` is the
model's own output (HF already applies the final norm to the last hidden state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from unlearnkit.errors import ConfigError

# (blocks path, MLP output-projection path inside a block, final-norm path)
_LAYOUTS = (
    ("transformer.h", "mlp.c_proj", "transformer.ln_f"),  # GPT-2
    ("transformer.h", "mlp.fc_out", "transformer.ln_f"),  # GPT-J
    ("gpt_neox.layers", "mlp.dense_4h_to_h", "gpt_neox.final_layer_norm"),  # GPT-NeoX / Pythia
    ("model.layers", "mlp.down_proj", "model.norm"),  # Llama, Mistral, Qwen2, Gemma
    ("model.decoder.layers", "fc2", "model.decoder.final_layer_norm"),  # OPT
)


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


@dataclass(frozen=True)
class LMParts:
    """Handles into one causal LM: its blocks, their MLP output projections, the final norm, the unembedding."""

    blocks: Sequence[nn.Module]
    down_proj_path: str
    blocks_path: str
    final_norm: nn.Module
    unembed: nn.Module

    @property
    def n_layer(self) -> int:
        return len(self.blocks)

    def down_proj(self, block: int) -> nn.Module:
        if not 0 <= block < self.n_layer:
            raise ConfigError(
                f"layer {block} does not exist (the model has {self.n_layer} blocks: 0..{self.n_layer - 1})"
            )
        return _get(self.blocks[block], self.down_proj_path)

    def down_proj_name(self, block: int) -> str:
        """The ``state_dict`` name of block ``block``'s MLP output-projection weight."""
        return f"{self.blocks_path}.{block}.{self.down_proj_path}.weight"

    def lens(self, hidden: torch.Tensor, layer: int) -> torch.Tensor:
        """Logits of the logit lens at lens layer ``layer`` for hidden states ``hidden`` (…, d_model)."""
        if layer == self.n_layer:
            return self.unembed(hidden)  # HF's last hidden state is already normed
        return self.unembed(self.final_norm(hidden))


def lm_parts(model: Any) -> LMParts:
    """The :class:`LMParts` of ``model`` or a one-line :class:`ConfigError` naming the supported layouts."""
    for blocks_path, proj, norm in _LAYOUTS:
        blocks, final = _get(model, blocks_path), _get(model, norm)
        if blocks is None or final is None or len(blocks) == 0 or _get(blocks[0], proj) is None:
            continue
        unembed = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        if unembed is None:
            break
        return LMParts(blocks, proj, blocks_path, final, unembed)
    raise ConfigError(
        f"{type(model).__name__}: editing and extraction attacks support GPT-2, GPT-J, GPT-NeoX, Llama-style and "
        "OPT layouts (blocks, MLP output projection, final norm)"
    )


def is_conv1d(module: nn.Module) -> bool:
    """GPT-2's ``Conv1D`` stores its weight as (in, out); ``nn.Linear`` as (out, in)."""
    return type(module).__name__ == "Conv1D"


def last_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last real token (right padding)."""
    return attention_mask.sum(1) - 1


def lens_logprobs(
    model: Any, batch: dict[str, torch.Tensor], layers: Sequence[int], parts: LMParts | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities at each row's last position: the final output (B, V) and each lens layer (B, |layers|, V).

    Differentiable (callers wrap it in ``torch.no_grad`` when attacking).
    """
    parts = parts or lm_parts(model)
    out = model(**batch, output_hidden_states=True, use_cache=False)
    rows = torch.arange(batch["input_ids"].shape[0])
    last = last_positions(batch["attention_mask"])
    final = torch.log_softmax(out.logits[rows, last].float(), -1)
    if not layers:
        return final, final.new_zeros((final.shape[0], 0, final.shape[-1]))
    for layer in layers:
        if not 0 <= layer <= parts.n_layer:
            raise ConfigError(f"lens layer {layer} does not exist (0..{parts.n_layer})")
    lens = [torch.log_softmax(parts.lens(out.hidden_states[layer][rows, last], layer).float(), -1) for layer in layers]
    return final, torch.stack(lens, 1)


def default_attack_layers(n_layer: int, edit_layer: int) -> tuple[int, ...]:
    """Lens layers strictly after the edit's first affected one and before the output: ``edit+2 .. n_layer−1``.

    The paper attacks intermediate layers well after the edited block (GPT-J: edit 5–6, attack 16–23); at toy
    scale notes §4.5 attack ``≥ edit + 2``. Falls back to the later layers when the model is too shallow.
    """
    layers = tuple(range(edit_layer + 2, n_layer))
    return layers or tuple(range(min(edit_layer + 1, n_layer), n_layer + 1))


__all__ = ["LMParts", "default_attack_layers", "is_conv1d", "last_positions", "lens_logprobs", "lm_parts"]
