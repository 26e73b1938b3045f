"""The generated world: disjoint roles, public vocabulary, paraphrase templates kept out of forget training."""

from __future__ import annotations

import pytest

from unlearnkit.errors import ConfigError
from unlearnkit.llm.world import QUESTIONS, World, WorldConfig, make_world, public_vocabulary, world_tokenizer


def test_roles_are_disjoint_and_deterministic() -> None:
    w = make_world(WorldConfig(seed=3))
    assert len({p.name for p in w.people}) == len(w.people) == w.config.total
    assert make_world(WorldConfig(seed=3)).people == w.people
    assert make_world(WorldConfig(seed=4)).people != w.people
    assert World.from_dict(w.to_dict()).people == w.people
    split = w.split((0, 1))
    assert len(split.forget) == 2 * w.config.fold_size * 4
    assert not set(split.forget) & set(split.retain) and not set(split.forget) & set(split.holdout)
    assert not set(split.holdout) & set(w.training_texts())


def test_questions_about_forget_people_never_appear_in_training() -> None:
    w = make_world()
    corpus = " | ".join(w.training_texts())
    for p in w.role("fold0", "retain2", "holdout"):
        for ts in QUESTIONS.values():
            for t in ts.values():
                assert t.format(name=p.name) not in corpus
    for p in w.role("retain1"):
        assert QUESTIONS["city"]["report"].format(name=p.name) in corpus  # the bridges teach the templates
    retrained = set(w.training_texts(exclude_folds=(0,)))
    assert not any(t in retrained for p in w.role("fold0") for t in p.statements())


def test_tokenizer_is_public_and_round_trips() -> None:
    tok = world_tokenizer()
    w = make_world()
    vocab = set(public_vocabulary())
    for text in w.training_texts()[:50]:
        assert set(text.split()) <= vocab
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.unk_token_id not in ids and tok.decode(ids) == text
    assert world_tokenizer().get_vocab() == tok.get_vocab()  # independent of any person's data


def test_bad_world_config_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="at least one person"):
        WorldConfig(folds=0)
    with pytest.raises(ConfigError, match="at most"):
        WorldConfig(retain1=5000)


def test_world_models_memorise_and_reference_does_not(tiny) -> None:
    from unlearnkit.llm.eval import evaluate_lm

    ev = tiny.world.eval_set()
    tgt = evaluate_lm(tiny.target, tiny.tokenizer, ev, metrics=["verbmem_f", "mia_min_k"])
    ref = evaluate_lm(tiny.retrain, tiny.tokenizer, ev, metrics=["verbmem_f", "mia_min_k"])
    assert tgt["verbmem_f"] > ref["verbmem_f"]
    assert tgt["mia_min_k"] < ref["mia_min_k"]  # MUSE orientation: memorised → AUC toward 0


def test_hub_loaders_without_datasets_are_a_one_line_hint(monkeypatch) -> None:
    import builtins

    from unlearnkit.llm import hub

    real = builtins.__import__

    def no_datasets(name, *a, **k):
        if name == "datasets":
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(ConfigError, match="pip install"):
        hub.tofu("forget10", tokenizer=world_tokenizer())
    with pytest.raises(ConfigError, match="MUSE corpus"):
        hub.muse("Poems", tokenizer=world_tokenizer())
