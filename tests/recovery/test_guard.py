"""The guard keeps a recovery only if forgetting holds; otherwise the input model comes back untouched."""

from __future__ import annotations

import torch

from unlearnkit.recovery import GuardConfig, RecoveryTrainConfig, SelectConfig, decide, recover

TRAIN = RecoveryTrainConfig(epochs=15, lr=1e-3, batch_size=16)


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_decide() -> None:
    ok = decide({"accuracy": 0.0, "loss": 9.0}, {"accuracy": 0.04, "loss": 8.0}, GuardConfig(epsilon=0.05))
    assert ok.accepted and not ok.reasons
    bad = decide({"accuracy": 0.0, "loss": 9.0}, {"accuracy": 0.5, "loss": 1.0}, GuardConfig(max_loss_drop=0.5))
    assert not bad.accepted and len(bad.reasons) == 2
    worse = decide(
        {"accuracy": 0, "loss": 1}, {"accuracy": 0, "loss": 1}, GuardConfig(require_utility_gain=True), 0.8, 0.7
    )
    assert not worse.accepted


def test_guard_rolls_back_a_recovery_that_reteaches_forget_data(digits) -> None:
    before = _state(digits.damaged)
    res = recover(
        digits.subject, digits.damaged, digits.reference, digits.candidates, 40,
        forget=digits.forget, select_config=SelectConfig(filters=()), train_config=TRAIN,
    )  # fmt: skip
    assert not res.accepted and res.model is digits.damaged
    assert res.guard is not None and res.guard.after["accuracy"] > res.guard.before["accuracy"] + 0.05
    after = digits.damaged.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # rolled back: nothing changed


def test_filtered_recovery_is_accepted_and_recovers_utility(digits) -> None:
    res = recover(
        digits.subject, digits.damaged, digits.reference, digits.candidates, 40,
        forget=digits.forget, train_config=TRAIN, utility_data=digits.utility_data,
    )  # fmt: skip
    assert res.accepted and res.model is not digits.damaged
    assert res.guard.after["utility"] > res.guard.before["utility"]
    assert res.record["sparsity"]["after"] >= res.record["sparsity"]["before"] - 1e-9  # masks kept
