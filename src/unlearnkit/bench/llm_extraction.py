"""The extraction benchmark (Patil et al., arXiv 2309.17410, Table 1 at toy scale; notes §4.5–4.6, §5.2).

Per seed: :func:`~unlearnkit.llm.world.world_models` trains a **6-layer** tiny GPT-2 on the generated world (the
target) and the same model without fold0's people (the retrained reference), cached by config hash. The facts are
fold0's birthplaces and jobs that the target knows (the paper's correctness filter); each is deleted *on its own*
from the clean target (single-fact deletion) by every editor (ROME, MEMIT, constrained FT, their ``toy``
settings: block 1 edited; MEMIT's window 0–2) × every objective (Error Injection, Empty Response, Fact Erasure and
the three defenses), then attacked:
Head Projection and Probability Delta on lens layers 3–5 (after the edit), Input Rephrasing on the world's two
question templates (never used in an edit), and their union. The **floor** is each attack on the retrained
model, which never saw the facts. ΔAcc uses neighbours (other people with the same answer) and random retain2
facts; accuracy = the answer in a 3-token greedy continuation.

Outputs (``out_dir``): ``results.json`` (config, environment, every seed's per-fact rows), ``results.md`` (the
attack × objective matrix per editor, the paper's directions with majority-of-seeds counts), per-layer
answer-rank figures (PNG + PDF). Seeds are resumable (``seed-N.json``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unlearnkit.context import RunContext
from unlearnkit.llm.attacks import ATTACKS
from unlearnkit.llm.attacks.metrics import answer_ranks, attack_hits, evaluate_edit, measure_before, qa_accuracy
from unlearnkit.llm.editing import OBJECTIVES, editor
from unlearnkit.llm.facts import world_facts
from unlearnkit.llm.training import LMTrainConfig
from unlearnkit.llm.world import TinyGPT2Config, WorldConfig, world_models

#: the extraction model: notes §4.6's 6-layer tiny GPT-2 (the 4-layer default shows no logit-lens leak, §4.5)
EXTRACTION_MODEL = TinyGPT2Config(n_layer=6)
OBJECTIVE_ORDER = (
    "error_injection",
    "empty_response",
    "fact_erasure",
    "head_projection_defense",
    "max_entropy_defense",
    "input_rephrasing_defense",
)
ATTACK_ORDER = ("head_projection", "probability_delta", "input_rephrasing", "union")


@dataclass
class ExtractionBenchConfig:
    seeds: tuple[int, ...] = (0, 1, 2)
    editors: tuple[str, ...] = ("rome", "memit", "constrained_ft")
    objectives: tuple[str, ...] = OBJECTIVE_ORDER
    facts: int = 10
    """Facts deleted per seed (fold0's known birthplaces and jobs, in world order)."""
    attributes: tuple[str, ...] = ("city", "job")
    k: int = 2
    """Top-k/bottom-k of the whitebox attacks (the paper: 4, over a 50k vocabulary; the world has ≈150 tokens)."""
    known_only: bool = True
    """Keep only facts whose answer the target generates (the paper's correctness filter)."""
    random_facts: int = 20
    max_new_tokens: int = 3
    editor_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    objective_overrides: dict[str, dict[str, Any]] = field(default_factory=lambda: {"empty_response": {"dummy": ""}})
    """Empty Response targets EOS: the world tokenizer has no ``dummy`` token."""
    world: WorldConfig | None = None
    model: TinyGPT2Config = EXTRACTION_MODEL
    train: LMTrainConfig | None = None
    cache_dir: Path | None = None
    resume: bool = True

    @classmethod
    def quick(cls) -> ExtractionBenchConfig:
        return cls(seeds=(0,), facts=4, objectives=("fact_erasure", "max_entropy_defense", "input_rephrasing_defense"))


def _attacks(cfg: ExtractionBenchConfig) -> list[Any]:
    out = []
    for name in ATTACK_ORDER:
        cls = ATTACKS.get(name)
        out.append(ATTACKS.build(name, {"k": cfg.k} if "k" in cls.config_cls.__dataclass_fields__ else {}))
    return out


def _hits(model: Any, tok: Any, facts: list, attacks: list, layer: int, seed: int) -> dict[str, list[bool]]:
    return {
        a.name: [
            h["hit"]
            for h in attack_hits(model, tok, facts, a, edit_layer=layer, generator=torch.Generator().manual_seed(seed))
        ]
        for a in attacks
    }


def run_seed(seed: int, cfg: ExtractionBenchConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    ctx = RunContext(seed=seed)
    world = cfg.world or WorldConfig(seed=seed)
    wm = world_models(world, cfg.model, cfg.train, seed=seed, cache_dir=cfg.cache_dir)
    tok = wm.tokenizer
    candidates = world_facts(wm.world, ("fold0",), cfg.attributes)
    befores = [measure_before(wm.target, tok, f, cfg.max_new_tokens) for f in candidates.facts]
    known = [
        (f, b) for f, b in zip(candidates.facts, befores, strict=True) if b["recall"] == 1.0 or not cfg.known_only
    ][: cfg.facts]
    facts = [f for f, _ in known]
    random_items = candidates.retain[: cfg.random_facts]
    random_before = qa_accuracy(wm.target, tok, random_items, cfg.max_new_tokens)
    cov = wm.world.split().retain
    retain_prompts = [q.question for q in candidates.retain]
    attacks = _attacks(cfg)
    editors = {name: editor(name, toy=True, **cfg.editor_overrides.get(name, {})) for name in cfg.editors}
    layers = {e.config.layer for e in editors.values()}
    if len(layers) != 1:
        from unlearnkit.errors import ConfigError

        raise ConfigError(f"the editors must edit the same layer (one floor per attack), got {sorted(layers)}")
    layer = layers.pop()
    result: dict[str, Any] = {
        "seed": seed,
        "facts": [f.to_dict() for f in facts],
        "candidates": len(candidates.facts),
        "edit_layer": layer,
        "budgets": {a.name: a.budget(wm.target, layer) for a in attacks},
        "attack_layers": list(attacks[0].layers(wm.target, layer)),
        "floor": _hits(wm.retrain, tok, facts, attacks, layer, seed),
        "target": _hits(wm.target, tok, facts, attacks, layer, seed),
        "ranks": {
            "target": [b["ranks"] for _, b in known],
            "retrain": [answer_ranks(wm.retrain, tok, f) for f in facts],
        },
        "train_seconds": wm.seconds,
        "cells": {},
    }
    for ename, ed in editors.items():
        for oname in cfg.objectives:
            objective = OBJECTIVES.build(oname, cfg.objective_overrides.get(oname, {}))
            start = time.perf_counter()
            rows = []
            for fact, before in known:
                edited = ed.edit(wm.target, tok, fact, objective, retain_prompts=retain_prompts, cov_texts=cov, ctx=ctx)
                rows.append(
                    evaluate_edit(
                        wm.target,
                        edited.model,
                        tok,
                        fact,
                        kind=objective.kind,
                        attacks=attacks,
                        edit_layer=layer,
                        random_items=random_items,
                        random_before=random_before,
                        before=before,
                        max_new_tokens=cfg.max_new_tokens,
                        generator=torch.Generator().manual_seed(seed),
                    )
                )
            seconds = time.perf_counter() - start
            result["cells"][f"{ename}/{oname}"] = {
                "editor": ename,
                "objective": oname,
                "seconds": seconds,
                "rows": rows,
            }
            hp = sum(r["attacks"]["head_projection"]["hit"] for r in rows) / max(len(rows), 1)
            echo(f"seed {seed} {ename:15s} {oname:25s} HP {hp:.2f} ({seconds:.0f} s)")
    return result


def run_benchmark(out_dir: Path, cfg: ExtractionBenchConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.cache_dir is None:
        cfg.cache_dir = out_dir / "cache"
    torch.set_num_threads(1)
    start = time.perf_counter()
    from unlearnkit.bench import llm_extraction_report
    from unlearnkit.bench.llm import lm_environment, run_seeds

    seeds = run_seeds(out_dir, cfg.seeds, cfg.resume, lambda seed: run_seed(seed, cfg, echo), echo)
    results = {
        "benchmark": "llm-extraction-world",
        "config": {
            **dataclasses.asdict(cfg),
            "cache_dir": str(cfg.cache_dir),
            "editor_toy": {
                name: editor(name, toy=True, **cfg.editor_overrides.get(name, {})).record()["config"]
                for name in cfg.editors
            },
        },
        "environment": lm_environment(),
        "seeds": seeds,
        "elapsed_seconds": time.perf_counter() - start,
    }
    summary = llm_extraction_report.write_report(out_dir, results)
    return {**summary, "elapsed_seconds": results["elapsed_seconds"]}


__all__ = ["ATTACK_ORDER", "EXTRACTION_MODEL", "OBJECTIVE_ORDER", "ExtractionBenchConfig", "run_benchmark", "run_seed"]
