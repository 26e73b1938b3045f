"""The model card written into every exact model directory: what is deletable and what never is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unlearnkit.models.backbones.base import Backbone

CARD_FILE = "MODEL_CARD.md"


def model_card(config: dict[str, Any], backbone: Backbone) -> str:
    d = backbone.describe()
    params = config.get("params", {})
    lines = [
        f"# {config.get('kind', 'exact').upper()} model",
        "",
        f"- strategy: `{config.get('kind')}` ({params.get('shards')} shards × {params.get('slices')} slices"
        + (f", budget {params['budget']}" if "budget" in params else "")
        + ")",
        f"- task: {backbone.task}; outputs: {config.get('num_classes')}",
        f"- data: `{config.get('data_name')}`",
        f"- created: {config.get('created_at')}",
        "",
        "## Backbone (never deletable)",
        "",
        f"{config.get('backbone')}.",
        "",
        "The frozen backbone weights"
        + (" and the tokenizer are the pretrained ones" if d.get("kind") == "hf" else " come from public data only")
        + ": no deletable row shaped them, so no deletion can require changing them. Every deletable row "
        "reaches the served model only through LoRA blocks and heads stored as lineage-tracked checkpoints; "
        "forgetting a row deactivates, rolls back or retrains exactly those.",
        "",
        f"- LoRA layers (bottom → top): {backbone.num_layers}",
        "- LoRA spec: `" + json.dumps(config.get("lora", {}), sort_keys=True) + "`",
    ]
    labels = config.get("label_names")
    if labels:
        lines += ["", "## Labels (declared, never derived from deletable rows)", "", ", ".join(map(str, labels))]
    lines += [
        "",
        "## Backbone description",
        "",
        "```json",
        json.dumps(d, indent=2, sort_keys=True, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_model_card(directory: Path, config: dict[str, Any], backbone: Backbone) -> Path:
    path = directory / CARD_FILE
    path.write_text(model_card(config, backbone))
    return path
