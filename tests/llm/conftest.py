"""A tiny world and its target / retrained GPT-2 pair, trained once per session (a few seconds on one core)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("rouge_score")

from unlearnkit.llm.training import LMTrainConfig
from unlearnkit.llm.world import TinyGPT2Config, WorldConfig, WorldModels, world_models

TINY_WORLD = WorldConfig(folds=2, fold_size=4, retain1=8, retain2=4, holdout=4, perturbed=3, seed=0)
TINY_MODEL = TinyGPT2Config(n_layer=2, n_head=2, n_embd=32, n_inner=64, n_positions=32)
TINY_TRAIN = LMTrainConfig(steps=120, lr=1e-2, batch_size=32, max_length=32)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("llm-models")


@pytest.fixture(scope="session")
def tiny(tiny_cache) -> WorldModels:
    torch.set_num_threads(1)
    return world_models(TINY_WORLD, TINY_MODEL, TINY_TRAIN, seed=0, cache_dir=tiny_cache)
