"""Label set, input scaling and every other registered public fit never depend on deletable rows.

Each registered loader's D is fitted next to a D″ whose deletable rows are wildly different (features
rescaled, labels shuffled, the top class gone, a third of the rows removed) with the same public split: the
recorded ``public_fit`` state and the frozen backbone file must be identical. A fit added later with
``register_public_fit`` (a tokenizer, a vocabulary) is checked here with no other edit.
"""

from __future__ import annotations

import pytest
import torch

from tests.exactness.cases import N_DELETABLE, SIZES
from unlearnkit.data import LOADERS, DataBundle, IdDataset
from unlearnkit.data.public_fit import PUBLIC_FITS, fit_public
from unlearnkit.errors import ConfigError
from unlearnkit.exact import Retrain


def _wild(train: IdDataset) -> IdDataset:
    top = train.num_classes - 1
    keep = [i for k, i in enumerate(train.id_list()) if k % 3 and int(train.y[k]) != top]
    sub = train.subset(keep)
    g = torch.Generator().manual_seed(1)
    y = sub.y[torch.randperm(len(sub), generator=g)]
    return sub.with_labels(y).with_replaced(sub.id_list()[0], x=sub.x[0] * 100 - 7)


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_public_fits_ignore_deletable_rows(loader, tmp_path):
    info = LOADERS[loader]
    raw = info.raw(seed=0, **info.tiny)
    raw = DataBundle(raw.train.take(list(range(N_DELETABLE))), None, raw.public, raw.name)
    d = info.prepare(raw)
    w = info.prepare(DataBundle(_wild(raw.train), None, raw.public, raw.name))
    assert w.num_classes == d.num_classes, f"{loader}: the loader's label set moved with deletable rows"
    kw = {**SIZES, "shards": 1, "slices": 1, "salt": "s"}
    a = Retrain(**kw).fit(d.train, d.public, directory=tmp_path / "a")
    b = Retrain(**kw).fit(w.train, w.public, directory=tmp_path / "b")
    assert set(a.public_fit_) == set(PUBLIC_FITS)
    assert a.public_fit_ == b.public_fit_
    assert (tmp_path / "a/backbone.safetensors").read_bytes() == (tmp_path / "b/backbone.safetensors").read_bytes()
    x = d.train.x[:5]
    assert torch.equal(a.transform_(x), b.transform_(x))


def test_registered_fits_see_only_public_and_declarations(digits_bundle):
    """The registry's signature: fits receive (public, options), never the deletable split."""
    pub = digits_bundle.public
    state = fit_public(pub, {"preprocess": "standardize"})
    assert state["label_set"] == {"num_classes": 10, "source": "public", "names": None}
    assert state["scaling"]["kind"] == "standardize" and len(state["scaling"]["mean"]) == pub.num_features
    declared = fit_public(None, {"num_classes": 12, "preprocess": "standardize"})
    assert declared["label_set"]["source"] == "declared" and declared["label_set"]["num_classes"] == 12
    assert declared["scaling"]["kind"] == "identity" and "would leak" in declared["scaling"]["why"]
    named = fit_public(None, {"label_names": ["cat", "dog"]})
    assert named["label_set"] == {"num_classes": 2, "source": "declared", "names": ["cat", "dog"]}
    with pytest.raises(ConfigError, match="declare it"):
        fit_public(None, {})


def test_exact_fit_refuses_a_label_set_counted_from_deletable_rows(small_train, tmp_path):
    inferred = IdDataset.create(small_train.x, small_train.y, small_train.ids)
    assert inferred.label_source == "inferred"
    kw = {**SIZES, "shards": 1, "slices": 1, "salt": "s"}
    with pytest.raises(ConfigError, match="max\\(label\\)\\+1"):
        Retrain(**kw).fit(inferred)
    m = Retrain(num_classes=12, **kw).fit(inferred, directory=tmp_path / "m")
    assert m.public_fit_["label_set"]["source"] == "declared" and m.spec_.num_classes == 12
    with pytest.raises(ConfigError, match="outside the label set"):
        Retrain(num_classes=3, **kw).fit(inferred)


def test_scaling_is_applied_on_predict_and_travels_with_exports(small_train, public, tmp_path):
    kw = {**SIZES, "shards": 1, "slices": 1, "salt": "s"}
    m = Retrain(**kw).fit(small_train.take(list(range(40))), public, directory=tmp_path / "m")
    assert m.public_fit_["scaling"]["kind"] == "standardize"
    x = small_train.x[40:50]
    assert not torch.equal(m.transform_(x), x)
    (member,) = m._snapshot.members
    direct = torch.softmax(m._module(member.keys)(m.transform_(x)), dim=1).numpy()
    assert (m.predict_proba(x) == direct).all()  # raw features in, public-split scaling applied inside
    _, exported = m.served_ensemble()
    assert torch.allclose(exported(x), torch.as_tensor(m.predict_proba(x)), atol=1e-6)
