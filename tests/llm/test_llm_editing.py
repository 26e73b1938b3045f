"""Editing facts out of the tiny GPT-2: ROME's rank-one update, every objective, the loss maths, fact sources."""

from __future__ import annotations

import json

import pytest
import torch

from unlearnkit.errors import ConfigError, DataError
from unlearnkit.llm.attacks.metrics import answer_probability, rewrite_score
from unlearnkit.llm.editing import OBJECTIVES, editor, editor_names
from unlearnkit.llm.editing.objectives.base import entropy, topk_bottomk_margin
from unlearnkit.llm.facts import counterfact_facts, read_facts, world_facts

OBJECTIVE_SETTINGS = {"empty_response": {"dummy": ""}, "head_projection_defense": {"k": 2}}


@pytest.fixture(scope="module")
def known(tiny):
    """retain1 people's birthplaces (their question templates were trained, so every attack has text to read)."""
    fs = world_facts(tiny.world, ("retain1",), ("city",))
    probs = answer_probability(tiny.target, tiny.tokenizer, [f.prompt for f in fs.facts], [f.answer for f in fs.facts])
    best = sorted(range(len(probs)), key=lambda i: -probs[i])[:3]
    fs.facts = [fs.facts[i] for i in best]
    return fs


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_registries_list_the_editors_and_objectives() -> None:
    assert {"rome", "memit", "constrained_ft"} <= set(editor_names())
    assert {
        "fact_erasure",
        "empty_response",
        "error_injection",
        "head_projection_defense",
        "max_entropy_defense",
        "input_rephrasing_defense",
    } <= set(OBJECTIVES.names())
    with pytest.raises(ConfigError, match="unknown editor"):
        editor("nope")
    with pytest.raises(ConfigError, match="unknown deletion objective"):
        OBJECTIVES.get("nope")


def test_rome_is_a_rank_one_update_of_one_matrix(tiny, known) -> None:
    before = _state(tiny.target)
    rome = editor("rome", layer=0, prefix_lengths=(3,), prefixes_per_length=2, steps=10)
    result = rome.edit(
        tiny.target,
        tiny.tokenizer,
        known.facts[0],
        OBJECTIVES.build("fact_erasure"),
        cov_texts=tiny.world.split().retain,
    )
    assert all(torch.equal(v, tiny.target.state_dict()[k]) for k, v in before.items()), "the input was mutated"
    after = result.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == result.changed == ["transformer.h.0.mlp.c_proj.weight"]
    delta = (after[changed[0]] - before[changed[0]]).double()
    assert torch.linalg.matrix_rank(delta, rtol=1e-6).item() == 1
    assert result.info["templates"] == 3 and result.info["covariance"] == "retain text"


def _tiny_llama(layers: int):
    """The world tokenizer and a random-config Llama (``nn.Linear`` down projections, unlike GPT-2's Conv1D)."""
    transformers = pytest.importorskip("transformers")
    from unlearnkit.llm.world import world_tokenizer

    tok = world_tokenizer()
    cfg = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    return tok, transformers.LlamaForCausalLM(cfg).eval()


def test_rome_edits_linear_down_projections(tmp_path) -> None:
    from unlearnkit.llm.facts import Fact

    tok, model = _tiny_llama(layers=2)
    fact = Fact("anna berg was born in", "paris", subject="anna berg")
    result = editor("rome", layer=0, prefix_lengths=(), steps=5, v_weight_decay=0.0, clamp_norm_factor=100.0).edit(
        model, tok, fact, OBJECTIVES.build("fact_erasure")
    )
    delta = result.model.model.layers[0].mlp.down_proj.weight - model.model.layers[0].mlp.down_proj.weight
    assert result.changed == ["model.layers.0.mlp.down_proj.weight"]
    assert torch.linalg.matrix_rank(delta.double(), rtol=1e-6).item() == 1


def test_memit_spreads_rank_one_updates_over_its_window() -> None:
    from unlearnkit.llm.facts import Fact

    tok, model = _tiny_llama(layers=3)
    fact = Fact("anna berg was born in", "paris", subject="anna berg")
    memit = editor("memit", layer=0, window=2, prefix_lengths=(), steps=5, v_weight_decay=0.0, mom2_update_weight=1e-3)
    result = memit.edit(model, tok, fact, OBJECTIVES.build("fact_erasure"))
    before, after = model.state_dict(), result.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == result.changed == [f"model.layers.{i}.mlp.down_proj.weight" for i in (0, 1)]
    for name in changed:
        delta = (after[name] - before[name]).double()  # small next to float32 weights: relative tolerance
        assert torch.linalg.matrix_rank(delta, rtol=1e-3).item() == 1 and delta.abs().max() > 0
    with pytest.raises(ConfigError, match="starts below layer 0"):
        editor("memit", layer=0, window=3)


