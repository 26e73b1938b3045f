"""Delete facts from a model and check the deletion with the attacks: what ``unlearnkit llm edit`` / ``attack`` run.

:func:`delete_facts` applies one edit per fact, in turn (each edit starts from the previous edit's model, as
sequential ROME edits do; the paper evaluates single-fact edits, which is :func:`delete_facts` on one fact),
then measures every fact on the final model: Rewrite Score, output recall, each attack's hit (and its floor on
``reference``, a model never trained on the facts, when given), ΔAcc on neighbours and random facts.
:func:`attack_report` runs only the attacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from unlearnkit.context import RunContext
from unlearnkit.llm.attacks.base import Attack
from unlearnkit.llm.attacks.metrics import attack_hits, evaluate_edit, qa_accuracy
from unlearnkit.llm.editing.base import Editor
from unlearnkit.llm.editing.objectives.base import Objective
from unlearnkit.llm.facts import FactSet


def attack_report(
    model: nn.Module,
    tokenizer: Any,
    facts: FactSet,
    attacks: Sequence[Attack],
    *,
    edit_layer: int,
    reference: nn.Module | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Attack-Success@B of every attack on ``facts`` (and on ``reference``: the floor; leak = success − floor)."""
    out: dict[str, Any] = {}
    for attack in attacks:
        gen = torch.Generator().manual_seed(seed)
        hits = attack_hits(model, tokenizer, facts.facts, attack, edit_layer=edit_layer, generator=gen)
        row = {
            "budget": attack.budget(model, edit_layer),
            "success": sum(h["hit"] for h in hits) / len(hits),
            "max_candidates": max(h["candidates"] for h in hits),
            "whitebox": attack.whitebox,
        }
        if attack.whitebox:
            row["layers"] = list(attack.layers(model, edit_layer))
        if reference is not None:
            gen = torch.Generator().manual_seed(seed)
            ref = attack_hits(reference, tokenizer, facts.facts, attack, edit_layer=edit_layer, generator=gen)
            row["floor"] = sum(h["hit"] for h in ref) / len(ref)
            row["leak"] = row["success"] - row["floor"]
        out[attack.name] = row
    return out


def delete_facts(
    model: nn.Module,
    tokenizer: Any,
    facts: FactSet,
    editor: Editor,
    objective: Objective,
    attacks: Sequence[Attack],
    *,
    cov_texts: Sequence[str] = (),
    reference: nn.Module | None = None,
    max_new_tokens: int = 36,
    ctx: RunContext | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Edit every fact out of ``model`` (a copy) in turn; returns the edited model and the measured report."""
    ctx = ctx or RunContext()
    retain_prompts = [q.question for q in facts.retain]
    current, edits = model, []
    for fact in facts.facts:
        result = editor.edit(
            current, tokenizer, fact, objective, retain_prompts=retain_prompts, cov_texts=cov_texts, ctx=ctx
        )
        current = result.model
        edits.append(result.record())
    layer = editor.config.layer
    random_before = qa_accuracy(model, tokenizer, facts.retain, max_new_tokens) if facts.retain else None
    rows = [
        evaluate_edit(
            model,
            current,
            tokenizer,
            fact,
            kind=objective.kind,
            attacks=attacks,
            edit_layer=layer,
            random_items=facts.retain,
            random_before=random_before,
            max_new_tokens=max_new_tokens,
            generator=ctx.generator("attack", fact.prompt),
        )
        for fact in facts.facts
    ]
    n = len(rows)
    summary: dict[str, Any] = {
        "facts": n,
        "rewrite_score": sum(r["rewrite_score"] for r in rows) / n,
        "recall_before": sum(r["recall_pre"] for r in rows) / n,
        "recall_after": sum(r["recall_post"] for r in rows) / n,
        "attacks": {},
    }
    floors = attack_report(reference, tokenizer, facts, attacks, edit_layer=layer, seed=ctx.seed) if reference else {}
    for attack in attacks:
        row = {
            "budget": attack.budget(current, layer),
            "success": sum(r["attacks"][attack.name]["hit"] for r in rows) / n,
            "max_candidates": max(r["attacks"][attack.name]["candidates"] for r in rows),
            "whitebox": attack.whitebox,
        }
        if attack.name in floors:
            row["floor"] = floors[attack.name]["success"]
            row["leak"] = row["success"] - row["floor"]
        summary["attacks"][attack.name] = row
    for key in ("delta_acc_neighbourhood", "delta_acc_random"):
        vals = [r[key] for r in rows if key in r]
        if vals:
            summary[key] = sum(vals) / len(vals)
    return current, {"summary": summary, "edits": edits, "facts": rows}


__all__ = ["attack_report", "delete_facts"]
