"""The exact row of the LM benchmark: an S3T language model on the world, after ``forget`` of D_f's people.

The one rule of exact unlearning forbids a backbone trained on deletable text, so the S3T model's frozen base is
a tiny GPT-2 trained on a *public* corpus: people drawn from the same public word lists with another seed, none
of whom is in the deletable world. S3T then trains LoRA slices (attention and MLP input projections) on the
world's training texts, each text owned by its person; ``forget(owner=...)`` for every fold0 person deactivates
each shard's layers that saw them, and the served ensemble (the mean of the alive shards' logits,
:meth:`~unlearnkit.exact.EnsembleLM.logits`) is evaluated on the same items and against the same Retrain
reference as every other row.

Placement is owner-aware (every text of a person in one (shard, slice) cell, from a keyed hash of the person), and
the model has 8 shards × 4 slices: forgetting fold0's 10 people cuts at most 10 of the 32 cells, so shards survive
(a shard dies only when both of its orders' first slices are cut). With 3 shards × 2 slices every shard had seen
one of them and nothing was served.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

from unlearnkit.context import derive_seed
from unlearnkit.errors import RetrainRequiredError
from unlearnkit.exact import S3T, EnsembleLM  # ImportError when the exact engine has no LM support
from unlearnkit.llm.eval import evaluate_lm
from unlearnkit.llm.exact import EnsembleModule
from unlearnkit.llm.training import train_lm
from unlearnkit.llm.world import WorldModels, make_world, tiny_gpt2

PUBLIC_SEED_OFFSET = 10_000
S3T_SETTINGS = dict(
    shards=8, slices=4, budget=2, sharding="owner", epochs=30, lr=1e-2, batch_size=32, lora_rank=8, lora_alpha=16.0
)
TARGETS = ("attn.c_attn", "mlp.c_fc")


def public_texts(wm: WorldModels) -> list[str]:
    """Sentences and bridges of public people (another seed, names disjoint from the deletable world)."""
    taken = {p.name for p in wm.world.people}
    cfg = dataclasses.replace(wm.world.config, seed=wm.world.config.seed + PUBLIC_SEED_OFFSET)
    people = [p for p in make_world(cfg).people if p.name not in taken]
    return [t for p in people for t in (*p.statements(), *p.bridges())]


def owned_texts(wm: WorldModels) -> tuple[list[str], list[str]]:
    texts, owners = [], []
    for p in wm.world.people:
        if p.role == "holdout":
            continue
        mine = [*p.statements(), *(p.bridges() if p.role == "retain1" else [])]
        texts += mine
        owners += [p.name] * len(mine)
    return texts, owners


def s3t_row(wm: WorldModels, split: Any, evalset: Any, ref_logs: dict, seed: int) -> dict[str, Any]:
    from unlearnkit.bench.llm import TABLE_METRICS
    from unlearnkit.data.text import text_dataset
    from unlearnkit.models.backbones.hf import HFBackbone

    with tempfile.TemporaryDirectory(prefix="unlearnkit-s3t-lm.") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        base = tiny_gpt2(wm.tokenizer, wm.model_config, derive_seed(seed, "public-base"))
        train_lm(base, wm.tokenizer, public_texts(wm), wm.train_config, seed=derive_seed(seed, "public"))
        base.save_pretrained(work / "base")
        wm.tokenizer.save_pretrained(work / "base")
        base_seconds = time.perf_counter() - t0
        bb = HFBackbone(work / "base", task="causal-lm", max_length=16, targets=list(TARGETS))
        texts, owners = owned_texts(wm)
        data = text_dataset(
            bb,
            [f"<bos> {t} <eos>" for t in texts],
            ids=[f"text-{i}" for i in range(len(texts))],
            owners=owners,
            name="world",
        )
        t0 = time.perf_counter()
        settings = {**S3T_SETTINGS, "slices": min(S3T_SETTINGS["slices"], wm.model_config.n_layer)}  # ≤ LoRA layers
        model = S3T(backbone=bb, seed=seed, salt=f"bench-{seed}", **settings).fit(data, directory=work / "s3t")
        fit_seconds = time.perf_counter() - t0
        adapter = EnsembleModule(EnsembleLM(model))
        before = evaluate_lm(adapter, wm.tokenizer, evalset, reference_logs=ref_logs, metrics=["knowmem_f", "privleak"])
        t0 = time.perf_counter()
        receipts = [model.forget(owner=p.name) for p in wm.world.role("fold0")]
        forget_seconds = time.perf_counter() - t0
        served = model.served()
        alive = sorted({m["shard"] for m in served})
        try:
            after = evaluate_lm(
                adapter, wm.tokenizer, evalset, reference_logs=ref_logs, original=wm.target, metrics=list(TABLE_METRICS)
            )
        except RetrainRequiredError:  # every shard saw a forgotten person: the exact answer is a retrain
            after = {"note": "every shard dead after forget: retrain required"}
        model.close()
    return {
        "method": "S3T-LM (exact)",
        "stop_step": None,
        "seconds": forget_seconds,
        "guarantee": receipts[-1].guarantee,
        "forgotten_texts": sum(r.count for r in receipts),
        "fit_seconds": fit_seconds,
        "public_base_seconds": base_seconds,
        "served_after_forget": served,
        "shards_alive_after_forget": len(alive),
        "shards": settings["shards"],
        "before_forget": before,
        "settings": {**settings, "targets": list(TARGETS)},
        **after,
    }


__all__ = ["EnsembleModule", "owned_texts", "public_texts", "s3t_row"]
