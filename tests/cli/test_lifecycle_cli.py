"""The model lifecycle from the command line: train DIR (salt, classes), status, forget warnings, retrain,
one conventions set (DIR, --json, exit codes, -h, --version, missing extras)."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from typer.testing import CliRunner

from unlearnkit.cli import _load_commands, app
from unlearnkit.data import load_digits, write_csv
from unlearnkit.exact import load_strategy

_load_commands()
runner = CliRunner()
TINY = ["--shards", "2", "--slices", "2", "--budget", "2", "--epochs", "1", "--no-progress"]


def run(*args, code: int = 0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, r.output
    return r


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    b = load_digits()
    write_csv(b.train.take(list(range(160))), d / "train.csv")
    write_csv(b.public, d / "public.csv")
    write_csv(b.test.take(list(range(20))), d / "test.csv", with_label=False)
    (d / "salt.txt").write_text("lifecycle-salt\n")
    return d


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
    d = tmp_path_factory.mktemp("life") / "m"
    r = run(
        "train",
        d,
        "--data",
        files / "train.csv",
        "--public",
        files / "public.csv",
        "--salt-file",
        files / "salt.txt",
        *TINY,
        "--json",
    )
    info = json.loads(r.stdout)
    assert info["label_set"] == {"num_classes": 10, "source": "public", "names": None}
    assert info["scaling"]["kind"] == "standardize" and info["sharding"] == "owner" and info["salt"] == "given"
    return d


def test_same_seed_and_salt_reproduce_the_model_bitwise(trained, files, tmp_path):
    run(
        "train",
        "--out",
        tmp_path / "again",
        "--data",
        files / "train.csv",
        "--public",
        files / "public.csv",
        "--salt",
        "lifecycle-salt",
        *TINY,
    )
    a, b = load_strategy(trained), load_strategy(tmp_path / "again")
    sa, sb = a.served_state(), b.served_state()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[s][n], sb[s][n]) for s in sa for n in sa[s])
    assert a.config_["salt"] == b.config_["salt"] == "lifecycle-salt"
    a.close(), b.close()
    r = run("train", tmp_path / "x", "--out", tmp_path / "y", code=1)
    assert "give the model directory once" in r.output
    r = run("train", tmp_path / "z", "--salt", "a", "--salt-file", files / "salt.txt", code=1)
    assert "at most one" in r.output and not (tmp_path / "z").exists()


def test_status_forget_warning_retrain(trained, tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(trained, d)
    st = json.loads(run("status", d, "--json").stdout)
    assert st["pending_retrain"] == [] and all(r["alive_depth"] == 2 for r in st["sequences"])
    assert st["capacity"]["bounded"] and st["capacity"]["fraction_left"] == 1.0
    assert st["deletions"]["samples_deleted"] == 0 and st["label_set"]["num_classes"] == 10
    model = load_strategy(d)
    cells = {}
    for i, cell in sorted(model.assignment_.items()):
        cells.setdefault(cell, i)
    model.close()
    warned = False
    for i in [cells[c] for c in sorted(cells)]:
        r = run("forget", d, "--ids", i)
        warned |= "warning: " in r.output
    assert warned, "forget must warn once the capacity is nearly gone"
    st = json.loads(run("status", d, "--json").stdout)
    assert st["pending_retrain"] == [0, 1] and st["deletions"]["samples_deleted"] == 4
    assert st["capacity"]["expected_requests"] == 0
    text = run("status", d).output
    assert "alive depth 0/2" in text and "warning:" in text
    info = json.loads(run("retrain", d, "--json").stdout)
    assert info["shards"] == [0, 1] and info["model_version"] > info["model_version_before"]
    st = json.loads(run("status", d, "--json").stdout)
    assert st["pending_retrain"] == [] and st["capacity"]["fraction_left"] > 0.5
    assert "nothing to retrain" in run("retrain", d).output
    r = run("retrain", d, "--shards", "7", code=1)
    assert r.output.strip().startswith("error:") and "no shard 7" in r.output
    assert json.loads(run("audit", d, "--json").stdout)["ok"]


def test_owner_reforget_and_json_everywhere(trained, files, tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(trained, d)
    owner = load_digits().train.owners[3]
    receipt = json.loads(run("forget", d, "--owner", owner, "--json").stdout)["receipt"]
    assert receipt["erased"]["id_hashes"]
    assert f"owner '{owner}' was already forgotten" in run("forget", d, "--owner", owner).output
    out = tmp_path / "p.csv"
    info = json.loads(run("predict", d, "--data", files / "test.csv", "--out", out, "--json").stdout)
    assert info["predictions"] == 20 and out.is_file()


def test_conventions_exit_codes_help_version(trained, monkeypatch):
    assert run("--version").output.startswith("unlearnkit ")
    for cmd in ("train", "forget", "retrain", "status", "predict", "audit"):
        assert "Usage" in run(cmd, "-h").output
    r = run("forget", trained, "--ids", "123456789", code=1)
    assert r.output.count("\n") == 1 and "unknown sample id" in r.output
    r = run("forget", trained, "--ids", str(2**64), code=1)
    assert "64-bit" in r.output
    run("status", trained, "--no-such-option", code=2)
    r = run("status", trained.parent / "missing", code=1)
    assert "no such model directory" in r.output
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    r = run("serve", trained, code=1)
    assert r.output.count("\n") == 1 and "unlearnkit[service]" in r.output


def test_a_file_without_public_split_needs_declared_classes(files, tmp_path):
    r = run("train", tmp_path / "m", "--data", files / "train.csv", *TINY, code=1)
    assert "declare it" in r.output and "--classes" in r.output and not (tmp_path / "m").exists()
    r = run("train", tmp_path / "m", "--data", files / "train.csv", "--classes", "3", *TINY, code=1)
    assert "outside the label set" in r.output
