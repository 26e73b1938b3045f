"""``unlearnkit unlearn`` / ``eval`` / ``methods``: a standard model round trip and clear one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unlearnkit.cli import _load_commands, app
from unlearnkit.context import RunContext
from unlearnkit.data import load_digits
from unlearnkit.models import ModelSpec
from unlearnkit.models.io import save_model
from unlearnkit.models.standard import fit_standard

_load_commands()
runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "orig"
    bundle = load_digits(0)
    spec = ModelSpec(in_features=64, num_classes=10, width=32, depth=2)
    model, hyper = fit_standard(bundle, spec, epochs=15, ctx=RunContext(seed=0))
    meta = {"data": {"spec": "digits", "seed": 0, "public": None, "public_fraction": None}, "train": hyper}
    save_model(out, model, spec, meta=meta)
    return out


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_unlearn_then_eval(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ft"
    receipt = json.loads(
        _ok(
            ["unlearn", model_dir, "--method", "ft", "--forget-class", "3", "--set", "epochs=1", "--out", out, "--json"]
        )
    )
    assert receipt["guarantee"] == "approximate:ft" and receipt["forgotten"] > 0
    assert {"ua", "ra", "ta", "loss_mia_auc"} <= set(receipt["verification"])
    meta = json.loads((out / "model.json").read_text())
    assert meta["method"] == "ft" and meta["config"]["epochs"] == 1 and meta["source"] == str(model_dir)
    assert meta["forget"] == {"kind": "class", "value": 3, "seed": 0}
    rt = tmp_path / "rt"
    rt_receipt = json.loads(
        _ok(
            [
                "unlearn",
                model_dir,
                "--method",
                "retrain",
                "--forget-class",
                "3",
                "--set",
                "epochs=3",
                "--out",
                rt,
                "--json",
            ]
        )
    )
    assert rt_receipt["guarantee"] == "exact-retrain"
    table = json.loads(_ok(["eval", out, "--original", model_dir, "--retrain", rt, "--json"]))
    assert {"unlearned", "original", "retrain"} <= set(table)
    assert table["retrain"]["avg_gap"] == 0.0 and "avg_gap" in table["unlearned"]
    assert table["unlearned"]["rte"] == pytest.approx(meta["unlearn"]["seconds"])
    ids = ",".join(str(i) for i in load_digits(0).train.id_list()[:3])
    text = _ok(["unlearn", model_dir, "--method", "ga", "--forget-ids", ids, "--out", tmp_path / "ga"])
    assert "APPROXIMATE" in text and "forgotten samples: 3" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "ft", "--forget-class", "3", "--set", "bogus=1"], "valid keys are"),
        (["--method", "ft", "--forget-class", "3", "--forget-fraction", "0.1"], "exactly one of"),
        (["--method", "nope", "--forget-class", "3"], "unknown method"),
        (["--method", "ft", "--forget-ids", "999999"], "unknown sample id"),
        (["--method", "ft", "--forget-class", "3", "--set", "lr=-1"], "lr must be"),
    ],
)
def test_unlearn_errors_are_one_line(model_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["unlearn", str(model_dir), *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "error:" in result.output and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_eval_rejects_mismatched_retrain(model_dir: Path, tmp_path: Path) -> None:
    _ok(["unlearn", model_dir, "--method", "ga", "--forget-class", "3", "--out", tmp_path / "a", "--json"])
    _ok(
        [
            "unlearn",
            model_dir,
            "--method",
            "retrain",
            "--forget-class",
            "4",
            "--set",
            "epochs=1",
            "--out",
            tmp_path / "b",
            "--json",
        ]
    )
    result = runner.invoke(app, ["eval", str(tmp_path / "a"), "--retrain", str(tmp_path / "b")])
    assert result.exit_code == 1 and "forget set differs" in result.output


def test_methods_lists_registry() -> None:
    rows = json.loads(_ok(["methods", "--json"]))
    by_name = {r["name"]: r for r in rows}
    assert {"retrain", "ft", "ga", "neggrad_plus", "random_label"} <= set(by_name)
    assert by_name["ft"]["defaults"]["lr"] == 0.01 and "arXiv" in by_name["ft"]["paper"]


def test_unlearn_calibrate_reports_the_chosen_strength(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ssd-cal"
    text = _ok(["unlearn", model_dir, "--method", "ssd", "--forget-class", "3", "--out", out, "--calibrate", "--json"])
    receipt = json.loads(text[text.index("{") :])
    cal = receipt["calibration"]
    assert set(cal["chosen"]) == {"selection_weighting", "dampening_constant"}
    assert isinstance(cal["reached"], bool) and "chance" in cal["target"] and cal["validation_rows"] >= 10
    assert ("reaches the target" in cal["message"]) == cal["reached"]
    saved = json.loads((out / "model.json").read_text())
    assert saved["config"]["selection_weighting"] == cal["chosen"]["selection_weighting"]
    assert saved["unlearn"]["metadata"]["calibration"]["chosen"] == cal["chosen"]


def test_calibrate_refuses_a_method_without_a_strength_knob(model_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "unlearn",
            str(model_dir),
            "-m",
            "retrain",
            "--forget-class",
            "3",
            "--out",
            str(tmp_path / "r"),
            "--calibrate",
        ],
    )
    assert result.exit_code != 0 and "no strength knob" in result.output
    assert not (tmp_path / "r").exists()
