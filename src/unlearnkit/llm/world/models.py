"""The world's word-level tokenizer and tiny GPT-2, and the trained target / retrained reference pair.

The tokenizer is a ``tokenizers`` ``WordLevel`` model over :func:`public_vocabulary` (public word lists and
templates, never a person's data), wrapped in ``PreTrainedTokenizerFast`` so that every HF code path works.
The model is a random-init ``GPT2LMHeadModel`` (notes §4.2: 4 layers, 4 heads, width 64, ≈0.2 M parameters).

:func:`world_models` trains the target (all trained people) and the retrained reference (the same corpus
without fold0's people) once and caches their ``state_dict`` under ``cache_dir`` keyed by a config hash, so a
test session or benchmark trains each pair once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from unlearnkit.context import derive_seed
from unlearnkit.llm.hf import require_transformers
from unlearnkit.llm.training import LMTrainConfig, train_lm
from unlearnkit.llm.world.people import World, WorldConfig, make_world, public_vocabulary

log = logging.getLogger(__name__)
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


def world_tokenizer(extra: tuple[str, ...] = ()) -> Any:
    """A word-level ``PreTrainedTokenizerFast`` over the world's public vocabulary (built in code, offline).

    ``extra`` appends further public words (e.g. a task's instruction words) after the world's own, so the
    world's token ids do not change.
    """
    transformers = require_transformers()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    words = [*SPECIALS, *public_vocabulary()]
    words += [w for w in dict.fromkeys(extra) if w not in set(words)]
    vocab = {tok: i for i, tok in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<unk>"
    )


@dataclass(frozen=True)
class TinyGPT2Config:
    """Notes §4.2's model: ≈0.21 M parameters with the world's ≈150-token vocabulary."""

    n_layer: int = field(default=4, metadata={"help": "transformer blocks"})
    n_head: int = field(default=4, metadata={"help": "attention heads"})
    n_embd: int = field(default=64, metadata={"help": "width"})
    n_inner: int = field(default=256, metadata={"help": "MLP width"})
    n_positions: int = field(default=32, metadata={"help": "context length"})
    activation: str = field(default="gelu", metadata={"help": "MLP activation (exact GELU: one fused op on CPU)"})


def tiny_gpt2(tokenizer: Any, config: TinyGPT2Config | None = None, seed: int = 0) -> Any:
    """A random-init GPT-2 (dropout off) sized for ``tokenizer``; the same seed gives the same weights."""
    transformers = require_transformers()
    c = config or TinyGPT2Config()
    hf_config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=c.n_positions,
        n_embd=c.n_embd,
        n_layer=c.n_layer,
        n_head=c.n_head,
        n_inner=c.n_inner,
        activation_function=c.activation,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=False,
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(derive_seed(seed, "tiny-gpt2-init"))
    try:
        model = transformers.GPT2LMHeadModel(hf_config)
    finally:
        torch.random.set_rng_state(state)
    return model.eval()


@dataclass
class WorldModels:
    """A world with its tokenizer, the target model (all trained people) and the retrained reference."""

    world: World
    tokenizer: Any
    target: Any
    retrain: Any
    model_config: TinyGPT2Config
    train_config: LMTrainConfig
    seed: int
    seconds: dict[str, float] = field(default_factory=dict)

    def fresh(self, which: str = "target") -> Any:
        """A deep copy of the target or reference (methods never mutate their input, but callers may)."""
        import copy

        return copy.deepcopy(getattr(self, which))

    def untrained(self, seed: int | None = None) -> Any:
        return tiny_gpt2(self.tokenizer, self.model_config, self.seed if seed is None else seed)

    def record(self) -> dict[str, Any]:
        return {
            "world": asdict(self.world.config),
            "model": asdict(self.model_config),
            "train": asdict(self.train_config),
            "seed": self.seed,
            "tokenizer": "word-level over the public vocabulary",
        }


def _key(world_cfg: WorldConfig, model_cfg: TinyGPT2Config, train_cfg: LMTrainConfig, seed: int) -> str:
    blob = json.dumps(
        [asdict(world_cfg), asdict(model_cfg), asdict(train_cfg), seed, torch.__version__], sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def world_models(
    world_config: WorldConfig | None = None,
    model_config: TinyGPT2Config | None = None,
    train_config: LMTrainConfig | None = None,
    *,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> WorldModels:
    """Build the world, train the target and the retrained reference (or load them from ``cache_dir``)."""
    import time

    wcfg = world_config or WorldConfig(seed=seed)
    mcfg = model_config or TinyGPT2Config()
    tcfg = train_config or LMTrainConfig(max_length=mcfg.n_positions)
    world = make_world(wcfg)
    tokenizer = world_tokenizer()
    cache = Path(cache_dir) / f"world-{_key(wcfg, mcfg, tcfg, seed)}.pt" if cache_dir is not None else None
    models: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    saved = torch.load(cache, weights_only=True) if cache is not None and cache.is_file() else None
    for which, exclude in (("target", ()), ("retrain", (0,))):
        model = tiny_gpt2(tokenizer, mcfg, seed)
        if saved is not None:
            model.load_state_dict(saved[which])
            seconds[which] = float(saved["seconds"][which])
        else:
            start = time.perf_counter()
            train_lm(model, tokenizer, world.training_texts(exclude_folds=exclude), tcfg, seed=derive_seed(seed, which))
            seconds[which] = time.perf_counter() - start
            log.info("trained the %s model in %.1f s", which, seconds[which])
        models[which] = model.eval()
    if cache is not None and saved is None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        torch.save({k: models[k].state_dict() for k in models} | {"seconds": seconds}, tmp)
        tmp.replace(cache)
    return WorldModels(world, tokenizer, models["target"], models["retrain"], mcfg, tcfg, seed, seconds)


__all__ = ["SPECIALS", "TinyGPT2Config", "WorldModels", "tiny_gpt2", "world_models", "world_tokenizer"]
