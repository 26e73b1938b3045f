"""Each LM metric against a hand-computed case."""

from __future__ import annotations

import math
import zlib

import pytest
import torch
from torch import nn

from unlearnkit.errors import DataError, ReferenceRequiredError
from unlearnkit.llm.data import LMEvalSet, QAItem, VerbItem
from unlearnkit.llm.eval import LM_METRICS, LMEvalInputs, evaluate_lm, stop_index
from unlearnkit.llm.eval import mia as M
from unlearnkit.llm.eval.generation import cut_at, greedy_generate, rouge_l
from unlearnkit.llm.eval.tofu import harmonic_mean, truth_ratios
from unlearnkit.llm.world import world_tokenizer
from unlearnkit.registry import list_metrics


def test_min_k_and_friends_by_hand() -> None:
    lp = [-1.0, -2.0, -3.0, -4.0, -5.0]
    assert M.min_k(lp, 0.4) == 4.5  # lowest int(5·0.4)=2 tokens: −5, −4
    assert M.min_k([-1.0], 0.4) == 1.0  # at least one token
    assert M.min_k_pp([-1.0, -3.0], [-2.0, -2.0], [2.0, 1.0], 0.5) == 1.0  # z = [0.5, −1] → −(−1)
    assert M.loss_score(lp) == 3.0
    assert M.zlib_score(lp, "abc") == 3.0 / len(zlib.compress(b"abc"))


def test_mia_auc_orientation_and_privleak() -> None:
    # memorised forget texts score low (member-like): AUC 0 in MUSE's orientation
    assert M.mia_auc([0.1, 0.2], [1.0, 2.0]) == 0.0
    assert M.mia_auc([1.0, 2.0], [0.1, 0.2]) == 1.0
    # P(holdout score < forget score) over the 4 pairs: only (0.2 < 1.0)
    assert M.mia_auc([1.0, 0.1], [2.0, 0.2]) == 0.25
    assert M.privleak(0.0, 0.5) == -100.0
    assert M.privleak(0.75, 0.5) == 50.0


def test_rouge_l_f1_and_recall() -> None:
    (s,) = rouge_l(["a c"], ["a b c"])  # LCS 2: P = 1, R = 2/3
    assert math.isclose(s["recall"], 2 / 3) and math.isclose(s["f1"], 0.8)
    assert cut_at("paris . the", (".",)) == "paris"
    assert cut_at("x\n\nQuestion: y", ("\n\n", "Question:")) == "x"


def test_truth_ratio_and_helpers() -> None:
    r = truth_ratios([1.0], [[2.0, 4.0]])  # exp(1 − 3)
    assert math.isclose(r[0], math.exp(-2))
    assert math.isclose(harmonic_mean([0.5, 1.0]), 2 / 3)
    assert harmonic_mean([0.0, 1.0]) == 0.0
    assert stop_index([80, 40, 10, 0], 10) == 2
    assert stop_index([80, 40], 10) == 1  # never reached: the last checkpoint


class Bigram(nn.Module):
    """Predicts ``table[token]`` next (argmax), or spreads mass uniformly for unlisted tokens."""

    def __init__(self, vocab: int, table: dict[int, int]) -> None:
        super().__init__()
        self.vocab, self.table = vocab, table
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: object) -> object:
        logits = torch.zeros(*input_ids.shape, self.vocab)
        for (b, t), tok in zip(
            torch.cartesian_prod(*map(torch.arange, input_ids.shape)).tolist(),
            input_ids.flatten().tolist(),
            strict=True,
        ):
            if tok in self.table:
                logits[b, t, self.table[tok]] = 10.0
        return type("Out", (), {"logits": logits + self.w})()


def _bigram() -> tuple[Bigram, object]:
    tok = world_tokenizer()
    ids = {w: tok.convert_tokens_to_ids(w) for w in ("is", "paris", ".", "in", "oslo", "born", "was")}
    table = {ids["is"]: ids["paris"], ids["paris"]: ids["."], ids["in"]: ids["oslo"], ids["oslo"]: ids["."]}
    return Bigram(len(tok), table), tok


