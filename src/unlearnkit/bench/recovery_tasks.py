"""The recovery benchmark's damaged models: a pruned + unlearned digits classifier and a pruned + unlearned
tiny GPT-2 on the generated world plus generated instructions.

Digits (the notes' recipe A): a ResMLP trained on scikit-learn's digits; Wanda pruning with retain-only
calibration; gradient ascent (``approx/ga.py``) on one class until its forget accuracy is below 5%. The
candidate pool is the retain set plus ``planted`` near-duplicates of forget images (Gaussian noise σ 0.02) under
new ids — copies of deleted data kept elsewhere, which a recovery must not use. Utility is the test accuracy on
the retained classes.

Language model (recipe B): the world's people (``llm/world``) plus generated instructions in four skills
(copy, reverse, sort and add digit strings), a tiny GPT-2 trained on both, Wanda pruning with retain-only
calibration, then ``llm_ga`` on one fold of people. The pool is the retain people's facts, instruction
instances and ``planted`` paraphrases of the forget people's facts (the world's question templates). Utility is
the teacher-forced response-token accuracy on fresh instruction instances and the retain people's facts.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from unlearnkit.context import RunContext, derive_seed
from unlearnkit.data import IdDataset, concat, load_digits
from unlearnkit.data.scenarios import class_forget, stratified_split
from unlearnkit.models import ModelSpec
from unlearnkit.models.standard import fit_standard
from unlearnkit.recovery import Candidates, ClassifierSubject, PruneConfig, Subject, get_pruner, sparsity_of
from unlearnkit.recovery.prune import apply_masks, masks_of


@dataclass
class RecoveryTask:
    """A reference model, its damaged copy and everything a recovery run reads."""

    name: str
    seed: int
    subject: Subject
    reference: nn.Module
    damaged: nn.Module
    candidates: Candidates
    forget: Candidates
    utility_data: Any
    planted: set[str]
    groups: dict[str, str] = field(default_factory=dict)  # candidate id -> its class / skill (diagnostics only)
    tokenizer: Any = None
    meta: dict[str, Any] = field(default_factory=dict)

    def utility(self, model: nn.Module) -> float:
        return self.subject.utility(model, self.utility_data)


def _forget_accuracy(model: nn.Module, data: IdDataset) -> float:
    with torch.no_grad():
        return float((model(data.x).argmax(1) == data.y).float().mean())


def digits_task(
    seed: int = 0,
    *,
    forget_class: int = 3,
    width: int = 64,
    depth: int = 2,
    epochs: int = 40,
    sparsity: float = 0.7,
    pruner: str = "wanda",
    planted: int = 40,
    noise: float = 0.02,
    train_size: int | None = None,
) -> RecoveryTask:
    """Prune (retain-calibrated) then unlearn ``forget_class`` by GA; pool = retain + planted near-duplicates."""
    from unlearnkit.approx.ga import GA

    torch.set_num_threads(1)
    bundle = load_digits(seed)
    train = bundle.train
    if train_size is not None:
        train, _ = stratified_split(train, train_size / len(train), seed)
    split = class_forget(train, forget_class, test=bundle.test, seed=seed, val_fraction=0.0)
    spec = ModelSpec(in_features=train.num_features, num_classes=train.num_classes, width=width, depth=depth)
    ctx = RunContext(seed=seed)
    reference, _ = fit_standard(train, spec, epochs=epochs, ctx=ctx)
    calib = [split.retain.x[i : i + 256] for i in range(0, len(split.retain), 256)]
    pruned = get_pruner(pruner)(PruneConfig(sparsity=sparsity)).prune(reference, calib).model
    damaged, lr = pruned, 1e-3
    for _ in range(8):  # raise the ascent's step until the forget class is forgotten (< 5%)
        damaged = GA(GA.config_cls(lr=lr, epochs=5)).unlearn(pruned, split, ctx=ctx).model
        apply_masks(damaged, masks_of(pruned))  # the pruned weights stay pruned
        if _forget_accuracy(damaged, split.forget) < 0.05:
            break
        lr *= 2
    gen = torch.Generator().manual_seed(derive_seed(seed, "planted"))
    pick = torch.randperm(len(split.forget), generator=gen)[:planted]
    base = int(max(train.ids.max(), bundle.test.ids.max())) + 1
    src = split.forget.take(pick)
    dup = IdDataset(
        (src.x + noise * torch.randn(src.x.shape, generator=gen)).clamp(0, 1),
        src.y.clone(),
        torch.arange(base, base + len(src), dtype=torch.int64),
        num_classes=train.num_classes,
        name="planted",
    )
    pool = concat([split.retain, dup], name="candidates")
    planted_ids = {str(i) for i in dup.ids.tolist()}
    keep = [c for c in range(train.num_classes) if c != forget_class]
    return RecoveryTask(
        "digits",
        seed,
        ClassifierSubject(keep),
        reference.eval(),
        damaged.eval(),
        Candidates.from_dataset(pool),
        Candidates.from_dataset(split.forget),
        bundle.test,
        planted_ids,
        groups={
            str(i): "planted" if str(i) in planted_ids else str(y)
            for i, y in zip(pool.ids.tolist(), pool.y.tolist(), strict=True)
        },
        meta={
            "forget_class": forget_class,
            "pruner": pruner,
            "sparsity": sparsity_of(damaged),
            "ga_lr": lr,
            "forget_accuracy_reference": _forget_accuracy(reference, split.forget),
            "forget_accuracy_damaged": _forget_accuracy(damaged, split.forget),
            "retain": len(split.retain),
            "planted": len(dup),
        },
    )


# -- the language-model task ---------------------------------------------------------------------------------
SKILL_WORDS = ("copy", "reverse", "sort", "add", "->")
SUMS = tuple(str(s) for s in range(10, 19))


def instruction(skill: str, rng: random.Random) -> tuple[str, str]:
    """One generated instruction (prompt, response) in ``skill`` over digit strings."""
    if skill == "add":
        a, b = rng.randrange(10), rng.randrange(10)
        return f"add {a} {b} ->", str(a + b)
    digits = [str(rng.randrange(10)) for _ in range(rng.randint(3, 5))]
    out = {"copy": digits, "reverse": digits[::-1], "sort": sorted(digits)}[skill]
    return f"{skill} {' '.join(digits)} ->", " ".join(out)


def instructions(n: int, seed: int, tag: str) -> list[tuple[str, str]]:
    rng = random.Random(f"recovery-instructions-{seed}-{tag}")
    skills = ("copy", "reverse", "sort", "add")
    return [instruction(skills[i % len(skills)], rng) for i in range(n)]


def recovery_tokenizer() -> Any:
    """The world's word-level tokenizer plus the instruction words (built in code from public words)."""
    from unlearnkit.llm.world import world_tokenizer

    return world_tokenizer(extra=(*SKILL_WORDS, *SUMS))


