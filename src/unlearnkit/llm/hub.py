"""MUSE's and TOFU's public sets as user-side loaders (through ``datasets``; they download when a user runs them).

Nothing here runs in the test suite. The split roles follow each benchmark: MUSE's ``retain1`` is the only retain
text a method trains on, ``retain2``'s QA measures utility, ``holdout`` is PrivLeak's non-member side (dataset
cards of ``muse-bench/MUSE-News`` / ``MUSE-Books``); TOFU's ``forgetXX`` / ``retainYY`` / ``holdoutXX`` and the
``*_perturbed`` splits with their perturbed answers (``locuslab/TOFU``).
"""

from __future__ import annotations

from typing import Any

from unlearnkit.errors import ConfigError
from unlearnkit.llm.data import LMEvalSet, LMSplit, QAItem, VerbItem

MUSE_CORPORA = ("News", "Books")
TOFU_FORGET = {
    "forget01": ("retain99", "holdout01"),
    "forget05": ("retain95", "holdout05"),
    "forget10": ("retain90", "holdout10"),
}


def _load(name: str, config: str, split: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigError("MUSE/TOFU loaders need the datasets package: pip install 'unlearnkit[llm-data]'") from None
    return datasets.load_dataset(name, config, split=split)


def chunk_texts(tokenizer: Any, texts: list[str], chunk_tokens: int = 2047) -> list[str]:
    """MUSE's unlearning corpus: the texts tokenised as one stream and cut into ``chunk_tokens``-token chunks."""
    ids: list[int] = []
    for t in texts:
        ids += tokenizer(t, add_special_tokens=False)["input_ids"]
    return [tokenizer.decode(ids[i : i + chunk_tokens]) for i in range(0, len(ids), chunk_tokens)]


def muse(corpus: str = "News", tokenizer: Any = None, max_length: int = 2048) -> tuple[LMSplit, LMEvalSet]:
    """MUSE-News / MUSE-Books: the unlearning split (forget / retain1 / holdout) and the six-way evaluation items."""
    if corpus not in MUSE_CORPORA:
        raise ConfigError(f"MUSE corpus must be one of {', '.join(MUSE_CORPORA)}, got {corpus!r}")
    if tokenizer is None:
        raise ConfigError("MUSE's corpus is chunked with the model's tokenizer: pass tokenizer=")
    name = f"muse-bench/MUSE-{corpus}"
    raw = {s: [r["text"] for r in _load(name, "raw", s)] for s in ("forget", "retain1", "holdout")}
    split = LMSplit(
        forget=chunk_texts(tokenizer, raw["forget"], max_length - 1),
        retain=chunk_texts(tokenizer, raw["retain1"], max_length - 1),
        holdout=raw["holdout"],
        tokenizer=tokenizer,
        max_length=max_length,
        meta={"benchmark": f"MUSE-{corpus}"},
    )

    def qa(split_name: str) -> list[QAItem]:
        return [QAItem(r["question"], r["answer"]) for r in _load(name, "knowmem", split_name)]

    ev = LMEvalSet(
        verbmem=[VerbItem(r["prompt"], r["gt"]) for r in _load(name, "verbmem", "forget")],
        knowmem_forget=qa("forget_qa"),
        knowmem_retain=qa("retain_qa"),
        select_forget=qa("forget_qa"),  # MUSE selects on the reported QA (its published protocol)
        icl=qa("forget_qa_icl"),
        privleak_forget=[r["text"] for r in _load(name, "privleak", "forget")],
        privleak_holdout=[r["text"] for r in _load(name, "privleak", "holdout")],
        meta={"benchmark": f"MUSE-{corpus}"},
    )
    return split, ev


def tofu(forget: str = "forget10", tokenizer: Any = None, max_length: int = 512) -> tuple[LMSplit, LMEvalSet]:
    """TOFU: QA rendered as ``Question: q\\nAnswer: a``; truth ratios from the ``*_perturbed`` splits."""
    if forget not in TOFU_FORGET:
        raise ConfigError(f"TOFU forget split must be one of {', '.join(TOFU_FORGET)}, got {forget!r}")
    retain, holdout = TOFU_FORGET[forget]
    name = "locuslab/TOFU"

    def texts(config: str) -> list[str]:
        return [f"Question: {r['question']}\nAnswer: {r['answer']}" for r in _load(name, config, "train")]

    def perturbed(config: str) -> list[QAItem]:
        rows = _load(name, config, "train")
        return [QAItem(r["question"], r["paraphrased_answer"], tuple(r["perturbed_answer"])) for r in rows]

    split = LMSplit(
        forget=texts(forget),
        retain=texts(retain),
        holdout=texts(holdout),
        tokenizer=tokenizer,
        max_length=max_length,
        meta={"benchmark": f"TOFU-{forget}"},
    )
    ev = LMEvalSet(
        knowmem_forget=perturbed(f"{forget}_perturbed"),
        knowmem_retain=perturbed("retain_perturbed"),
        select_forget=perturbed(f"{forget}_perturbed"),
        privleak_forget=split.forget,
        privleak_holdout=split.holdout,
        knowmem_max_new_tokens=200,
        meta={"benchmark": f"TOFU-{forget}"},
    )
    return split, ev


__all__ = ["MUSE_CORPORA", "TOFU_FORGET", "chunk_texts", "muse", "tofu"]
