"""The causal-LM :class:`~unlearnkit.recovery.subject.Subject`: instructions (prompt → response) for HF models.

Embeddings: the reference's mean-pooled last hidden state over the prompt (PASER embeds the instruction only;
a candidate with no prompt is embedded by its response), or TF-IDF + SVD, or a local sentence-transformers
model. Degradation: the response-token-averaged JSD (:func:`~unlearnkit.recovery.divergence.token_jsd`).
Recovery: LoRA via ``peft`` on every prunable projection (PASER's ``main.py``: r 8, α 16, dropout 0.05),
answer-only loss, merged afterwards; pruned weights are zeroed again after the merge so the model stays as
sparse as it was (``keep_sparsity``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.context import derive_seed
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.llm.data import IGNORE, TextBatch, cycle_batches, encode
from unlearnkit.llm.losses import mean_nll, token_logprobs
from unlearnkit.recovery.candidates import Candidates
from unlearnkit.recovery.divergence import token_jsd
from unlearnkit.recovery.embed import packaged_minilm, sentence_transformer, tfidf_svd
from unlearnkit.recovery.prune.base import _is_conv1d, apply_masks, masks_of, prunable
from unlearnkit.recovery.subject import RecoveryTrainConfig, Subject

CHUNK = 64


class LMSubject(Subject):
    kind = "text"

    def __init__(self, tokenizer: Any, max_length: int = 256) -> None:
        if tokenizer is None:
            raise ConfigError("language-model recovery needs the model's tokenizer")
        self.tokenizer = tokenizer
        self.max_length = max_length

    def encode(self, cands: Candidates) -> TextBatch:
        return encode(self.tokenizer, cands.responses or [], self.max_length, prompts=cands.prompt_list())

    def _chunks(self, batch: TextBatch) -> Any:
        for start in range(0, len(batch), CHUNK):
            part = batch.take(range(start, min(start + CHUNK, len(batch))))
            width = int(part.attention_mask.sum(1).max())
            yield TextBatch(part.input_ids[:, :width], part.attention_mask[:, :width], part.labels[:, :width])

    @torch.no_grad()
    def embed(self, reference: nn.Module, cands: Candidates, how: str = "hidden", seed: int = 0) -> np.ndarray:
        if how == "tfidf":
            return tfidf_svd(cands.texts(), seed=seed)
        if how.startswith("sbert:"):
            return sentence_transformer(cands.texts(), how[len("sbert:") :])
        if how == "minilm":
            return packaged_minilm(
                cands.prompt_list() if any(p.strip() for p in cands.prompt_list()) else cands.texts()
            )
        if how != "hidden":
            raise ConfigError(f"text candidates embed with 'hidden', 'tfidf', 'minilm' or 'sbert:PATH', not {how!r}")
        heads = [p if p.strip() else r for p, r in zip(cands.prompt_list(), cands.responses or [], strict=True)]
        batch = encode(self.tokenizer, heads, self.max_length, eos=False)
        reference.eval()
        rows = []
        for part in self._chunks(batch):
            hidden = reference(**part.inputs(), output_hidden_states=True).hidden_states[-1]
            mask = part.attention_mask.unsqueeze(-1).float()
            rows.append((hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0))
        return torch.cat(rows).double().numpy()

    @torch.no_grad()
    def divergence(self, reference: nn.Module, current: nn.Module, cands: Candidates) -> np.ndarray:
        reference.eval()
        current.eval()
        out = [
            token_jsd(reference(**p.inputs()).logits, current(**p.inputs()).logits, p.labels)
            for p in self._chunks(self.encode(cands))
        ]
        return torch.cat(out).numpy()

    def costs(self, cands: Candidates) -> np.ndarray:
        return self.encode(cands).attention_mask.sum(1).double().numpy()

    def _grad(self, model: nn.Module, params: list[nn.Parameter], batch: TextBatch) -> torch.Tensor:
        loss = mean_nll(model(**batch.inputs()).logits, batch.labels)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        pairs = zip(grads, params, strict=True)
        return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in pairs])

    def alignment(self, model: nn.Module, cands: Candidates, forget: Candidates) -> np.ndarray:
        was = model.training
        model.eval()
        params = [p for p in model.parameters() if p.requires_grad]
        try:
            g_forget = self._grad(model, params, self.encode(forget))
            batch = self.encode(cands)
            cos = []
            for i in range(len(batch)):
                row = batch.take([i])
                width = int(row.attention_mask.sum())
                row = TextBatch(row.input_ids[:, :width], row.attention_mask[:, :width], row.labels[:, :width])
                cos.append(float(F.cosine_similarity(self._grad(model, params, row), g_forget, dim=0)))
        finally:
            model.train(was)
        return np.asarray(cos)

    def train(self, model: nn.Module, cands: Candidates, cfg: RecoveryTrainConfig, seed: int) -> nn.Module:
        from peft import LoraConfig, get_peft_model

        if not len(cands):
            return model
        masks = masks_of(model) if cfg.keep_sparsity else {}
        targets = [name for name, _ in prunable(model)]
        if not targets:
            raise DataError("the model has no Linear/Conv1D projections to put LoRA on")
        modules = dict(model.named_modules())
        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=targets,
            fan_in_fan_out=any(_is_conv1d(modules[t]) for t in targets),
            bias="none",
        )
        state = torch.random.get_rng_state()
        torch.manual_seed(derive_seed(seed, "recovery-lora-init"))
        try:
            wrapped = get_peft_model(model, lora)
        finally:
            torch.random.set_rng_state(state)
        params = [p for p in wrapped.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
        gen = torch.Generator().manual_seed(derive_seed(seed, "recovery-batches"))
        batches = cycle_batches(self.encode(cands), cfg.batch_size, gen)
        wrapped.train()
        dropout_state = torch.random.get_rng_state()
        torch.manual_seed(derive_seed(seed, "recovery-dropout"))
        try:
            for _ in range(cfg.steps_for(len(cands))):
                batch = next(batches)
                loss = mean_nll(wrapped(**batch.inputs()).logits, batch.labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        finally:
            torch.random.set_rng_state(dropout_state)
        merged = wrapped.merge_and_unload()
        if masks:
            apply_masks(merged, masks)
        return merged.eval()

    @torch.no_grad()
    def forget_metrics(self, model: nn.Module, forget: Candidates) -> dict[str, float]:
        return self._scores(model, forget)

    @torch.no_grad()
    def _scores(self, model: nn.Module, cands: Candidates) -> dict[str, float]:
        """Teacher-forced ``accuracy`` (share of responses whose every token is the argmax: exact match),
        ``token_accuracy`` and mean NLL ``loss`` over response tokens."""
        model.eval()
        hit = tot = nll = exact = 0.0
        for part in self._chunks(self.encode(cands)):
            logits = model(**part.inputs()).logits
            lp, mask = token_logprobs(logits, part.labels)
            target = part.labels[:, 1:]
            right = (logits[:, :-1].argmax(-1) == target) & (target != IGNORE)
            hit += float(right.sum())
            exact += float((right.sum(1) == mask.sum(1)).sum())
            tot += float(mask.sum())
            nll += float(-lp.sum())
        return {
            "accuracy": exact / max(len(cands), 1),
            "token_accuracy": hit / max(tot, 1.0),
            "loss": nll / max(tot, 1.0),
        }

    def utility(self, model: nn.Module, data: Any) -> float:
        """Teacher-forced response-token accuracy on ``data`` (text candidates)."""
        if not isinstance(data, Candidates) or data.kind != "text":
            raise ConfigError("LM utility needs text candidates (prompt/response)")
        return self._scores(model, data)["token_accuracy"]


__all__ = ["LMSubject"]
