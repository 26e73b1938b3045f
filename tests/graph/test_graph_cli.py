"""``unlearnkit graph train|unlearn|eval|methods`` end to end on a tiny SBM: receipts, errors, eval table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from unlearnkit.cli import _load_commands, app
from unlearnkit.graph.io import load_graph_model

_load_commands()
runner = CliRunner()
GRAPH = ["--graph", "sbm", "--graph-arg", "blocks=3", "--graph-arg", "block_size=20", "--graph-arg", "p_in=0.3"]


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("graph-cli") / "orig"
    r = run("graph", "train", "--out", d, *GRAPH, "--set", "epochs=40", "--set", "hidden=16", "--set", "out=8")
    assert r.exit_code == 0, r.output
    assert "dt_auroc" in r.output
    return d


def test_unlearn_receipt_and_eval(trained: Path) -> None:
    out, ref = trained.parent / "d2", trained.parent / "rt"
    r = run("graph", "unlearn", trained, "-m", "d2dgn", "--out", out, "--amount", "5", "--set", "epochs=5", "--json")
    assert r.exit_code == 0, r.output
    receipt = json.loads(r.output)
    assert receipt["guarantee"] == "approximate:d2dgn" and receipt["steps"] == 5
    assert len(receipt["removed_edge_hmacs"]) == receipt["deletion"]["removed_edges"] == 5
    assert all(len(h) == 64 for h in receipt["removed_edge_hmacs"])
    assert set(receipt["verification"]["df_auroc"]) == {"before", "after"}
    model, meta, _ = load_graph_model(out)
    removed = set(meta["deletion"]["removed_edge_ids"])
    assert len(removed) == 5 and model.mp_edge_index.shape[1] > 0
    r = run("graph", "unlearn", trained, "-m", "graph_retrain", "--out", ref, "--amount", "5", "--set", "epochs=40")
    assert r.exit_code == 0 and "EXACT" in r.output
    r = run("graph", "eval", out, "--original", trained, "--retrain", ref, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert rows["method"] == "d2dgn" and {"unlearned", "original", "retrain"} <= set(rows)
    assert rows["retrain"]["df_auroc_gap"] == 0.0 and rows["original"]["mi_ratio"] == pytest.approx(1.0)


def test_owner_deletion_receipt_hashes_the_owner(trained: Path) -> None:
    out = trained.parent / "owner"
    r = run(
        "graph", "unlearn", trained, "-m", "graph_ga", "--out", out, "--delete", "owner", "--owner", "user3", "--json"
    )
    assert r.exit_code == 0, r.output
    receipt = json.loads(r.output)
    assert "user3" not in r.output and len(receipt["owner_hmac"]) == 64
    assert receipt["deletion"]["removed_nodes"] == 1
    meta = json.loads((out / "model.json").read_text())
    assert "user3" not in json.dumps(meta) and meta["deletion"]["removed_node_ids"] == [3]
    model, _, _ = load_graph_model(out)
    assert not model.feature_mask[3] and not (model.mp_edge_index == 3).any()
    assert torch.equal(model.feature_mask.sum(), torch.tensor(59))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "ga"], "unknown graph method 'ga'"),
        (["-m", "d2dgn", "--delete", "owner", "--owner", "nobody"], "unknown owner"),
        (["-m", "d2dgn", "--set", "alpha=2"], "alpha must lie in [0, 1]"),
        (["-m", "d2dgn", "--delete", "planet"], "unknown deletion kind"),
    ],
)
def test_errors_are_one_line(trained: Path, args: list[str], message: str) -> None:
    r = runner.invoke(app, ["graph", "unlearn", str(trained), "--out", str(trained.parent / "x"), *args])
    assert r.exit_code != 0
    assert message in r.output and "Traceback" not in r.output
    assert not (trained.parent / "x").exists(), "a failed command left a model directory"


def test_existing_out_and_methods(trained: Path) -> None:
    r = runner.invoke(app, ["graph", "unlearn", str(trained), "-m", "d2dgn", "--out", str(trained)])
    assert r.exit_code != 0 and "already exists" in r.output
    r = run("graph", "methods")
    assert {"d2dgn", "gnndelete", "graph_ga", "graph_retrain"} <= set(r.output.split())
    r = runner.invoke(app, ["graph", "eval", str(trained)])
    assert r.exit_code != 0 and "no deletion recorded" in r.output
