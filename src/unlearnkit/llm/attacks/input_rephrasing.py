"""Input Rephrasing attack, blackbox (Patil et al., arXiv 2309.17410, §3.3; ``experiments/evaluate_parap_attack.py``):
sample ``samples`` one-token continuations (``do_sample=True``) for each of ``paraphrases`` rephrasings of the
prompt that the edit never saw (``Fact.paraphrases``); C = the sampled tokens, so B = paraphrases × samples
(the paper: 4 × 5 = 20). A fact without paraphrases gets an empty candidate set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from unlearnkit.approx._common import require
from unlearnkit.llm.attacks.base import ATTACKS, Attack, AttackConfig
from unlearnkit.llm.editing.base import prompt_inputs
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import lens_logprobs


@dataclass(frozen=True)
class InputRephrasingConfig(AttackConfig):
    paraphrases: int = field(default=4, metadata={"help": "unseen paraphrases sampled on (num_attack_parap)"})
    samples: int = field(default=5, metadata={"help": "one-token samples per paraphrase (bb_num_samples)"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.paraphrases >= 1 and self.samples >= 1, "paraphrases and samples must be >= 1")
        require(self.temperature > 0, f"temperature must be > 0, got {self.temperature}")


@ATTACKS.register("input_rephrasing")
class InputRephrasing(Attack):
    display = "Input Rephrasing"
    whitebox = False
    config_cls = InputRephrasingConfig

    def budget(self, model: nn.Module, edit_layer: int) -> int:
        return self.config.paraphrases * self.config.samples

    @torch.no_grad()
    def candidates(
        self, model: nn.Module, tokenizer: Any, fact: Fact, *, edit_layer: int, generator: torch.Generator
    ) -> list[int]:
        prompts = list(fact.paraphrases[: self.config.paraphrases])
        if not prompts:
            return []
        final, _ = lens_logprobs(model, prompt_inputs(tokenizer, prompts), ())
        probs = torch.softmax(final / self.config.temperature, -1)
        drawn = torch.multinomial(probs, self.config.samples, replacement=True, generator=generator)
        out: list[int] = []
        for tok in drawn.flatten().tolist():
            if tok not in out:
                out.append(tok)
        return out
