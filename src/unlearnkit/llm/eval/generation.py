"""Greedy generation for any causal LM (HF ``generate`` when available, a plain loop otherwise) and ROUGE-L.

MUSE generates greedily (``do_sample=False``) and scores with ``rouge_score.RougeScorer(use_stemmer=False)``;
VerbMem and KnowMem take the F1 (``fmeasure``), TOFU the recall. Prompts of equal token length are batched
together, so no padding enters a prompt; generation stops at EOS. Short prompts use a plain cache-free loop (HF
``generate``'s per-call set-up costs more than it saves there); long ones use ``generate`` with its KV cache.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch

LONG = 256


def _max_positions(model: Any) -> int | None:
    cfg = getattr(model, "config", None)
    return getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)


@torch.no_grad()
def greedy_generate(
    model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int | Sequence[int], batch_size: int = 64
) -> list[str]:
    """The greedy continuation (decoded, prompt stripped) of each prompt; ``max_new_tokens`` may differ per prompt."""
    news = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    bos = tokenizer.bos_token_id
    eos = tokenizer.eos_token_id
    limit = _max_positions(model)
    groups: dict[tuple[int, int], list[tuple[int, list[int]]]] = defaultdict(list)
    for i, (prompt, new) in enumerate(zip(prompts, news, strict=True)):
        ids = ([bos] if bos is not None else []) + list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if limit is not None and len(ids) + new > limit:
            ids = ids[-max(1, limit - new) :]
        groups[(len(ids), new)].append((i, ids))
    out: list[str] = [""] * len(prompts)
    was_training = getattr(model, "training", False)
    model.eval()
    has_generate = hasattr(model, "generate") and hasattr(model, "generation_config")
    for (length, new), rows in groups.items():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            x = torch.tensor([ids for _, ids in chunk], dtype=torch.long)
            if new <= 0:
                continue
            if has_generate and length + new > LONG:  # a KV cache pays off only on long prompts
                seq = model.generate(
                    input_ids=x,
                    attention_mask=torch.ones_like(x),
                    max_new_tokens=new,
                    do_sample=False,
                    num_beams=1,
                    pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
                    eos_token_id=eos,
                )[:, length:]
            else:
                seq = _loop(model, x, new, eos)
            for (i, _), row in zip(chunk, seq.tolist(), strict=True):
                if eos is not None and eos in row:
                    row = row[: row.index(eos)]
                out[i] = tokenizer.decode(row, skip_special_tokens=True)
    if was_training:
        model.train()
    return out


def _loop(model: Any, x: torch.Tensor, new: int, eos: int | None) -> torch.Tensor:
    """Greedy decoding without a cache (any module whose output has ``.logits``: WHP, ensembles)."""
    done = torch.zeros(x.shape[0], dtype=torch.bool)
    generated = []
    for _ in range(new):
        logits = model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits[:, -1]
        nxt = logits.argmax(-1)
        if eos is not None:
            nxt = torch.where(done, torch.full_like(nxt, eos), nxt)
            done |= nxt == eos
        generated.append(nxt)
        x = torch.cat([x, nxt[:, None]], dim=1)
        if done.all():
            break
    return torch.stack(generated, dim=1)


def cut_at(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the first of ``stops`` (MUSE KnowMem: ``"\\n\\n"``, ``"\\nQuestion"``, ``"Question:"``)."""
    cut = len(text)
    for s in stops:
        k = text.find(s)
        if k != -1:
            cut = min(cut, k)
    return text[:cut].strip()


_SCORER: list[Any] = []


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> list[dict[str, float]]:
    """ROUGE-L ``{"f1", "recall", "precision"}`` per pair (``rouge_score``, no stemmer), each in [0, 1]."""
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        from unlearnkit.errors import ConfigError
        from unlearnkit.llm.hf import HINT

        raise ConfigError(HINT) from None
    if not _SCORER:
        _SCORER.append(rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False))
    out = []
    for pred, ref in zip(predictions, references, strict=True):
        s = _SCORER[0].score(ref, pred)["rougeL"]
        out.append({"f1": s.fmeasure, "recall": s.recall, "precision": s.precision})
    return out


__all__ = ["cut_at", "greedy_generate", "rouge_l"]
