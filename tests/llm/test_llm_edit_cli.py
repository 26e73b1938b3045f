"""``unlearnkit llm edit`` / ``llm attack`` round trip on the tiny world; errors are one line, nothing half-written."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from unlearnkit.cli import _load_commands, app
from unlearnkit.llm.hf import save_lm

runner = CliRunner()


def _run(*args: str) -> object:
    _load_commands()
    return runner.invoke(app, ["llm", *args])


@pytest.fixture(scope="module")
def dirs(tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("llm-edit-cli")
    (root / "world").mkdir()
    (root / "world" / "world.json").write_text(json.dumps(tiny.world.to_dict()))
    for name in ("target", "retrain"):
        save_lm(root / name, getattr(tiny, name), tiny.tokenizer, {"kind": "llm", "world_dir": str(root / "world")})
    return root


def test_edit_then_attack(dirs) -> None:
    out = dirs / "edited"
    r = _run(
        "edit", str(dirs / "target"), "--out", str(out), "--editor", "rome", "--objective", "fact_erasure",
        "--set", "layer=0", "--set", "steps=5", "--index", "0,1", "--retrain", str(dirs / "retrain"),
        "--max-new-tokens", "3", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    receipt = json.loads(r.stdout)
    assert receipt["guarantee"] == "approximate:llm_rome" and receipt["objective"] == "fact_erasure"
    assert receipt["facts"] == 2 and receipt["layer"] == 0
    assert set(receipt["attacks"]) == {"head_projection", "probability_delta", "input_rephrasing"}
    assert all("floor" in row and row["max_candidates"] <= row["budget"] for row in receipt["attacks"].values())
    meta = json.loads((out / "unlearnkit.json").read_text())
    assert meta["method"] == "llm_rome" and meta["edit_layer"] == 0 and len(meta["data"]["facts"]) == 2
    r = _run("attack", str(out), "--retrain", str(dirs / "retrain"), "--attacks", "union", "--k", "2", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert rows["facts"] == 2 and rows["edit_layer"] == 0 and "leak" in rows["attacks"]["union"]


def test_edit_from_a_facts_file(dirs, tmp_path) -> None:
    facts = tmp_path / "facts.jsonl"
    row = {"prompt": "anna berg was born in", "answer": "paris", "subject": "anna berg"}
    facts.write_text(json.dumps({**row, "edit_paraphrases": ["anna berg grew up in"]}) + "\n")
    r = _run(
        "edit", str(dirs / "target"), "--out", str(tmp_path / "e"), "--facts", str(facts), "--editor",
        "constrained_ft", "--objective", "input_rephrasing_defense", "--set", "layer=0", "--set", "steps=3",
        "--attacks", "head_projection", "--max-new-tokens", "3", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["editor"] == "llm_constrained_ft"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["edit", "{t}", "--out", "{o}", "--editor", "nope"], "unknown editor"),
        (["edit", "{t}", "--out", "{o}", "--objective", "nope"], "unknown deletion objective"),
        (["edit", "{t}", "--out", "{o}", "--set", "layer=9"], "layer 9 does not exist"),
        (["edit", "{t}", "--out", "{o}", "--index", "999"], "out of range"),
        (["edit", "{t}", "--out", "{o}", "--facts", "/no/such.jsonl"], "expected an existing .jsonl"),
        (["edit", "{t}", "--out", "{o}", "--attacks", "nope"], "unknown attack"),
        (["attack", "{t}"], "--edit-layer"),
    ],
)
def test_errors_are_one_line(dirs, tmp_path, args, message) -> None:
    r = _run(*(a.format(t=dirs / "target", o=tmp_path / "out") for a in args))
    assert r.exit_code != 0
    assert message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()
