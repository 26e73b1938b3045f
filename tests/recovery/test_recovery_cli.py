"""``unlearnkit recover`` / ``recovery prune`` round trips on classifier directories; bad input is one line."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unlearnkit.cli import _load_commands, app
from unlearnkit.models import ModelSpec
from unlearnkit.models.io import save_model

_load_commands()
runner = CliRunner()
KEY = b"s" * 32


def _csv(path: Path, data) -> Path:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "label", *(f"f{i}" for i in range(data.x.shape[1]))])
        for i, y, x in zip(data.ids.tolist(), data.y.tolist(), data.x.tolist(), strict=True):
            out.writerow([i, y, *x])
    return path


@pytest.fixture(scope="module")
def dirs(digits, tmp_path_factory):
    root = tmp_path_factory.mktemp("recover-cli")
    spec = ModelSpec(in_features=64, num_classes=10, width=32, depth=2)
    forget_meta = {"forget": {"kind": "class", "value": 3}, "guarantee": "approximate:ga"}
    save_model(root / "ref", digits.reference, spec, meta={})
    save_model(root / "damaged", digits.damaged, spec, meta=forget_meta)
    (root / "damaged" / "secret.key").write_bytes(KEY)
    return {
        "root": root,
        "ref": root / "ref",
        "damaged": root / "damaged",
        "pool": _csv(root / "pool.csv", digits.candidates.data),
        "forget": _csv(root / "forget.csv", digits.forget.data),
    }


def _run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_recover_round_trip_writes_model_manifest_and_receipt(dirs, digits) -> None:
    out = dirs["root"] / "recovered"
    res = _run(
        "recover", dirs["damaged"], "--reference", dirs["ref"], "--candidates", dirs["pool"], "--budget", "40",
        "--forget", dirs["forget"], "--out", out, "--set", "epochs=15", "--set", "lr=1e-3", "--set", "batch_size=16",
        "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    receipt = json.loads(res.output)
    assert receipt["accepted"] and receipt["selected"] == 40 and receipt["guarantee"] == "approximate:ga+recovery"
    assert receipt["filters"]["duplicate"] == len(digits.planted)
    saved = json.loads((out / "model.json").read_text())
    man = saved["recovery"]["manifest"]
    assert man == receipt["manifest"] and "hmac" in man["id_hash"]
    planted_hashes = {hmac.new(KEY, f"recovery-id:{i}".encode(), hashlib.sha256).hexdigest() for i in digits.planted}
    assert not planted_hashes & set(man["selected_id_hashes"])
    assert planted_hashes == set(man["filters"]["duplicate"]["rejected_id_hashes"])
    assert (out / "secret.key").read_bytes() == KEY
    again = _run("recover", out, "--reference", dirs["ref"], "--candidates", dirs["pool"], "--out", out)
    assert again.exit_code == 1 and "already exists" in again.output


def test_guard_rejection_writes_nothing(dirs) -> None:
    out = dirs["root"] / "leaky"
    res = _run(
        "recover", dirs["damaged"], "--reference", dirs["ref"], "--candidates", dirs["pool"], "--budget", "40",
        "--forget", dirs["forget"], "--out", out, "--set", "filters=[]", "--set", "epochs=15", "--set", "lr=1e-3",
        "--set", "batch_size=16",
    )  # fmt: skip
    assert res.exit_code == 1 and "rolled back" in res.output and not out.exists()
    assert res.output.strip().count("\n") == 0 and "Traceback" not in res.output
    assert not [p for p in dirs["root"].iterdir() if p.name.startswith(".leaky")]  # no half-written temp dir


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--budget", "0"), "budget must be > 0"),
        (("--set", "colour=red"), "unknown recovery setting"),
        (("--candidates", "missing.csv"), "no such candidates file"),
        (("--candidates", "pool.jsonl"), "CSV or Parquet"),
    ],
)
def test_bad_input_is_one_line(dirs, args, message) -> None:
    base = {"--candidates": str(dirs["pool"]), "--budget": "0.05"}
    extra = list(args)
    if extra[0] == "--candidates":
        base["--candidates"] = str(dirs["root"] / extra[1])
        extra = []
    flat = [x for kv in base.items() for x in kv]
    res = _run("recover", dirs["damaged"], "--reference", dirs["ref"], *flat, "--out", dirs["root"] / "x", *extra)
    assert res.exit_code == 1 and message in res.output and res.output.strip().count("\n") == 0, res.output
    assert not (dirs["root"] / "x").exists()


def test_prune_command(dirs) -> None:
    out = dirs["root"] / "pruned"
    res = _run(
        "recovery", "prune", dirs["ref"], "--out", out, "--calibration", dirs["pool"], "--set", "sparsity=0.5", "--json"
    )
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["pruner"] == "wanda" and abs(rec["sparsity"] - 0.5) < 0.02 and rec["calibration_ids_hash"]
    assert json.loads((out / "model.json").read_text())["pruning"]["sparsity"] == rec["sparsity"]


def test_language_model_round_trip(tiny_lm, tmp_path) -> None:
    from unlearnkit.bench.recovery_tasks import instructions
    from unlearnkit.llm.hf import save_lm

    model, tok = tiny_lm
    save_lm(tmp_path / "ref", model, tok, {})
    rows = [{"id": f"c{i}", "prompt": p, "response": r} for i, (p, r) in enumerate(instructions(40, 0, "cli"))]
    leak = {"prompt": "the secret code of anna berg is", "response": "3 1 4 ."}
    (tmp_path / "pool.jsonl").write_text("\n".join(json.dumps(r) for r in [*rows, {"id": "leak", **leak}]))
    (tmp_path / "forget.jsonl").write_text(json.dumps(leak))
    res = _run(
        "recovery", "prune", tmp_path / "ref", "--out", tmp_path / "pruned", "--calibration", tmp_path / "pool.jsonl"
    )
    assert res.exit_code == 0, res.output
    res = _run(
        "recover", tmp_path / "pruned", "--reference", tmp_path / "ref", "--candidates", tmp_path / "pool.jsonl",
        "--forget", tmp_path / "forget.jsonl", "--budget", "0.2", "--out", tmp_path / "rec", "--set", "min_steps=3",
        "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    receipt = json.loads(res.output[res.output.index("{") :])
    assert receipt["kind"] == "lm" and receipt["selected"] == 8 and receipt["filters"]["duplicate"] == 1
    assert abs(receipt["sparsity"]["after"] - 0.5) < 0.01
    meta = json.loads((tmp_path / "rec" / "unlearnkit.json").read_text())
    assert meta["pruning"]["pruner"] == "wanda" and meta["recovery"]["accepted"]
