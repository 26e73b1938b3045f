"""Input-Rephrasing defense (Patil et al., arXiv 2309.17410, §4 "Defense methods"): Fact Erasure on the original
prompt **and** on paraphrases of it in the same edit batch (the paper: 5 model-generated paraphrases from its
pool). The paraphrases come from ``Fact.edit_paraphrases``, which never overlap the attack's ``paraphrases``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unlearnkit.errors import ConfigError
from unlearnkit.llm.editing.objectives.base import OBJECTIVES, EditView, Objective, ObjectiveConfig, answer_probability
from unlearnkit.llm.facts import Fact


@dataclass(frozen=True)
class InputRephrasingDefenseConfig(ObjectiveConfig):
    paraphrases: int = field(default=5, metadata={"help": "edit paraphrases erased on besides the prompt"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.paraphrases < 1:
            raise ConfigError(f"paraphrases must be >= 1, got {self.paraphrases}")


@OBJECTIVES.register("input_rephrasing_defense")
class InputRephrasingDefense(Objective):
    display = "IR defense"
    config_cls = InputRephrasingDefenseConfig

    def prompts(self, fact: Fact) -> list[str]:
        if not fact.edit_paraphrases:
            raise ConfigError(f"input_rephrasing_defense needs edit paraphrases for {fact.prompt!r}")
        return [fact.prompt, *fact.edit_paraphrases[: self.config.paraphrases]]

    def loss(self, view: EditView) -> torch.Tensor:
        return answer_probability(view.final, view.answer).mean()
