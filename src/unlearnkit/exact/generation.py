"""Generation from an exact model over a causal language model (S3T, SISA or Retrain on an HF LM backbone).

The served model is the ensemble of the alive shards: at every step each shard's LM gives next-token
logits, the logits are averaged (as S3T aggregates classifiers) and the next token is the argmax (greedy
decoding, so generation is a deterministic function of the served checkpoints). Every served checkpoint
is lineage-tracked, so once :meth:`~unlearnkit.exact.base.ExactStrategy.forget` returns, no checkpoint
that saw the deleted text shapes any later generation: a generation then equals the one of a model
trained without that text (the tests check this bitwise against such a counterfactual model).

Each call reads the served snapshot once, so a deletion that lands mid-generation never mixes versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from unlearnkit.errors import ConfigError, DataError, RetrainRequiredError
from unlearnkit.models.lora import base_of


class EnsembleLM:
    """``EnsembleLM(S3T(backbone=HFBackbone(path, task="causal-lm")).fit(text_dataset(...)))``.

    Methods: :meth:`logits`, :meth:`next_token_logits`, :meth:`generate`, :meth:`generate_ids`, :meth:`token_log_probs`,
    :meth:`nll`. ``model_version`` names the served snapshot a result came from.
    """

    def __init__(self, model: Any) -> None:
        model._check_fitted()
        if getattr(model.spec_, "task", None) != "causal-lm":
            raise ConfigError("EnsembleLM needs an exact model fitted on a causal-LM backbone (task='causal-lm')")
        self.model = model

    @property
    def tokenizer(self) -> Any:
        return self.model.spec_.tokenizer

    @property
    def config(self) -> Any:
        """The causal LM's Hugging Face config (context length, vocabulary): the same for every shard, dead or alive."""
        return base_of(self.model.template_).model.config

    def _members(self) -> tuple[int, list[nn.Module]]:
        self.model._ctx()  # the run's torch thread count
        snap, modules = self.model._served_modules()
        if not modules:
            raise RetrainRequiredError("every shard is dead (all its layers saw deleted data): retrain required")
        return snap.version, [base_of(m) for m in modules]

    @staticmethod
    @torch.no_grad()
    def _mean_logits(members: list[nn.Module], input_ids: torch.Tensor) -> torch.Tensor:
        mask = torch.ones_like(input_ids)
        return torch.stack([m.model(input_ids=input_ids, attention_mask=mask).logits for m in members]).mean(0)

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Averaged logits at every position of unpadded rows ``input_ids`` (n, t) → (n, t, vocab)."""
        _, members = self._members()
        ids = torch.as_tensor(input_ids).long()
        return self._mean_logits(members, ids.reshape(-1, ids.shape[-1]))

    def next_token_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Averaged logits of the next token after each row of ``input_ids`` (n, t) → (n, vocab)."""
        _, members = self._members()
        ids = torch.as_tensor(input_ids).long()
        return self._mean_logits(members, ids.reshape(-1, ids.shape[-1]))[:, -1]

    def generate_ids(self, input_ids: Sequence[int] | torch.Tensor, max_new_tokens: int = 20) -> torch.Tensor:
        """Greedy continuation of one prompt's token ids (stops at EOS); returns only the new ids."""
        if max_new_tokens < 0:
            raise ConfigError(f"max_new_tokens must be non-negative, got {max_new_tokens}")
        _, members = self._members()
        ids = torch.as_tensor(input_ids, dtype=torch.long).reshape(1, -1)
        if ids.shape[1] == 0:
            raise DataError("the prompt is empty (no tokens)")
        eos = self.tokenizer.eos_token_id
        limit = getattr(members[0].model.config, "n_positions", None) or getattr(
            members[0].model.config, "max_position_embeddings", None
        )
        new: list[int] = []
        for _ in range(max_new_tokens):
            if limit is not None and ids.shape[1] >= limit:
                break
            nxt = int(self._mean_logits(members, ids)[0, -1].argmax())
            new.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
            if eos is not None and nxt == eos:
                break
        return torch.tensor(new, dtype=torch.long)

    def generate(self, prompts: str | Sequence[str], max_new_tokens: int = 20) -> list[str]:
        """Greedy continuations (decoded, prompt excluded) of each prompt."""
        tok = self.tokenizer
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        out = []
        for p in prompts:
            ids = tok(p, add_special_tokens=False)["input_ids"]
            out.append(tok.decode(self.generate_ids(ids, max_new_tokens).tolist(), skip_special_tokens=True))
        return out

    def token_log_probs(self, texts: str | Sequence[str]) -> list[torch.Tensor]:
        """Per text, log p(token_t | tokens_<t) under the averaged logits (length = tokens − 1)."""
        tok = self.tokenizer
        texts = [texts] if isinstance(texts, str) else list(texts)
        _, members = self._members()
        out = []
        for t in texts:
            ids = torch.as_tensor(tok(t, add_special_tokens=False)["input_ids"], dtype=torch.long).reshape(1, -1)
            if ids.shape[1] < 2:
                out.append(torch.empty(0))
                continue
            logp = torch.log_softmax(self._mean_logits(members, ids)[0, :-1], dim=-1)
            out.append(logp.gather(1, ids[0, 1:, None])[:, 0])
        return out

    def nll(self, texts: str | Sequence[str]) -> torch.Tensor:
        """Mean negative log-likelihood per token of each text (NaN for texts under two tokens)."""
        return torch.stack(
            [-lp.mean() if len(lp) else torch.tensor(float("nan")) for lp in self.token_log_probs(texts)]
        )

    @property
    def model_version(self) -> int:
        return self.model.model_version
