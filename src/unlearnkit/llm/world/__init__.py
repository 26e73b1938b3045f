"""The embedded default for LM unlearning: a generated people-and-facts world and a tiny GPT-2 trained on it.

Public API (later work on editing, extraction attacks and recovery builds on it)::

    from unlearnkit.llm.world import WorldConfig, make_world, world_models

    wm = world_models(seed=0, cache_dir=".cache")     # world + tokenizer + target + retrained reference
    split, evalset = wm.world.split(), wm.world.eval_set()
"""

from unlearnkit.llm.world.models import SPECIALS, TinyGPT2Config, WorldModels, tiny_gpt2, world_models, world_tokenizer
from unlearnkit.llm.world.people import (
    CITIES,
    FIRST,
    JOBS,
    LAST,
    QUESTIONS,
    STATEMENTS,
    Person,
    World,
    WorldConfig,
    make_world,
    public_vocabulary,
)

__all__ = [
    "CITIES",
    "FIRST",
    "JOBS",
    "LAST",
    "QUESTIONS",
    "SPECIALS",
    "STATEMENTS",
    "Person",
    "TinyGPT2Config",
    "World",
    "WorldConfig",
    "WorldModels",
    "make_world",
    "public_vocabulary",
    "tiny_gpt2",
    "world_models",
    "world_tokenizer",
]
