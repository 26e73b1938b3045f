"""The language-model subject: embeddings, response-token JSD, LoRA recovery that keeps sparsity."""

from __future__ import annotations

import copy

import numpy as np
import torch

from unlearnkit.recovery import Candidates, LMSubject, PruneConfig, RecoveryTrainConfig, get_pruner, sparsity_of
from unlearnkit.recovery.prune import prunable


def _cands() -> Candidates:
    prompts = ["copy 1 2 3 ->", "reverse 4 5 6 ->", "add 3 4 ->", "anna berg was born in", "sort 3 1 2 ->"]
    return Candidates.from_texts(["1 2 3", "6 5 4", "7", "paris .", "1 2 3"], prompts)


def test_lm_subject_plumbing_and_lora_recovery(tiny_lm) -> None:
    model, tok = tiny_lm
    subject = LMSubject(tok, max_length=24)
    cands = _cands()
    emb = subject.embed(model, cands, "hidden")
    assert emb.shape == (5, model.config.n_embd) and np.isfinite(emb).all()
    assert subject.embed(model, cands, "tfidf").shape[0] == 5
    assert np.allclose(subject.divergence(model, model, cands), 0, atol=1e-7)
    pruned = get_pruner("magnitude")(PruneConfig(sparsity=0.5)).prune(model).model
    assert (subject.divergence(model, pruned, cands) > 0).all()
    before = copy.deepcopy(pruned.state_dict())
    loss0 = subject.forget_metrics(pruned, cands)["loss"]
    cfg = RecoveryTrainConfig(epochs=1, min_steps=20, lr=1e-2, batch_size=5)
    rec = subject.train(copy.deepcopy(pruned), cands, cfg, seed=0)
    assert all(torch.equal(before[k], v) for k, v in pruned.state_dict().items())
    assert type(rec).__name__ == "GPT2LMHeadModel" and not any("lora" in n for n, _ in rec.named_parameters())
    assert abs(sparsity_of(rec) - sparsity_of(pruned)) < 1e-6  # the masks were re-applied after the merge
    masks = {n: m.weight != 0 for n, m in prunable(pruned)}
    assert all(torch.equal(masks[n], m.weight != 0) | ((m.weight == 0) & masks[n]).any() for n, m in prunable(rec))
    assert subject.forget_metrics(rec, cands)["loss"] < loss0  # it learned the selection
