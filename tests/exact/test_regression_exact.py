"""Exact strategies on float targets: one-wide head, MSE, mean of shard outputs, R² score, bitwise forget."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import TINY
from unlearnkit.data import LOADERS
from unlearnkit.errors import ConfigError
from unlearnkit.exact import S3T, SISA, load_strategy
from unlearnkit.exact.aggregation import aggregate_values
from unlearnkit.models.train import predict_logits


@pytest.fixture(scope="module")
def friedman():
    bundle = LOADERS["friedman_public"].load(seed=0, num_samples=300)
    return bundle.train.take(list(range(120))), bundle.public, bundle.test


def test_s3t_regression_forget_equals_a_fit_without_the_row_bitwise(friedman, tmp_path):
    train, public, test = friedman
    kw = {**TINY, "epochs": 10, "batch_size": 16, "shards": 2, "slices": 2, "budget": 2}
    a = S3T(**kw).fit(train, public, directory=tmp_path / "a")
    assert a.is_regression_ and a.spec_.num_classes == 1 and a.config_["task"] == "regression"
    assert a.public_fit_["label_set"]["source"] == "regression"
    served = a.served()
    victim = train.id_list()[7]
    receipt = a.forget([victim])
    assert receipt.guarantee == "exact-deactivate" and a.served() != served
    b = S3T(**kw).fit(train.without([victim]), public, directory=tmp_path / "b")
    members = a._snapshot.members
    for m in members:  # the prefixes D serves after forget, as D′ trained them: bitwise the same parameters
        keys_b = tuple(
            k
            for k, (sh, p) in sorted(b._nodes_.items(), key=lambda kv: len(kv[1][1]))
            if sh == m.shard and p == m.prefix[: len(p)]
        )
        mod_b = b._module(keys_b)
        sa, sb = a._module(m.keys).state_dict(), mod_b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[n], sb[n]) for n in sa)
    pred = a.predict(test.x)
    assert pred.shape == (len(test),) and pred.dtype.kind == "f"
    outs = [predict_logits(a._module(m.keys), a.transform_(test.x)) for m in members]
    assert (pred == aggregate_values(outs).numpy()).all()  # the mean of the served shards' outputs
    r2 = a.score(test)
    y = test.y.double().numpy()
    assert r2 == pytest.approx(1 - ((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    assert r2 > 0.0, "the ensemble should beat predicting the mean"
    _, exported = a.served_ensemble()
    assert torch.allclose(exported(test.x), torch.as_tensor(pred), atol=1e-6)
    with pytest.raises(ConfigError, match="no class probabilities"):
        a.predict_proba(test.x)
    a.close()
    again = load_strategy(tmp_path / "a")
    assert again.is_regression_ and (again.predict(test.x) == pred).all()
    assert again.held_.spec.y_dtype == "<f4"  # the held rows keep float32 targets
    again.close()
    b.close()


def test_regression_refuses_vote_and_label_sets(friedman):
    train, public, _ = friedman
    with pytest.raises(ConfigError, match="averaged over shards"):
        SISA(aggregation="vote", **TINY).fit(train, public)
    with pytest.raises(ConfigError, match="class labels only"):
        SISA(num_classes=3, **TINY).fit(train, public)