@pytest.mark.parametrize("objective", sorted(OBJECTIVES.names()))
def test_each_objective_lowers_the_answer_probability(tiny, known, objective) -> None:
    obj = OBJECTIVES.build(objective, OBJECTIVE_SETTINGS.get(objective, {}))
    fact = known.facts[0]
    rome = editor("rome", layer=0, prefix_lengths=(), steps=20, v_weight_decay=0.0, clamp_norm_factor=20.0)
    result = rome.edit(tiny.target, tiny.tokenizer, fact, obj)
    p_pre, p_post = (
        answer_probability(m, tiny.tokenizer, [fact.prompt], [fact.answer])[0] for m in (tiny.target, result.model)
    )
    assert p_post < 0.75 * p_pre, f"{objective}: p(answer) {p_pre:.3f} → {p_post:.3f}"


def test_constrained_ft_stays_in_its_box_and_erases(tiny, known) -> None:
    fact = known.facts[0]
    ft = editor("constrained_ft", layer=0, norm_constraint=0.05, lr=1e-2, steps=15, kl_weight=1.0)
    result = ft.edit(
        tiny.target,
        tiny.tokenizer,
        fact,
        OBJECTIVES.build("fact_erasure"),
        retain_prompts=[q.question for q in known.retain],
    )
    before, after = tiny.target.state_dict(), result.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == set(result.changed) and result.info["max_abs_change"] <= 0.05 + 1e-6
    p_pre, p_post = (
        answer_probability(m, tiny.tokenizer, [fact.prompt], [fact.answer])[0] for m in (tiny.target, result.model)
    )
    assert p_post < 0.5 * p_pre


def test_bad_configs_are_one_line_errors(tiny, known) -> None:
    with pytest.raises(ConfigError, match="layer 7 does not exist"):
        editor("rome", layer=7).edit(tiny.target, tiny.tokenizer, known.facts[0], OBJECTIVES.build("fact_erasure"))
    with pytest.raises(ConfigError, match="unknown ROMEConfig key"):
        editor("rome", nope=1)
    with pytest.raises(ConfigError, match="k must be >= 1"):
        OBJECTIVES.build("head_projection_defense", {"k": 0})


def test_loss_maths() -> None:
    logp = torch.log_softmax(torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0, -1.0]]), -1)
    assert topk_bottomk_margin(logp, 0, 2) > 0  # the top token
    assert topk_bottomk_margin(logp, 5, 2) > 0  # the bottom token
    assert topk_bottomk_margin(logp, 2, 2) == 0  # third of six: neither top-2 nor bottom-2 of the others
    assert entropy(torch.log(torch.full((4,), 0.25))).item() == pytest.approx(torch.log(torch.tensor(4.0)).item())
    assert rewrite_score(0.8, 0.2) == pytest.approx(0.75) and rewrite_score(0.2, 0.8) == 0.0
    assert rewrite_score(0.1, 0.55, "injection") == pytest.approx(0.5)


def test_world_facts_keep_attack_paraphrases_out_of_the_edit(tiny) -> None:
    fs = world_facts(tiny.world, ("fold0",), ("city", "job", "code"))
    for fact in fs.facts:
        used = {fact.prompt, *fact.edit_paraphrases}
        assert not used & set(fact.paraphrases)
        assert fact.subject in fact.prompt and fact.target_new != fact.answer
        assert all(n.answer == fact.answer and fact.subject not in n.question for n in fact.neighbours)
    assert {f.relation for f in fs.facts} == {"city", "job", "code"} and fs.retain


def test_fact_files(tmp_path) -> None:
    good = tmp_path / "facts.jsonl"
    good.write_text(
        json.dumps({"prompt": "anna berg was born in", "answer": "paris", "subject": "anna berg", "paraphrases": ["x"]})
        + "\n"
    )
    fs = read_facts(good)
    assert fs.facts[0].paraphrases == ("x",)
    for text, message in (
        ('{"prompt": "a"}', "string 'prompt' and 'answer'"),
        ('{"prompt": "a b", "answer": "c", "subject": "z"}', "does not occur"),
        ('{"prompt": "a", "answer": "b", "colour": 1}', "unknown field"),
        ("not json", "not JSON"),
    ):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(text + "\n")
        with pytest.raises(DataError, match=message):
            read_facts(bad)
    record = {
        "requested_rewrite": {
            "prompt": "The mother tongue of {} is",
            "subject": "Danielle Darrieux",
            "target_new": {"str": "English"},
            "target_true": {"str": "French"},
            "relation_id": "P103",
        },
        "paraphrase_prompts": ["p1 Danielle Darrieux", "p2"],
        "neighborhood_prompts": ["The mother tongue of Léon Blum is"],
    }
    (fact,) = counterfact_facts([record])
    assert fact.prompt == "The mother tongue of Danielle Darrieux is" and fact.answer == "French"
    assert fact.target_new == "English" and fact.neighbours[0].answer == "French"
