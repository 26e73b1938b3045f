"""The forget-aware filters catch planted duplicates and concept matches, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearnkit.recovery import Candidates, ClassifierSubject
from unlearnkit.recovery.filters import (
    FILTERS,
    ConceptConsistencyGraph,
    ConceptDenyFilter,
    DuplicateFilter,
    FilterInputs,
    GradientAlignmentFilter,
    get_filter,
    mine_concepts,
    rake_phrases,
)
from unlearnkit.registry import list_metrics


def _rejected(task, outcome) -> set[str]:
    return {task.candidates.ids[i] for i in np.flatnonzero(~outcome.keep)}


def test_duplicate_filter_rejects_every_planted_near_duplicate_and_nothing_else(digits) -> None:
    out = DuplicateFilter(0.95)(FilterInputs(digits.candidates, digits.forget, digits.subject, digits.damaged))
    assert _rejected(digits, out) == digits.planted
    assert all("forget record" in r for r in out.reasons.values())


def test_duplicate_filter_catches_exact_copies_of_texts() -> None:
    forget = Candidates.from_texts(["paris ."], ["anna berg was born in"])
    cands = Candidates.from_texts(
        ["paris .", "lima .", "7"], ["anna  berg was born in", "ben costa was born in", "add 3 4 ->"]
    )
    out = DuplicateFilter()(FilterInputs(cands, forget, ClassifierSubject(), None))  # type: ignore[arg-type]
    assert out.keep.tolist() == [False, True, True]


def test_gradient_filter_rejects_the_planted_rows(digits) -> None:
    out = GradientAlignmentFilter(0.6)(FilterInputs(digits.candidates, digits.forget, digits.subject, digits.damaged))
    assert digits.planted <= _rejected(digits, out)


def test_rake_and_mined_concepts() -> None:
    assert rake_phrases("the secret code of anna berg is 3 1 4 .") == ["secret code", "anna berg", "3 1 4"]
    forget = ["anna berg was born in paris .", "the secret code of anna berg is 3 1 4 ."]
    pool = [f"the secret code of {n} is 1 2 3 ." for n in ("ben costa", "carla dahl", "iris holm")] + [
        "the birthplace of anna berg is paris ."
    ]
    pool += [f"{n} was born in paris ." for n in ("ben costa", "carla dahl", "iris holm")]
    # "secret code" is in 3/7 candidates (common), "anna berg" in 1/7, "3 1 4" in none
    assert mine_concepts(forget, pool, min_words=2, max_df=0.2) == ["3 1 4", "anna berg"]


def test_concept_filter_rejects_paraphrases_of_forget_facts_and_deny_terms() -> None:
    forget = Candidates.from_texts(["paris .", "3 1 4 ."], ["anna berg was born in", "the secret code of anna berg is"])
    prompts = [
        "the birthplace of anna berg is",
        "ben costa was born in",
        "anna costa works as a",
        "copy 3 1 4 ->",
        "add 1 2 ->",
    ]
    responses = ["paris .", "paris .", "baker .", "3 1 4", "3"]
    cands = Candidates.from_texts(responses, prompts)
    filt = ConceptDenyFilter(min_words=2, max_df=0.3)
    out = filt(FilterInputs(cands, forget, ClassifierSubject(), None, deny=("add 1",)))  # type: ignore[arg-type]
    # the paraphrase and the secret code are caught; a namesake ("anna costa") and the rest are kept
    assert out.keep.tolist() == [False, True, True, False, False]
    # "anna berg", "3 1 4", "secret code" (named by no candidate) and the user's "add 1"; only the count is recorded
    assert filt.record()["concepts"] == 4


def test_concept_consistency_graph_rejects_novel_co_occurrence() -> None:
    ccg = ConceptConsistencyGraph()
    assert ccg.accept("red apple , green pear")
    assert ccg.accept("red apple ; blue sky")  # one known concept with a new one: consistent
    assert not ccg.accept("green pear ; blue sky")  # both known, never together
    assert ccg.accept("green pear ; red apple")  # known together


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_contract(name: str, digits) -> None:
    """Every registered filter: one decision per candidate, deterministic, model untouched, keeps all without D_f."""
    before = {k: v.clone() for k, v in digits.damaged.state_dict().items()}
    filt = get_filter(name)()
    args = (digits.candidates, digits.forget, digits.subject, digits.damaged)
    a, b = filt(FilterInputs(*args)), filt(FilterInputs(*args))
    assert a.keep.shape == (len(digits.candidates),) and a.keep.dtype == bool
    assert np.array_equal(a.keep, b.keep) and set(a.reasons) == set(np.flatnonzero(~a.keep).tolist())
    assert all(torch.equal(before[k], v) for k, v in digits.damaged.state_dict().items())
    free = filt(FilterInputs(digits.candidates, None, digits.subject, digits.damaged))
    assert free.keep.all()


def test_recovery_metrics_are_registered() -> None:
    infos = {m.name: m for m in list_metrics("recovery")}
    assert infos["recovery_ratio"].higher_is_better and infos["forget_leak"].higher_is_better is False
    assert infos["recovery_ratio"].fn(0.9, 0.5, 0.8) == pytest.approx(0.75)
    assert infos["forget_leak"].fn(0.0, 0.25) == 0.25
