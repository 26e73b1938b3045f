"""Forget concepts: a deny-list of key phrases mined from the forget set, matched as whole-word sequences.

The notes' check (2). Concepts are RAKE key phrases (Rose et al., "Automatic Keyword Extraction from
Individual Documents", 2010: maximal runs of non-stop words between stop words and punctuation) — the
concept extractor PASER's code uses via ``rake-nltk``, written here over scikit-learn's English stop words so
that nothing downloads NLTK data. A forget phrase joins the deny-list when it has at least ``min_words`` words
and occurs in at most ``max_df`` of the candidates: names, ids and rare n-grams, not the words every record
shares ("born", a common city). Users add their own terms (entity names, user ids) with ``deny``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from unlearnkit.recovery.filters.base import FilterInputs, FilterOutcome, RecoveryFilter, register_filter

_SPLIT = re.compile(r"[^\w']+")


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def rake_phrases(text: str, stop: frozenset[str] | None = None) -> list[str]:
    """RAKE candidate phrases of ``text``: lower-cased runs of content words split at stop words/punctuation."""
    stop = stop if stop is not None else _stop_words()
    phrases: list[str] = []
    for chunk in re.split(r"[.,;:!?()\[\]\"\n]+", text.lower()):
        run: list[str] = []
        for word in (w for w in _SPLIT.split(chunk) if w):
            if word in stop:
                if run:
                    phrases.append(" ".join(run))
                run = []
            else:
                run.append(word)
        if run:
            phrases.append(" ".join(run))
    return phrases


def _padded(text: str) -> str:
    return " " + " ".join(w for w in _SPLIT.split(text.lower()) if w) + " "


def contains(text: str, phrase: str) -> bool:
    return _padded(phrase) in _padded(text)


def mine_concepts(
    forget_texts: Iterable[str], candidate_texts: list[str], *, min_words: int = 2, max_df: float = 0.05
) -> list[str]:
    """Forget phrases of ≥ ``min_words`` words found in at most ``max_df`` of the candidates, sorted."""
    stop = _stop_words()
    phrases = {p for t in forget_texts for p in rake_phrases(t, stop) if len(p.split()) >= min_words}
    padded = [_padded(t) for t in candidate_texts]
    limit = max_df * max(len(padded), 1)
    return sorted(p for p in phrases if sum(f" {p} " in t for t in padded) <= limit)


@register_filter("concept")
class ConceptDenyFilter(RecoveryFilter):
    def __init__(self, min_words: int = 2, max_df: float = 0.05) -> None:
        self.min_words = int(min_words)
        self.max_df = float(max_df)
        self.concepts: list[str] = []

    def __call__(self, inputs: FilterInputs) -> FilterOutcome:
        import numpy as np

        cands = inputs.candidates
        keep = np.ones(len(cands), dtype=bool)
        reasons: dict[int, str] = {}
        if cands.kind != "text":
            return FilterOutcome(keep, reasons)  # concepts are phrases: rows have none
        texts = cands.texts()
        mined = (
            mine_concepts(inputs.forget.texts(), texts, min_words=self.min_words, max_df=self.max_df)
            if inputs.forget is not None and inputs.forget.kind == "text"
            else []
        )
        self.concepts = sorted(set(mined) | {d.lower().strip() for d in inputs.deny if d.strip()})
        padded = [_padded(t) for t in texts]
        for phrase in self.concepts:
            needle = _padded(phrase)
            for i, t in enumerate(padded):
                if keep[i] and needle in t:
                    keep[i] = False
                    reasons[i] = "mentions a forget concept"
        return FilterOutcome(keep, reasons)

    def record(self) -> dict[str, object]:
        # the deny-list itself is forget content: only its size is recorded
        return {"min_words": self.min_words, "max_df": self.max_df, "concepts": len(self.concepts)}


__all__ = ["ConceptDenyFilter", "contains", "mine_concepts", "rake_phrases"]
