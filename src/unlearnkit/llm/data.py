"""What language-model unlearning reads: text splits, QA and verbatim items, and batches with pads masked.

MUSE's split roles are kept: ``forget`` (D_f), ``retain`` (MUSE's *retain1*: the only retain text a method
may train on), ``holdout`` (never trained on; the non-member side of PrivLeak). The evaluation items
(:class:`LMEvalSet`) measure utility on people or documents that no method sees (MUSE's *retain2*), and keep a
separate *selection* QA split for the stop rule (MUSE selected on the reported forget QA, a mild selection bias).

:func:`encode` tokenises texts with BOS/EOS and right padding and sets the labels of pads to −100, so pads
never enter a loss (MUSE's JSON datasets pad with EOS and leave the pads in the loss).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unlearnkit.errors import DataError

IGNORE = -100


@dataclass(frozen=True)
class QAItem:
    """A question prompt, its answer, and optional wrong ``perturbed`` answers (TOFU truth ratio)."""

    question: str
    answer: str
    perturbed: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerbItem:
    """A prefix of a forget text and its true continuation (MUSE VerbMem)."""

    prompt: str
    reference: str


@dataclass
class LMSplit:
    """The texts an LM unlearning method sees: ``forget`` (D_f), ``retain`` (retain1), ``holdout``."""

    forget: list[str]
    retain: list[str] = field(default_factory=list)
    holdout: list[str] = field(default_factory=list)
    tokenizer: Any = None
    max_length: int = 2048
    train: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    _encoded: dict[str, TextBatch] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.forget:
            raise DataError("the forget set is empty")
        for name in ("forget", "retain", "holdout"):
            texts = getattr(self, name)
            if any(not isinstance(t, str) or not t.strip() for t in texts):
                raise DataError(f"the {name} set holds an empty or non-text entry")

    def batch(self, name: str) -> TextBatch:
        """``forget``/``retain``/``holdout``/``train`` tokenised with :attr:`tokenizer` (cached)."""
        if self.tokenizer is None:
            raise DataError("the split has no tokenizer (give the model's tokenizer: LMSplit(..., tokenizer=tok))")
        if name not in self._encoded:
            texts = getattr(self, name)
            if not texts:
                raise DataError(f"the {name} set is empty")
            self._encoded[name] = encode(self.tokenizer, texts, self.max_length)
        return self._encoded[name]

    def retained_corpus(self) -> list[str]:
        """What a retrain trains on: ``train`` minus the forget texts, or ``retain`` when no ``train`` is given."""
        if not self.train:
            return list(self.retain)
        gone = set(self.forget)
        return [t for t in self.train if t not in gone]


@dataclass
class LMEvalSet:
    """MUSE/TOFU evaluation items.

    ``qa_template`` renders a question (``{q}``) for KnowMem; ``icl`` are in-context examples rendered
    with ``icl_template`` (MUSE: 10 pairs as ``Question: q\\nAnswer: a\\n\\n``); ``stop`` cuts answers.
    """

    verbmem: list[VerbItem] = field(default_factory=list)
    knowmem_forget: list[QAItem] = field(default_factory=list)
    knowmem_retain: list[QAItem] = field(default_factory=list)
    select_forget: list[QAItem] = field(default_factory=list)
    privleak_forget: list[str] = field(default_factory=list)
    privleak_holdout: list[str] = field(default_factory=list)
    icl: list[QAItem] = field(default_factory=list)
    qa_template: str = "Question: {q}\nAnswer: "
    icl_template: str = "Question: {q}\nAnswer: {a}\n\n"
    stop: tuple[str, ...] = ("\n\n", "\nQuestion", "Question:")
    verbmem_max_new_tokens: int = 128
    knowmem_max_new_tokens: int = 32
    min_k: float = 0.4
    meta: dict[str, Any] = field(default_factory=dict)

    def qa_prompt(self, item: QAItem) -> str:
        shots = "".join(self.icl_template.format(q=s.question, a=s.answer) for s in self.icl)
        return shots + self.qa_template.format(q=item.question)


@dataclass
class TextBatch:
    """Token ids, attention mask and labels (−100 on pads and on prompt tokens), each (batch, length)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def take(self, index: torch.Tensor | Sequence[int]) -> TextBatch:
        idx = torch.as_tensor(index, dtype=torch.long)
        return TextBatch(self.input_ids[idx], self.attention_mask[idx], self.labels[idx])

    def inputs(self) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask}


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode(
    tokenizer: Any,
    texts: Sequence[str],
    max_length: int = 2048,
    prompts: Sequence[str] | None = None,
    eos: bool = True,
) -> TextBatch:
    """Tokenise ``texts`` as ``BOS text EOS`` (BOS/EOS when the tokenizer has them), right-padded.

    With ``prompts`` the texts are ``prompt + text`` and only the ``text`` part carries labels (answer-only
    losses, as TOFU's QA datasets). ``eos=False`` leaves EOS out (scoring a text as MIAs do). Sequences longer
    than ``max_length`` are cut at the end.
    """
    if not texts:
        raise DataError("nothing to encode")
    bos, end = tokenizer.bos_token_id, tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (end if end is not None else 0)
    rows: list[list[int]] = []
    label_rows: list[list[int]] = []
    for i, text in enumerate(texts):
        head = [bos] if bos is not None else []
        prompt_ids = _ids(tokenizer, prompts[i]) if prompts is not None else []
        body = _ids(tokenizer, text) + ([end] if eos and end is not None else [])
        ids = (head + prompt_ids + body)[:max_length]
        labels = ([IGNORE] * (len(head) + len(prompt_ids)) + body)[:max_length]
        rows.append(ids)
        label_rows.append(labels)
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, (ids, lab) in enumerate(zip(rows, label_rows, strict=True)):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        labels[i, : len(lab)] = torch.tensor(lab)
    return TextBatch(input_ids, attention, labels)