def test_knowmem_and_verbmem_by_hand() -> None:
    model, tok = _bigram()
    ev = LMEvalSet(
        verbmem=[VerbItem("anna berg was born in", "oslo ."), VerbItem("anna berg was born in", "lima .")],
        knowmem_forget=[QAItem("the birthplace of anna berg is", "paris"), QAItem("the job of anna berg is", "oslo")],
        knowmem_retain=[QAItem("the birthplace of ben dahl is", "lima paris")],
        qa_template="{q}",
        stop=(".",),
        knowmem_max_new_tokens=3,
        verbmem_max_new_tokens=16,
    )
    assert greedy_generate(model, tok, ["anna is"], 2) == ["paris ."]
    out = evaluate_lm(model, tok, ev, metrics=["knowmem_f", "knowmem_r", "verbmem_f"], per_sample=True)
    assert out["knowmem_f"]["per_sample"] == [100.0, 0.0] and out["knowmem_f"]["value"] == 50.0
    assert math.isclose(out["knowmem_r"]["value"], 100 * 2 * (1 * 0.5) / 1.5)  # "paris" vs "lima paris": P 1, R ½
    # "oslo ." vs "oslo ." → 1; "oslo ." vs "lima ." → ROUGE tokens ["oslo"] vs ["lima"] → 0
    assert out["verbmem_f"]["per_sample"] == [100.0, 0.0]


def test_privleak_needs_a_reference_and_uses_its_measured_auc() -> None:
    model, tok = _bigram()
    ev = LMEvalSet(
        privleak_forget=["anna is paris .", "ben is paris ."], privleak_holdout=["anna is lima .", "ben in lima ."]
    )
    inputs = LMEvalInputs(model, tok, ev)
    assert inputs.metric("mia_min_k").value == 0.0  # forget texts follow the bigram table exactly
    with pytest.raises(ReferenceRequiredError):
        inputs.metric("privleak")
    logs = {"mia_min_k": {"value": 0.5}}
    assert evaluate_lm(model, tok, ev, reference_logs=logs, metrics=["privleak"])["privleak"] == -100.0
    with pytest.raises(DataError):  # a reference with AUC 0 leaves PrivLeak undefined
        evaluate_lm(model, tok, ev, reference=model, metrics=["privleak"])


def test_forget_quality_is_one_against_itself(tiny) -> None:
    ev = tiny.world.eval_set()
    out = evaluate_lm(
        tiny.target,
        tiny.tokenizer,
        ev,
        reference=tiny.target,
        original=tiny.target,
        metrics=["forget_quality", "utility_preserved", "truth_ratio_f", "model_utility"],
    )
    assert out["forget_quality"] == 1.0
    # 100 % of itself (undefined, NaN, when the tiny model answers no retain question at all)
    assert out["utility_preserved"] == 100.0 or math.isnan(out["utility_preserved"])
    assert 0 < out["truth_ratio_f"] <= 1 and 0 <= out["model_utility"] <= 1


def test_every_lm_metric_declares_direction_and_needs() -> None:
    names = {m.name for m in list_metrics("llm")}
    assert {
        "verbmem_f",
        "knowmem_f",
        "knowmem_r",
        "privleak",
        "utility_preserved",
        "mia_min_k",
        "mia_min_k_pp",
        "mia_zlib",
        "mia_loss",
        "truth_ratio_f",
        "forget_quality",
        "model_utility",
    } <= names
    for name in names:
        info = LM_METRICS[name]
        assert info.direction in ("higher", "lower", "zero", "reference") and info.description
    assert "reference" in LM_METRICS["privleak"].needs and "reference" in LM_METRICS["forget_quality"].needs


def test_ensemble_module_serves_the_mean_of_its_members() -> None:
    """An exact LM (its alive shards' mean logits) goes through the same metrics as any LM."""
    from types import SimpleNamespace

    from unlearnkit.llm.exact import EnsembleModule

    model, tok = _bigram()
    model.config = SimpleNamespace(n_positions=32)
    uniform = Bigram(len(tok), {})
    members = [SimpleNamespace(model=model), SimpleNamespace(model=uniform)]
    fake = SimpleNamespace(  # EnsembleLM's public surface: config and logits(input_ids)
        config=model.config,
        logits=lambda ids: torch.stack([m.model(input_ids=ids).logits for m in members]).mean(0),
    )
    ens = EnsembleModule(fake)
    ids = torch.tensor([[tok.convert_tokens_to_ids("is")]])
    assert torch.allclose(ens(ids).logits, (model(ids).logits + uniform(ids).logits) / 2)
    assert greedy_generate(ens, tok, ["anna is"], 2) == ["paris ."]  # the mean still prefers the table's token
