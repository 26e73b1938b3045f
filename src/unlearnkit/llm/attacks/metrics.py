"""Deletion metrics of Patil et al. (arXiv 2309.17410, §3.1 and §5; ``experiments/evaluate.py``).

- **Attack-Success@B**: the share of facts whose answer (first token) is in the attack's candidate set (|C| ≤ B).
  A deletion *leaks* only above the **floor**: the same attack on a model never trained on the fact (the
  retrained model), which a small vocabulary or a guessable answer makes well above 0.
- **Rewrite Score**: (p_pre(y) − p_post(y)) / p_pre(y), clipped at 0, for deletion objectives; for Error Injection
  ROME's 1 − (1 − p_post(y_new)) / (1 − p_pre(y_new)).
- **ΔAcc** = accuracy before − after the edit, accuracy = the true answer occurs in a greedy continuation (36
  tokens in the paper), on the fact's neighbourhood prompts and on random other facts.
- **Answer rank** per lens layer (0 = the most likely token): the quickest diagnostic of where an edit hides the
  answer (notes §4.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from unlearnkit.llm.attacks.base import Attack
from unlearnkit.llm.data import QAItem
from unlearnkit.llm.editing.base import prompt_inputs
from unlearnkit.llm.editing.objectives.base import first_token
from unlearnkit.llm.eval.generation import greedy_generate
from unlearnkit.llm.facts import Fact
from unlearnkit.llm.lens import lens_logprobs, lm_parts


@torch.no_grad()
def answer_probability(model: nn.Module, tokenizer: Any, prompts: Sequence[str], answers: Sequence[str]) -> list[float]:
    """p(first token of each answer | prompt) at the output."""
    final, _ = lens_logprobs(model, prompt_inputs(tokenizer, prompts), ())
    ids = torch.tensor([first_token(tokenizer, a) for a in answers])
    return final[torch.arange(len(ids)), ids].exp().tolist()


def rewrite_score(p_pre: float, p_post: float, kind: str = "deletion") -> float:
    """Share of the answer's probability removed (deletion) or ROME's rewrite score on the new target (injection)."""
    if kind == "injection":
        return 1.0 - (1.0 - p_post) / max(1.0 - p_pre, 1e-12)
    return max(0.0, (p_pre - p_post) / max(p_pre, 1e-12))


def qa_accuracy(model: nn.Module, tokenizer: Any, items: Sequence[QAItem], max_new_tokens: int = 36) -> list[float]:
    """1.0 where the answer string occurs in the greedy continuation of the prompt (the paper's accuracy)."""
    if not items:
        return []
    outs = greedy_generate(model, tokenizer, [q.question for q in items], max_new_tokens)
    return [float(q.answer.strip() in out) for q, out in zip(items, outs, strict=True)]


@torch.no_grad()
def answer_ranks(model: nn.Module, tokenizer: Any, fact: Fact) -> list[int]:
    """The answer's rank at every lens layer 0..n_layer (0 = top-1) on the fact's prompt."""
    n = lm_parts(model).n_layer
    _, lens = lens_logprobs(model, prompt_inputs(tokenizer, [fact.prompt]), tuple(range(n + 1)))
    y = first_token(tokenizer, fact.answer)
    row = lens[0]
    return (row > row[:, y : y + 1]).sum(-1).tolist()


def attack_hits(
    model: nn.Module,
    tokenizer: Any,
    facts: Sequence[Fact],
    attack: Attack,
    *,
    edit_layer: int,
    generator: torch.Generator,
) -> list[dict[str, Any]]:
    """Per fact: whether the answer is among the candidates, and how many candidates there were (≤ B)."""
    out = []
    for fact in facts:
        cands = attack.candidates(model, tokenizer, fact, edit_layer=edit_layer, generator=generator)
        out.append({"hit": first_token(tokenizer, fact.answer) in cands, "candidates": len(cands)})
    return out


def attack_success(
    model: nn.Module,
    tokenizer: Any,
    facts: Sequence[Fact],
    attack: Attack,
    *,
    edit_layer: int,
    generator: torch.Generator,
) -> float:
    """Attack-Success@B over ``facts``."""
    hits = attack_hits(model, tokenizer, facts, attack, edit_layer=edit_layer, generator=generator)
    return sum(h["hit"] for h in hits) / max(len(hits), 1)


def measure_before(original: nn.Module, tokenizer: Any, fact: Fact, max_new_tokens: int = 36) -> dict[str, Any]:
    """What :func:`evaluate_edit` compares against, computed once per fact on the unedited model."""
    out: dict[str, Any] = {
        "p": answer_probability(original, tokenizer, [fact.prompt], [fact.answer])[0],
        "recall": qa_accuracy(original, tokenizer, [QAItem(fact.prompt, fact.answer)], max_new_tokens)[0],
        "neighbours": qa_accuracy(original, tokenizer, fact.neighbours, max_new_tokens),
        "ranks": answer_ranks(original, tokenizer, fact),
    }
    if fact.target_new:
        out["p_new"] = answer_probability(original, tokenizer, [fact.prompt], [fact.target_new])[0]
    return out


def evaluate_edit(
    original: nn.Module,
    edited: nn.Module,
    tokenizer: Any,
    fact: Fact,
    *,
    kind: str,
    attacks: Sequence[Attack],
    edit_layer: int,
    random_items: Sequence[QAItem] = (),
    random_before: Sequence[float] | None = None,
    before: dict[str, Any] | None = None,
    max_new_tokens: int = 36,
    generator: torch.Generator,
) -> dict[str, Any]:
    """One edited fact: rewrite score, output recall, each attack's hit, ΔAcc (neighbourhood, random), ranks.

    ``before`` (:func:`measure_before`) and ``random_before`` (random facts' accuracy) skip recomputing the
    unedited model's values.
    """
    pre = before if before is not None else measure_before(original, tokenizer, fact, max_new_tokens)
    p_post = answer_probability(edited, tokenizer, [fact.prompt], [fact.answer])[0]
    if kind == "injection":
        q_post = answer_probability(edited, tokenizer, [fact.prompt], [fact.target_new])[0]
        score = rewrite_score(pre["p_new"], q_post, "injection")
    else:
        score = rewrite_score(pre["p"], p_post)
    row: dict[str, Any] = {
        "prompt": fact.prompt,
        "answer": fact.answer,
        "p_pre": pre["p"],
        "p_post": p_post,
        "rewrite_score": score,
        "recall_pre": pre["recall"],
        "recall_post": qa_accuracy(edited, tokenizer, [QAItem(fact.prompt, fact.answer)], max_new_tokens)[0],
        "attacks": {},
    }
    for attack in attacks:
        hit = attack_hits(edited, tokenizer, [fact], attack, edit_layer=edit_layer, generator=generator)[0]
        row["attacks"][attack.name] = {**hit, "budget": attack.budget(edited, edit_layer)}
    if fact.neighbours:
        post = qa_accuracy(edited, tokenizer, fact.neighbours, max_new_tokens)
        row["delta_acc_neighbourhood"] = (sum(pre["neighbours"]) - sum(post)) / len(post)
    if random_items:
        rb = random_before
        if rb is None:
            rb = qa_accuracy(original, tokenizer, random_items, max_new_tokens)
        post = qa_accuracy(edited, tokenizer, random_items, max_new_tokens)
        row["delta_acc_random"] = (sum(rb) - sum(post)) / len(post)
    row["ranks_pre"] = pre["ranks"]
    row["ranks_post"] = answer_ranks(edited, tokenizer, fact)
    return row


__all__ = [
    "answer_probability",
    "answer_ranks",
    "attack_hits",
    "attack_success",
    "evaluate_edit",
    "measure_before",
    "qa_accuracy",
    "rewrite_score",
]
