"""Counterfactual exactness, end to end, for every registered loader × strategy × backbone (see cases.py).

For D and a counterfactual D′ built from the *raw* rows and passed through the loader's own ``prepare``:

- ``changed``: D′ = D with x's features and label changed; both models forget x;
- ``removed``: D′ = D \\ {x}; the model of D forgets x;
- ``lone-class``: D′ = D \\ {x} where x is the only sample of the top class; the model of D forgets x;

after ``forget([x])`` the served model of D is bitwise the model D′ serves for the same (shard, prefix) choices:
same checkpoint keys, same parameters, same head width, same predicted probabilities. A leak anywhere —
a loader statistic over deletable rows, a label set counted from them, a shared checkpoint, scaling fitted on
them — breaks one of these equalities.

A regression loader (float targets) runs the same scenarios: ``changed`` shifts x's target, ``lone-class``
removes the sample with the largest target (the row a target range would be fitted from), and the predicted
values (the mean of the shard outputs) must be bitwise equal.
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tests.exactness.cases import N_DELETABLE, Combo, combos
from unlearnkit.data import LOADERS, DataBundle, IdDataset
from unlearnkit.exact import load_strategy
from unlearnkit.exact.aggregation import aggregate, aggregate_values
from unlearnkit.models.train import predict_logits

SCENARIOS = ("changed", "removed", "lone-class")
COMBOS = combos()


@dataclass(frozen=True)
class World:
    raw: DataBundle  # raw rows with N_DELETABLE deletable ones
    x: int  # a sample whose class has others
    lone: int  # the only deletable sample of the top class


@functools.cache
def world(loader: str) -> World:
    info = LOADERS[loader]
    raw = info.raw(seed=0, **info.tiny)
    ids, ys = raw.train.id_list(), raw.train.y.tolist()
    if raw.train.is_regression:  # the largest target plays the lone class; x is an ordinary row
        order = sorted(ids[:N_DELETABLE], key=lambda i: ys[ids.index(i)])
        lone, x = order[-1], order[len(order) // 2]
        return World(DataBundle(raw.train.subset(sorted(order)), raw.test, raw.public, raw.name), x, lone)
    top = raw.train.num_classes - 1
    lone = next(i for i, y in zip(ids, ys, strict=True) if y == top)
    others = [i for i, y in zip(ids, ys, strict=True) if y != top][: N_DELETABLE - 1]
    train = raw.train.subset(sorted([*others, lone]))
    x = others[len(others) // 2]
    assert train.y.tolist().count(top) == 1 and train.y.tolist().count(int(train.y[train.positions([x])[0]])) > 1
    return World(DataBundle(train, raw.test, raw.public, raw.name), x, lone)


def counterfactual_raw(loader: str, scenario: str) -> tuple[DataBundle, int]:
    w = world(loader)
    train = w.raw.train
    if scenario == "changed":
        k = int(train.positions([w.x])[0])
        y = float(train.y[k]) + 1.0 if train.is_regression else (int(train.y[k]) + 1) % (train.num_classes - 1)
        changed = train.with_replaced(w.x, x=train.x[k] * -3 + 5, y=y)
        return DataBundle(changed, w.raw.test, w.raw.public, w.raw.name), w.x
    target = w.x if scenario == "removed" else w.lone
    return DataBundle(train.without([target]), w.raw.test, w.raw.public, w.raw.name), target


@functools.cache
def prepared(loader: str, scenario: str | None) -> tuple[DataBundle, int | None]:
    """The loader's ``prepare`` applied to D (scenario None) or to a counterfactual D′."""
    if scenario is None:
        return LOADERS[loader].prepare(world(loader).raw), None
    raw, x = counterfactual_raw(loader, scenario)
    return LOADERS[loader].prepare(raw), x


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Directory of the model of D for a combo, trained once and copied per scenario."""
    cache: dict[str, Path] = {}

    def get(combo: Combo) -> Path:
        if combo.id not in cache:
            base = tmp_path_factory.mktemp(combo.id)
            bundle, _ = prepared(combo.loader, None)
            model = combo.strategy.make(combo.backbone.kwargs(base))
            model.fit(bundle.train, bundle.public, directory=base / "model")
            model.close()
            cache[combo.id] = base / "model"
        return cache[combo.id]

    return get


def assert_same_features(a: IdDataset | None, b: IdDataset | None, skip: int | None = None) -> None:
    """Every sample both splits hold (except the counterfactual one) has bitwise the same prepared features."""
    if a is None or b is None:
        assert a is b
        return
    common = sorted((set(a.id_list()) & set(b.id_list())) - {skip})
    assert common
    assert torch.equal(a.subset(common).x, b.subset(common).x), "a deletable row moved other rows' features"
    assert a.num_classes == b.num_classes, "the label set depends on deletable rows"


def keys_for(model, members) -> list[tuple[str, ...]]:
    """``model``'s checkpoint keys along the (shard, prefix) of each served member of another model."""
    by_prefix = {(sh, prefix): key for key, (sh, prefix) in model._nodes_.items()}
    return [
        tuple(
            by_prefix[(m.shard, m.prefix[:d])]
            for d in range(1, len(m.prefix) + 1)
            if (m.shard, m.prefix[:d]) in by_prefix
        )
        for m in members
    ]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("combo", COMBOS, ids=[c.id for c in COMBOS])
def test_forget_equals_counterfactual(combo: Combo, scenario: str, fitted, tmp_path):
    d_bundle, _ = prepared(combo.loader, None)
    c_bundle, x = prepared(combo.loader, scenario)
    for part in ("public", "test"):
        assert_same_features(getattr(d_bundle, part), getattr(c_bundle, part))
    assert_same_features(d_bundle.train, c_bundle.train, skip=x)

    shutil.copytree(fitted(combo), tmp_path / "a")
    a = load_strategy(tmp_path / "a")
    b = combo.strategy.make(combo.backbone.kwargs(tmp_path)).fit(
        c_bundle.train, c_bundle.public, directory=tmp_path / "b"
    )
    try:
        a.forget([x])
        if scenario == "changed":
            b.forget([x])
            assert a.served() == b.served(), "both forgot x: they must serve the same prefixes"
        assert a.public_fit_ == b.public_fit_, "label set / scaling depend on deletable rows"
        members = a._snapshot.members
        keys_b = keys_for(b, members)
        assert keys_for(a, members) == keys_b, "D after forget serves a checkpoint D′ did not train (keys differ)"
        modules_b = [b._module(k) for k in keys_b]
        for m, mod in zip(members, modules_b, strict=True):
            sa, sb = a._module(m.keys).state_dict(), mod.state_dict()
            assert sa.keys() == sb.keys()
            for name in sa:
                assert sa[name].shape == sb[name].shape, f"shard {m.shard} {name}: shape differs (label set leak?)"
                assert torch.equal(sa[name], sb[name]), f"shard {m.shard} {name} differs"
        if members:
            xt = d_bundle.test.x if d_bundle.test is not None else d_bundle.public.x
            tb = b.transform_(xt)
            outs = [predict_logits(mod, tb) for mod in modules_b]
            if a.is_regression_:
                pa, pb = a.predict(xt), aggregate_values(outs).numpy()
            else:
                pa, pb = a.predict_proba(xt), aggregate(outs, a.aggregation_).numpy()
            assert (pa == pb).all(), "predictions differ"
    finally:
        a.close()
        b.close()
