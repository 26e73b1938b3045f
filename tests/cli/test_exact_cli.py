"""The exact-unlearning CLI end to end: train, forget (ids, file, owner, errors), predict, audit."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from unlearnkit.cli import _load_commands, app
from unlearnkit.data import load_digits, write_csv

_load_commands()
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "s3t"
    r = run(
        "train",
        "--strategy",
        "s3t",
        "--data",
        "digits",
        "--out",
        d,
        "--shards",
        "2",
        "--slices",
        "2",
        "--budget",
        "2",
        "--epochs",
        "1",
        "--no-progress",
    )
    assert r.exit_code == 0, r.output
    assert "test accuracy" in r.output and "pretrained on 150 public" in r.output
    return d


def test_train_refuses_existing_dir_and_bad_strategy(model_dir):
    r = run("train", "--out", model_dir, "--no-progress")
    assert r.exit_code == 1 and "already exists" in r.output
    r = run("train", "--strategy", "nope", "--out", model_dir.parent / "x", "--no-progress")
    assert r.exit_code == 1 and "unknown strategy" in r.output
    assert not (model_dir.parent / "x").exists()


def test_forget_then_noop_then_audit(model_dir, tmp_path):
    ids = load_digits().train.id_list()[:3]
    r = run("forget", model_dir, "--ids", ",".join(map(str, ids)), "--json")
    assert r.exit_code == 0, r.output
    envelope = json.loads(r.stdout)
    receipt = envelope["receipt"]  # signed with the model's key, as the service signs
    assert receipt["guarantee"]["class"] == "exact-deactivate" and len(receipt["erased"]["id_hashes"]) == 3
    (tmp_path / "r.json").write_text(r.stdout)
    ok = run("verify-receipt", tmp_path / "r.json", "--key", model_dir / "signing" / "ed25519.pub.pem")
    assert ok.exit_code == 0 and "valid" in ok.output, ok.output
    listed = run("receipts", model_dir)
    assert listed.exit_code == 0 and receipt["request"]["id"] in listed.output
    r = run("forget", model_dir, "--ids", str(ids[0]))
    assert r.exit_code == 0 and f"id {ids[0]} was already forgotten" in r.output
    f = tmp_path / "ids.txt"
    f.write_text(f"{ids[1]}\n")
    assert run("forget", model_dir, "--ids-file", f).exit_code == 0
    r = run("audit", model_dir)
    assert r.exit_code == 0 and r.output.startswith("ok")


def test_forget_errors_are_one_line(model_dir):
    r = run("forget", model_dir, "--ids", "99999999")  # a library error: one line, exit 1, no traceback
    assert r.exit_code == 1 and "99999999" in r.output and "Traceback" not in r.output
    assert r.output.count("\n") == 1
    r = run("forget", model_dir, "--ids", "a,b")
    assert r.exit_code == 1 and "must be integers" in r.output
    r = run("forget", model_dir)
    assert r.exit_code == 1 and "exactly one" in r.output


def test_forget_opens_the_model_once(model_dir, monkeypatch):
    from unlearnkit.exact.base import ExactStrategy

    opened: list[str] = []
    real = ExactStrategy._open

    def counting(self, directory, *args, **kwargs):
        opened.append(str(directory))
        return real(self, directory, *args, **kwargs)

    monkeypatch.setattr(ExactStrategy, "_open", counting)
    victim = load_digits().train.id_list()[7]
    for extra in ((), ("--json",)):
        opened.clear()
        r = run("forget", model_dir, "--ids", str(victim), *extra)
        assert r.exit_code == 0, r.output
        assert opened == [str(model_dir)]  # the receipt, the capacity warning and the output reuse it


def test_forget_by_owner(model_dir):
    owner = load_digits().train.owners[50]
    r = run("forget", model_dir, "--owner", owner)
    assert r.exit_code == 0 and "forgot" in r.output


@pytest.fixture(scope="module")
def fresh_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "sisa"
    r = run(
        "train",
        "--strategy",
        "sisa",
        "--mode",
        "rollback",
        "--out",
        d,
        "--shards",
        "2",
        "--slices",
        "2",
        "--epochs",
        "1",
        "--no-progress",
    )
    assert r.exit_code == 0, r.output
    return d


def test_predict_writes_ids_predictions_and_probabilities(fresh_dir, tmp_path):
    inputs = tmp_path / "in.csv"
    write_csv(load_digits().test.take(list(range(5))), inputs, with_label=False)
    out = tmp_path / "preds.csv"
    r = run("predict", fresh_dir, "--data", inputs, "--out", out)
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and set(rows[0]) == {"id", "prediction", *[f"p_{c}" for c in range(10)]}
    assert abs(sum(float(rows[0][f"p_{c}"]) for c in range(10)) - 1) < 1e-4


def test_predict_on_a_dead_model_is_a_one_line_error(fresh_dir, tmp_path):
    from unlearnkit.exact import load_strategy

    copy = load_strategy(fresh_dir).save(tmp_path / "copy")
    everything = tmp_path / "all.txt"
    everything.write_text("\n".join(map(str, load_digits().train.id_list())))
    assert run("forget", copy, "--ids-file", everything).exit_code == 0
    inputs = tmp_path / "in.csv"
    write_csv(load_digits().test.take([0]), inputs, with_label=False)
    r = run("predict", copy, "--data", inputs, "--out", tmp_path / "p.csv")
    assert r.exit_code == 1 and "retrain required" in r.output and not (tmp_path / "p.csv").exists()


def test_audit_fails_on_tampering(model_dir, tmp_path):
    from unlearnkit.exact import load_strategy

    copy = load_strategy(model_dir).save(tmp_path / "copy")
    con = sqlite3.connect(copy / "lineage.db")
    con.execute("DELETE FROM audit_events WHERE seq = 2")
    con.commit()
    con.close()
    r = run("audit", copy)
    assert r.exit_code == 1
