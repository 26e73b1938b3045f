"""Exact unlearning on Hugging Face and user-module backbones: counterfactual exactness after ``forget``,
LoRA on exactly the intended layers, dead-shard retrain equal to a fresh fit, save/load round trip.

Each case is a (backbone, data) pair from the registry below; a new backbone joins by adding a case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from tests.backbones.tiny_hf import TOPICS, topic_texts
from unlearnkit.errors import ConfigError
from unlearnkit.exact import S3T, SISA, EnsembleLM, load_strategy

FAST = dict(epochs=2, batch_size=16, lora_rank=2, lr=1e-2, seed=0, salt="test-salt")


@dataclass
class Case:
    backbone: Any
    data: Any
    probe: Any  # inputs to compare predictions on
    lora_names: set[str]  # exact module names that must carry LoRA


def _text_case(bb, n=36, labels=True):
    from unlearnkit.data.text import text_dataset

    texts, topics = topic_texts(n, seed=1)
    emails = [f"user{i}@example.org" for i in range(n)]
    if labels:
        data = text_dataset(bb, texts, topics, ids=emails, label_names=sorted(TOPICS), name="topics")
    else:
        data = text_dataset(bb, texts, ids=emails, owners=[f"owner-{i % 5}" for i in range(n)], name="corpus")
    return data, topic_texts(8, seed=2)[0]


def make_case(name: str, dirs) -> Case:
    from unlearnkit.models.backbones import ModuleBackbone
    from unlearnkit.models.backbones.hf import HFBackbone

    if name == "bert":  # LoRA on layers 1..3 only (chosen by exact index)
        bb = HFBackbone(dirs["bert"], max_length=10, layers=[1, 2, 3])
        data, probe = _text_case(bb)
        names = {f"model.bert.encoder.layer.{i}.attention.self.{t}" for i in (1, 2, 3) for t in ("query", "value")}
        return Case(bb, data, probe, names)
    if name == "gpt2-cls":  # a decoder LM as a sequence classifier
        bb = HFBackbone(dirs["gpt2"], max_length=10)
        data, probe = _text_case(bb)
        return Case(bb, data, probe, {f"model.transformer.h.{i}.attn.c_attn" for i in range(4)})
    if name == "gpt2-lm":  # a decoder LM for generation
        bb = HFBackbone(dirs["gpt2"], task="causal-lm", max_length=10)
        data, probe = _text_case(bb, labels=False)
        return Case(bb, data, probe, {f"model.transformer.h.{i}.attn.c_attn" for i in range(4)})
    if name == "vit":
        from sklearn.datasets import load_digits

        from unlearnkit.data.images import image_dataset, preprocess_images

        d = load_digits()
        bb = HFBackbone(dirs["vit"])
        data = image_dataset(bb, d.images[:40], d.target[:40].tolist(), scale=16.0, num_classes=10)
        probe = preprocess_images(bb, d.images[100:110], scale=16.0)
        names = {f"model.vit.layers.{i}.attention.{t}" for i in range(4) for t in ("q_proj", "v_proj")}
        return Case(bb, data, probe, names)
    if name == "module":
        from unlearnkit.data import load_digits

        b = load_digits(seed=0)
        bb = ModuleBackbone("tests.backbones.user_module:make_mlp", targets=[["2"], ["4"]], head=["6"])
        return Case(bb, b.train.take(list(range(40))), b.test.x[:10], {"net.2", "net.4"})
    raise KeyError(name)


# the user-module backbone is also registered in tests/exactness (every loader × strategy)
CASES = ["bert", "gpt2-cls", "gpt2-lm", "vit", "module"]


def outputs(model, probe):
    """What the served model computes on ``probe``: class probabilities, or next-token logits for an LM."""
    if model.spec_.task == "causal-lm":
        lm = EnsembleLM(model)
        ids = lm.tokenizer(list(probe), add_special_tokens=False, padding=True, return_tensors="pt")["input_ids"]
        return lm.next_token_logits(ids[:, :3])
    return torch.as_tensor(model.predict_proba(probe))


def assert_same_served(a, b, probe) -> None:
    sa, sb = a.served_state(), b.served_state()
    assert sa.keys() == sb.keys() and sa
    for shard in sa:
        assert sa[shard].keys() == sb[shard].keys()
        for name, t in sa[shard].items():
            assert torch.equal(t, sb[shard][name]), f"{shard}/{name} differs"
    assert torch.equal(outputs(a, probe), outputs(b, probe))


@pytest.fixture(scope="module", params=CASES)
def case(request, hf_dirs):
    return request.param, make_case(request.param, hf_dirs)


def s3t(bb, **kw):
    return S3T(backbone=bb, **{**FAST, "shards": 2, "slices": 2, "budget": 2, **kw})


@pytest.fixture(scope="module")
def fits(case, tmp_path_factory):
    """S3T fitted on D, on D′ (x changed) — both after forgetting x — and on D \\ {x}."""
    name, c = case
    tmp = tmp_path_factory.mktemp(f"fits-{name}")
    data = c.data
    x_id = data.id_list()[5]
    k = int(data.positions([x_id])[0])
    changed = data.with_replaced(x_id, x=data.x[(k + 1) % len(data)].clone(), y=(int(data.y[k]) + 1) % data.num_classes)
    a = s3t(c.backbone).fit(data, directory=tmp / "a")
    b = s3t(c.backbone).fit(changed, directory=tmp / "b")
    receipt = a.forget([x_id])
    b.forget([x_id])
    without = s3t(c.backbone).fit(data.without([x_id]), directory=tmp / "c")
    return a, b, without, receipt


def test_counterfactual_changed_sample(case, fits):
    """D′ = D with x changed: after forgetting x both serve bitwise-equal models."""
    a, b, _, receipt = fits
    assert receipt.guarantee == "exact-deactivate"
    assert_same_served(a, b, case[1].probe)


def test_counterfactual_removed_sample(fits):
    """Every checkpoint D serves after forgetting x is bitwise the one D \\ {x} trains (same key)."""
    a, _, without, _ = fits
    assert a._snapshot.members
    fresh_nodes = {v: key for key, v in without._nodes_.items()}
    for m in a._snapshot.members:
        for d in range(1, len(m.prefix) + 1):
            key = next(k for k, v in a._nodes_.items() if v == (m.shard, m.prefix[:d]))
            assert fresh_nodes[(m.shard, m.prefix[:d])] == key, "content-addressed keys must agree"
            ta, tb = a._tensors(key), without._tensors(key)
            assert all(torch.equal(ta[n], tb[n]) for n in ta)


def test_lora_on_exactly_the_intended_layers(case, fits):
    c, m = case[1], fits[0]
    with_lora = {n for n, mod in m.template_.base_model.model.named_modules() if hasattr(mod, "lora_A")}
    assert with_lora == c.lora_names
    assert set().union(*map(set, m.spec_.lora_target_names())) == c.lora_names
    # stage 1 trains LoRA only on the top block of layers (S3T counts blocks from the top)
    n = m.spec_.num_layers
    assert m._node_layers(1)[0] == list(range(n - n // 2, n))


def test_save_load_round_trip(case, fits, tmp_path):
    a = fits[0]
    a.save(tmp_path / "copy")
    b = load_strategy(tmp_path / "copy")
    assert type(b.spec_) is type(a.spec_) and b.spec_.to_config() == a.spec_.to_config()
    assert_same_served(a, b, case[1].probe)
    assert "never deletable" in (tmp_path / "copy" / "MODEL_CARD.md").read_text()


def test_dead_shard_retrain_equals_fresh_fit(case, tmp_path):
    c = case[1]
    kw = dict(shards=2, slices=2, budget=1)
    s = s3t(c.backbone, **kw).fit(c.data, directory=tmp_path / "a")
    first = s._rows_[0][2][0]
    victim = next(i for i, (sh, sl) in s.assignment_.items() if sh == 0 and sl == first)
    assert s.forget([victim]).pending_retrain == [0]
    s.retrain()
    fresh = s3t(c.backbone, **kw).fit(c.data.without([victim]), directory=tmp_path / "b")
    assert_same_served(s, fresh, c.probe)


def test_sisa_retrain_on_hf_equals_fresh_fit(hf_dirs, tmp_path):
    """SISA (retrain mode) on a BERT backbone: forgetting equals training without the ids, bitwise."""
    c = make_case("bert", hf_dirs)
    ids = c.data.id_list()[2:4]
    a = SISA(shards=2, slices=2, backbone=c.backbone, **FAST).fit(c.data, directory=tmp_path / "a")
    assert a.forget(ids).guarantee == "exact-retrain"
    b = SISA(shards=2, slices=2, backbone=c.backbone, **FAST).fit(c.data.without(ids), directory=tmp_path / "b")
    assert_same_served(a, b, c.probe)


def test_generation_equals_counterfactual_after_forgetting(hf_dirs, tmp_path):
    """A user's text replaced by another (D′): after forgetting that user, an S3T GPT-2 generates exactly
    what the counterfactual model generates, token for token, and scores text identically."""
    c = make_case("gpt2-lm", hf_dirs)
    data = c.data
    user = "owner-2"
    ids = [i for i, o in zip(data.id_list(), data.owners, strict=True) if o == user]
    swapped = data
    for i in ids:
        k = int(data.positions([i])[0])
        swapped = swapped.with_replaced(i, x=data.x[(k + 3) % len(data)].clone())
    kw = dict(shards=2, slices=2, budget=2, epochs=6)
    a = s3t(c.backbone, **kw).fit(data, directory=tmp_path / "a")
    b = s3t(c.backbone, **kw).fit(swapped, directory=tmp_path / "b")
    la, lb = EnsembleLM(a), EnsembleLM(b)
    prompts = ["the great", "the old soup", "the cheap laptop was"]
    with pytest.raises(ConfigError, match="EnsembleLM"):
        a.predict(c.probe)
    receipt = a.forget(owner=user)
    b.forget(owner=user)
    assert receipt.count == len(ids)
    if a.served():
        assert la.generate(prompts, max_new_tokens=6) == lb.generate(prompts, max_new_tokens=6)
        for pa, pb in zip(la.token_log_probs(prompts), lb.token_log_probs(prompts), strict=True):
            assert torch.equal(pa, pb)
        ids = torch.tensor([la.tokenizer("the old soup was")["input_ids"]])
        assert torch.equal(la.logits(ids), lb.logits(ids)) and torch.equal(
            la.logits(ids)[:, -1], la.next_token_logits(ids)
        )
        new = la.generate_ids(la.tokenizer("the great")["input_ids"], 4)
        assert new.dtype == torch.long and len(new) <= 4


def test_external_ids_are_held_as_keyed_hashes_only(hf_dirs, tmp_path):
    c = make_case("bert", hf_dirs)
    m = s3t(c.backbone).fit(c.data, directory=tmp_path / "m")
    email = "user7@example.org"
    receipt = m.forget([email])
    assert receipt.count == 1 and len(receipt.external_id_hashes) == 1
    assert receipt.external_id_hashes == [m.store.external_hash(email)]
    assert email not in receipt.to_json()
    for f in (tmp_path / "m").rglob("*"):
        if f.is_file():
            assert b"@example.org" not in f.read_bytes(), f"{f.name} holds a plain external id"
    assert m.forget([email]).already_forgotten  # idempotent by external id
    assert m.config_["label_names"] == sorted(TOPICS)
    assert set(m.predict_labels(c.probe)) <= set(TOPICS)
    with pytest.raises(KeyError, match=r"nobody@example\.org"):
        m.forget(["nobody@example.org"])
    # raw texts are tokenised by the backbone's own tokenizer at predict time
    assert np.array_equal(m.predict(c.probe), m.predict(c.backbone.encode_texts(c.probe)))