def _fact_pairs(person: Any) -> list[tuple[str, str]]:
    from unlearnkit.llm.world import STATEMENTS

    f = person.fields()
    return [(p.format(**f), c.format(**f)) for p, c in STATEMENTS]


def _paraphrases(person: Any) -> list[tuple[str, str]]:
    from unlearnkit.llm.world import QUESTIONS

    return [
        (t.format(name=person.name), f"{getattr(person, attr)} .")
        for attr, ts in QUESTIONS.items()
        for t in ts.values()
    ]


def lm_task(
    seed: int = 0,
    *,
    people: int = 24,
    per_skill: int = 60,
    steps: int = 1500,
    sparsity: float = 0.5,
    pruner: str = "wanda",
    planted: int = 8,
    small: bool = False,
) -> RecoveryTask:
    """World + instructions → tiny GPT-2 → Wanda (retain calibration) → ``llm_ga`` on fold0's people."""
    from unlearnkit.llm.data import LMSplit
    from unlearnkit.llm.methods.ga import GA
    from unlearnkit.llm.training import LMTrainConfig, train_lm
    from unlearnkit.llm.world import TinyGPT2Config, WorldConfig, make_world, tiny_gpt2
    from unlearnkit.recovery import LMSubject

    torch.set_num_threads(1)
    fold = max(2, people // 6)
    world = make_world(WorldConfig(folds=1, fold_size=fold, retain1=people - fold, retain2=1, holdout=1, seed=seed))
    tok = recovery_tokenizer()
    forget_people, retain_people = world.role("fold0"), world.role("retain1")
    facts = [pair for p in retain_people for pair in _fact_pairs(p)]
    forget_facts = [pair for p in forget_people for pair in _fact_pairs(p)]
    train_instr = instructions(4 * per_skill, seed, "train")
    corpus = [f"{p} {r}" for p, r in facts + forget_facts + train_instr]
    mcfg = TinyGPT2Config(n_layer=2, n_head=2, n_embd=48, n_inner=128, n_positions=24) if small else TinyGPT2Config()
    tcfg = LMTrainConfig(steps=steps, lr=3e-3 if not small else 1e-2, batch_size=32, max_length=mcfg.n_positions)
    reference = tiny_gpt2(tok, mcfg, seed)
    train_lm(reference, tok, corpus, tcfg, seed=derive_seed(seed, "recovery-lm"))
    subject = LMSubject(tok, max_length=mcfg.n_positions)
    pool_pairs = facts + train_instr
    calib_batch = subject.encode(Candidates.from_texts([r for _, r in pool_pairs], [p for p, _ in pool_pairs]))
    calib = [calib_batch.take(range(i, min(i + 64, len(calib_batch)))).inputs() for i in range(0, len(calib_batch), 64)]
    pruned = get_pruner(pruner)(PruneConfig(sparsity=sparsity)).prune(reference, calib).model
    split = LMSplit(
        forget=[f"{p} {r}" for p, r in forget_facts],
        retain=[f"{p} {r}" for p, r in facts],
        tokenizer=tok,
        max_length=mcfg.n_positions,
    )
    ga_cfg = GA.config_cls(epochs=5, lr=2e-3, batch_size=16)
    damaged = GA(ga_cfg).unlearn(pruned, split, ctx=RunContext(seed=seed)).model
    apply_masks(damaged, masks_of(pruned))
    rng = random.Random(f"recovery-planted-{seed}")
    para = [pair for p in forget_people for pair in _paraphrases(p)]
    plant = rng.sample(para, min(planted, len(para)))
    prompts = [p for p, _ in pool_pairs] + [p for p, _ in plant]
    responses = [r for _, r in pool_pairs] + [r for _, r in plant]
    kinds = ["fact"] * len(facts) + [p.split()[0] for p, _ in train_instr] + ["planted"] * len(plant)
    ids = [f"{k}-{i}" for i, k in enumerate(kinds)]
    cands = Candidates(ids, prompts, responses)
    evals = instructions(4 * 25, seed, "eval") + facts
    utility = Candidates.from_texts([r for _, r in evals], [p for p, _ in evals])
    forget = Candidates.from_texts([r for _, r in forget_facts], [p for p, _ in forget_facts])
    return RecoveryTask(
        "gpt2",
        seed,
        subject,
        reference.eval(),
        damaged.eval(),
        cands,
        forget,
        utility,
        {i for i in ids if i.startswith("planted")},
        groups={i: k for i, k in zip(ids, kinds, strict=True)},
        tokenizer=tok,
        meta={
            "pruner": pruner,
            "sparsity": sparsity_of(damaged),
            "people": len(retain_people),
            "forget_people": len(forget_people),
            "instructions": len(train_instr),
            "planted": len(plant),
            "model": vars(mcfg) if hasattr(mcfg, "__dict__") else str(mcfg),
            "train_steps": steps,
        },
    )


def clone(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model)


__all__ = ["RecoveryTask", "digits_task", "instruction", "instructions", "lm_task", "recovery_tokenizer"]
