"""Extraction attacks on the tiny GPT-2: each finds a known answer in the unedited model, within its budget."""

from __future__ import annotations

import pytest
import torch

from unlearnkit.errors import ConfigError
from unlearnkit.llm.attacks import ATTACKS
from unlearnkit.llm.attacks.metrics import answer_probability, answer_ranks, attack_hits
from unlearnkit.llm.editing.workflow import attack_report
from unlearnkit.llm.facts import world_facts

SETTINGS = {"head_projection": {"k": 2}, "probability_delta": {"k": 2}, "union": {"k": 2}}


@pytest.fixture(scope="module")
def known(tiny):
    fs = world_facts(tiny.world, ("retain1",), ("city",))
    probs = answer_probability(tiny.target, tiny.tokenizer, [f.prompt for f in fs.facts], [f.answer for f in fs.facts])
    fs.facts = [fs.facts[i] for i in sorted(range(len(probs)), key=lambda i: -probs[i])[:4]]
    return fs


def test_registry_lists_the_attacks() -> None:
    assert {"head_projection", "probability_delta", "input_rephrasing", "union"} <= set(ATTACKS.names())


@pytest.mark.parametrize("name", ["head_projection", "probability_delta", "input_rephrasing", "union"])
def test_each_attack_finds_the_answer_in_an_unedited_model(tiny, known, name) -> None:
    attack = ATTACKS.build(name, SETTINGS.get(name, {}))
    hits = attack_hits(tiny.target, tiny.tokenizer, known.facts, attack, edit_layer=0, generator=torch.Generator())
    assert sum(h["hit"] for h in hits) >= 3, hits


@pytest.mark.parametrize("name", ["head_projection", "probability_delta", "input_rephrasing", "union"])
def test_budgets_are_respected(tiny, name) -> None:
    facts = world_facts(tiny.world, ("fold0", "retain1"), ("city", "job"))
    attack = ATTACKS.build(name, SETTINGS.get(name, {}))
    budget = attack.budget(tiny.target, 0)
    expected = {"head_projection": 2 * 2 * 2, "probability_delta": 2 * 2 * 1, "input_rephrasing": 4 * 5}
    assert budget == expected.get(name, sum(expected.values()))
    for model in (tiny.target, tiny.untrained()):
        hits = attack_hits(model, tiny.tokenizer, facts.facts, attack, edit_layer=0, generator=torch.Generator())
        assert max(h["candidates"] for h in hits) <= budget


def test_floor_and_layers(tiny, known) -> None:
    attacks = [ATTACKS.build("head_projection", {"k": 1})]
    rows = attack_report(tiny.target, tiny.tokenizer, known, attacks, edit_layer=0, reference=tiny.retrain)
    row = rows["head_projection"]
    assert row["layers"] == [1, 2] and row["budget"] == 4
    assert row["leak"] == pytest.approx(row["success"] - row["floor"])
    assert len(answer_ranks(tiny.target, tiny.tokenizer, known.facts[0])) == 3
    with pytest.raises(ConfigError, match=">= 2 attacked layers"):
        ATTACKS.build("probability_delta", {"layers": (2,)}).budget(tiny.target, 0)
    with pytest.raises(ConfigError, match="lens layer 9 does not exist"):
        ATTACKS.build("head_projection", {"layers": (9,)}).candidates(
            tiny.target, tiny.tokenizer, known.facts[0], edit_layer=0, generator=torch.Generator()
        )
