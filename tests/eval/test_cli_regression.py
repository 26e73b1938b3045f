"""``unlearnkit train/unlearn/eval`` on a regression set: range forgetting, regression metrics, calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from unlearnkit.approx.gaussian_ft import GaussianFT
from unlearnkit.cli import _load_commands, app
from unlearnkit.cli.approx import _forget_spec
from unlearnkit.models.io import load_model
from unlearnkit.models.regression import RegressorSpec

_load_commands()
runner = CliRunner()
RANGE = "2.5:"  # diabetes targets / 100: the top of the range, as the paper forgets a target range


def _run(args: list[str], code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("reg")
    d = {k: base / k for k in ("orig", "blindspot", "retrain")}
    _run(["train", d["orig"], "--strategy", "standard", "--data", "diabetes", "--epochs", "5", "--json"])
    _run(["unlearn", d["orig"], "-m", "blindspot", "--forget-range", RANGE, "--out", d["blindspot"], "--json"])
    _run(["unlearn", d["orig"], "-m", "retrain_regression", "--forget-range", RANGE, "--out", d["retrain"], "--json"])
    return d


def test_regression_unlearn_and_eval_round_trip(dirs: dict[str, Path]) -> None:
    _, spec, meta = load_model(dirs["blindspot"])
    assert isinstance(spec, RegressorSpec) and meta["task"] == "regression" and meta["forget"]["kind"] == "range"
    assert meta["guarantee"] == "approximate:blindspot"
    assert set(meta["verification"]) >= {"retain_mae", "forget_mae", "test_mae", "reg_loss_mia_auc"}
    assert load_model(dirs["retrain"])[2]["guarantee"] == "exact-retrain"
    out = json.loads(
        _run(["eval", dirs["blindspot"], "--original", dirs["orig"], "--retrain", dirs["retrain"], "--json"])
    )
    assert out["scenario"] == "range" and set(out) >= {"unlearned", "original", "retrain"}
    assert out["retrain"]["forget_mae_gap"] == 0.0 and out["retrain"]["reg_avg_gap"] == 0.0
    # the range is extrapolated by Retrain: its forget error is above the original's (the paper's premise)
    assert out["retrain"]["forget_mae"] > out["original"]["forget_mae"]
    assert out["unlearned"]["reg_rte"] == meta["unlearn"]["seconds"]


def test_regression_calibrate_states_the_chosen_strength(dirs: dict[str, Path], tmp_path: Path) -> None:
    out = json.loads(
        _run(["unlearn", dirs["orig"], "-m", "gaussian_ft", "--forget-range", RANGE, "--calibrate",
              "--out", tmp_path / "gc", "--json"])
    )  # fmt: skip
    cal = out["calibration"]
    assert set(cal["chosen"]) == set(GaussianFT.strength)
    assert all(cal["chosen"][k] in v for k, v in GaussianFT.strength.items())
    assert isinstance(cal["reached"], bool) and "loss-MIA AUC" in cal["target"] and cal["validation_rows"] >= 10
    assert load_model(tmp_path / "gc")[2]["config"]["epochs"] == cal["chosen"]["epochs"]


def test_regression_cli_errors_are_one_line(dirs: dict[str, Path], tmp_path: Path) -> None:
    cases = [
        (["-m", "ssd", "--forget-range", RANGE], "is for classification"),
        (["-m", "blindspot", "--forget-class", "2"], "--forget-range LO:HI"),
        (["-m", "blindspot", "--forget-range", "2.5"], "expects LO:HI"),
        (["-m", "retrain_regression", "--forget-range", RANGE, "--calibrate"], "no strength knob"),
    ]
    for args, message in cases:
        output = _run(["unlearn", dirs["orig"], *args, "--out", tmp_path / "x"], code=1)
        assert message in output and output.count("\n") == 1, output
        assert not (tmp_path / "x").exists()
    with pytest.raises(typer.Exit):
        _forget_spec(None, None, None, None, 0, "1:2", regression=False)  # a range on a classifier
    _run(["train", tmp_path / "y", "--strategy", "standard", "--data", "diabetes", "--classes", "3"], code=1)


def test_regression_predict_writes_values(dirs: dict[str, Path], tmp_path: Path) -> None:
    from unlearnkit.data import write_csv
    from unlearnkit.data.regression import load_regression
    from unlearnkit.models.regression import predict

    test = load_regression("diabetes", 0).test.take(list(range(5)))
    write_csv(test, tmp_path / "rows.csv", with_label=False)
    _run(["predict", dirs["orig"], "--data", tmp_path / "rows.csv", "--out", tmp_path / "p.csv"])
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "id,prediction" and len(lines) == 6
    expected = predict(load_model(dirs["orig"])[0], test.x)
    assert [float(line.split(",")[1]) for line in lines[1:]] == pytest.approx(expected.tolist(), abs=1e-5)
