"""Tiny damaged models for the recovery tests, built once per session (seconds on one core)."""

from __future__ import annotations

import pytest
import torch

from unlearnkit.bench.recovery_tasks import RecoveryTask, digits_task


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits() -> RecoveryTask:
    """A width-32 ResMLP on 500 digits, Wanda-pruned (retain calibration), class 3 ascended away; the pool is the
    retain set plus 20 planted near-duplicates of class-3 images."""
    return digits_task(0, width=32, depth=2, epochs=30, train_size=500, planted=20)


@pytest.fixture(scope="session")
def tiny_lm():
    """An untrained 1-layer GPT-2 over the recovery tokenizer (pruning and LoRA plumbing only)."""
    pytest.importorskip("transformers")
    from unlearnkit.bench.recovery_tasks import recovery_tokenizer
    from unlearnkit.llm.world import TinyGPT2Config, tiny_gpt2

    tok = recovery_tokenizer()
    model = tiny_gpt2(tok, TinyGPT2Config(n_layer=1, n_head=2, n_embd=32, n_inner=64, n_positions=24), seed=0)
    return model, tok
