"""Each leak of the review, with the counterexample that found it: node keys, content hashes, placement."""

from __future__ import annotations

import hashlib
import hmac

import torch

from tests.exactness.cases import SIZES
from unlearnkit.exact import SISA
from unlearnkit.exact.base import assign_cells, owner_shard_slice_of, shard_slice_of


def test_sisa_shards_with_empty_first_slices_do_not_share_a_checkpoint(small_train, public, tmp_path):
    """Node keys are (shard, prefix, seen set): two empty first slices used to be one checkpoint."""
    salt = "empty-first"
    keep = [i for i in small_train.id_list() if shard_slice_of(i, salt, 2, 2)[1] != 0][:60]
    data = small_train.subset(keep)
    kw = {**SIZES, "salt": salt, "sharding": "id"}
    a = SISA(mode="retrain", **kw).fit(data, public, directory=tmp_path / "a")
    firsts = {sh: key for key, (sh, prefix) in a._nodes_.items() if prefix == (0,)}
    assert set(firsts) == {0, 1} and firsts[0] != firsts[1]
    victim = keep[3]
    a.forget([victim])
    b = SISA(mode="retrain", **kw).fit(data.without([victim]), public, directory=tmp_path / "b")
    sa, sb = a.served_state(), b.served_state()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[s][n], sb[s][n]) for s in sa for n in sa[s])


def test_content_hashes_are_keyed_by_the_models_pepper(small_train, public, tmp_path):
    m = SISA(mode="rollback", **{**SIZES, "salt": "s"}).fit(small_train.take(list(range(40))), public)
    i = small_train.id_list()[0]
    stored = m.store.sample_rows([i])[i]["content_hash"]
    row = small_train.x[0].numpy().tobytes() + small_train.y[0].numpy().tobytes()
    assert stored != hashlib.sha256(row).hexdigest(), "a plain hash lets a receipt holder confirm a guessed record"
    pepper = (m.directory / "secret.key").read_bytes()
    assert stored == hmac.new(pepper, b"content:" + row, hashlib.sha256).hexdigest()
    receipt = m.forget([i])
    assert receipt.content_hashes == [stored]


def test_owner_aware_sharding_keeps_a_data_subject_in_one_slice(digits_bundle, public):
    train = digits_bundle.train
    multi = [o for o in dict.fromkeys(train.owners) if len(train.ids_of_owner(o)) > 1][:25]
    data = train.subset(sorted(i for o in multi for i in train.ids_of_owner(o)))
    kw = {**SIZES, "shards": 3, "slices": 2, "salt": "owners"}
    model = SISA(mode="rollback", **kw).fit(data, public)
    assert model.config_["sharding"] == "owner"
    for owner in multi:
        cells = {model.assignment_[i] for i in data.ids_of_owner(owner)}
        assert cells == {owner_shard_slice_of(owner, "owners", 3, 2)}
    by_id = assign_cells(data, "owners", 3, 2, "id")
    assert max(len({by_id[i] for i in data.ids_of_owner(o)}) for o in multi) > 1, "id-hash scatters an owner"
