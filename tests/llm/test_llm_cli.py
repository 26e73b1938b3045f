"""``unlearnkit llm world|train|unlearn|eval`` end to end on a few training steps; errors are one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from unlearnkit.cli import _load_commands, app

runner = CliRunner()


def _run(*args: str) -> object:
    _load_commands()
    return runner.invoke(app, ["llm", *args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("llm-cli")
    assert (
        _run(
            "world",
            "--out",
            str(root / "world"),
            "--fold-size",
            "4",
            "--retain1",
            "8",
            "--retain2",
            "4",
            "--holdout",
            "4",
        ).exit_code
        == 0
    )
    for name, extra in (("target", []), ("retrain", ["--exclude-folds", "0"])):
        r = _run("train", "--world", str(root / "world"), "--out", str(root / name), "--steps", "30", *extra)
        assert r.exit_code == 0, r.output
    return root


def test_unlearn_receipt_and_eval(trained) -> None:
    r = _run(
        "unlearn",
        str(trained / "target"),
        "--method",
        "npo",
        "--out",
        str(trained / "npo"),
        "--set",
        "max_steps=3",
        "--json",
    )
    assert r.exit_code == 0, r.output
    receipt = json.loads(r.stdout)
    assert receipt["guarantee"] == "approximate:llm_npo" and receipt["steps"] == 3
    assert {"knowmem_f", "knowmem_r", "verbmem_f", "mia_min_k"} == set(receipt["verification"])
    meta = json.loads((trained / "npo" / "unlearnkit.json").read_text())
    assert meta["method"] == "llm_npo" and meta["data"]["folds"] == [0]
    r = _run(
        "eval",
        str(trained / "npo"),
        "--retrain",
        str(trained / "retrain"),
        "--original",
        str(trained / "target"),
        "--json",
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert {"privleak", "forget_quality", "utility_preserved", "knowmem_r"} <= set(rows["model"])
    assert rows["retrain"]["privleak"] == 0.0 and rows["retrain"]["forget_quality"] == 1.0


def test_whp_round_trips_through_a_model_directory(trained) -> None:
    r = _run(
        "unlearn",
        str(trained / "target"),
        "--method",
        "whp",
        "--out",
        str(trained / "whp"),
        "--set",
        "max_steps=2",
        "--json",
    )
    assert r.exit_code == 0, r.output
    r = _run("eval", str(trained / "whp"), "--json")
    assert r.exit_code == 0, r.output and "verbmem_f" in json.loads(r.stdout)["model"]


def test_user_corpus_from_files(trained, tmp_path) -> None:
    forget = tmp_path / "forget.txt"
    forget.write_text("anna berg was born in paris .\n\nanna berg works as a baker .\n")
    holdout = tmp_path / "holdout.jsonl"
    holdout.write_text('{"text": "ben dahl was born in oslo ."}\n{"text": "ben dahl works as a nurse ."}\n')
    r = _run(
        "unlearn",
        str(trained / "target"),
        "--method",
        "ga",
        "--out",
        str(tmp_path / "ga"),
        "--forget",
        str(forget),
        "--holdout",
        str(holdout),
        "--set",
        "max_steps=2",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.stdout)["verification"]) == {"verbmem_f", "mia_min_k"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["unlearn", "{t}", "--method", "nope", "--out", "{o}"], "unknown method"),
        (["unlearn", "{t}", "--method", "ga", "--out", "{o}", "--forget", "/no/such.txt"], "no such file"),
        (["unlearn", "/no/such/model", "--method", "ga", "--out", "{o}"], "no such model directory"),
        (["unlearn", "{t}", "--method", "ga", "--out", "{o}", "--set", "lr=-1"], "lr must be > 0"),
        (["train", "--out", "{o}"], "exactly one of"),
    ],
)
def test_errors_are_one_line(trained, tmp_path, args, message) -> None:
    r = _run(*(a.format(t=trained / "target", o=tmp_path / "out") for a in args))
    assert r.exit_code != 0
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()