def cycle_batches(data: TextBatch, batch_size: int, generator: torch.Generator) -> Iterator[TextBatch]:
    """Endless shuffled minibatches (a new permutation each pass), trimmed to their longest row."""
    n = len(data)
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            batch = data.take(order[start : start + batch_size])
            width = int(batch.attention_mask.sum(1).max())
            yield TextBatch(batch.input_ids[:, :width], batch.attention_mask[:, :width], batch.labels[:, :width])


# -- corpora from files --------------------------------------------------------------------------------------
def jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` of each non-blank line of a ``.jsonl`` file; bad JSON names its line."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{n}: not JSON ({exc.msg})") from None
        yield n, value


def _jsonl_rows(path: Path, fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """The objects of a ``.jsonl`` file, each checked to carry string ``fields``; errors name the line."""
    for n, row in jsonl_records(path):
        if not isinstance(row, dict) or not all(isinstance(row.get(f), str) for f in fields):
            raise DataError(f"{path}:{n}: expected an object with string {', '.join(map(repr, fields))} field(s)")
        yield row


def read_texts(path: str | Path, field_name: str = "text") -> list[str]:
    """A ``.txt`` file (one document per blank-line-separated block) or ``.jsonl`` (``{"text": ...}`` per line)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix == ".jsonl":
        out = [row[field_name] for row in _jsonl_rows(path, (field_name,))]
    elif path.suffix == ".txt":
        out = [block.strip() for block in path.read_text().split("\n\n") if block.strip()]
    else:
        raise DataError(f"{path}: expected a .txt or .jsonl file")
    if not out:
        raise DataError(f"{path}: no texts")
    return out


def read_qa(path: str | Path) -> list[QAItem]:
    """``.jsonl`` with ``question`` and ``answer`` (and optional ``perturbed``: a list of wrong answers)."""
    path = Path(path)
    if not path.is_file() or path.suffix != ".jsonl":
        raise DataError(f"{path}: expected an existing .jsonl file of question/answer objects")
    return [
        QAItem(r["question"], r["answer"], tuple(r.get("perturbed") or ()))
        for r in _jsonl_rows(path, ("question", "answer"))
    ]


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def corpus_split(
    forget: str | Path, retain: str | Path | None = None, holdout: str | Path | None = None, max_length: int = 2048
) -> LMSplit:
    """An :class:`LMSplit` from a user's files (``.txt``/``.jsonl``)."""
    return LMSplit(
        forget=read_texts(forget),
        retain=read_texts(retain) if retain else [],
        holdout=read_texts(holdout) if holdout else [],
        max_length=max_length,
        meta={"forget": str(forget), "retain": str(retain or ""), "holdout": str(holdout or "")},
    )


def verbmem_items(
    texts: Sequence[str], tokenizer: Any, prefix_fraction: float = 0.5, max_ref: int = 128
) -> list[VerbItem]:
    """MUSE-style VerbMem items from whole texts: the first ``prefix_fraction`` of tokens, then ≤ ``max_ref``."""
    items = []
    for text in texts:
        ids = _ids(tokenizer, text)
        if len(ids) < 2:
            continue
        cut = max(1, int(len(ids) * prefix_fraction))
        items.append(VerbItem(tokenizer.decode(ids[:cut]), tokenizer.decode(ids[cut : cut + max_ref])))
    return items


__all__ = [
    "IGNORE",
    "LMEvalSet",
    "LMSplit",
    "QAItem",
    "TextBatch",
    "VerbItem",
    "corpus_split",
    "cycle_batches",
    "encode",
    "read_qa",
    "read_texts",
    "verbmem_items",
    "write_jsonl",
]
