"""``unlearnkit train --backbone hf:PATH`` on a text file with string ids and string labels, then forget and
predict by those ids; the text loaders' errors are one line each."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from tests.backbones.tiny_hf import TOPICS, topic_texts
from unlearnkit.cli import _load_commands, app
from unlearnkit.errors import DataError

_load_commands()
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def write_texts(path, n=30, seed=1):
    texts, topics = topic_texts(n, seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "label", "owner"])
        for i, (t, y) in enumerate(zip(texts, topics, strict=True)):
            w.writerow([f"user{i}@example.org", t, y, f"owner-{i % 4}"])
    return path


def test_train_forget_predict_with_an_hf_backbone(hf_dirs, tmp_path):
    data = write_texts(tmp_path / "reviews.csv")
    out = tmp_path / "model"
    r = run(
        "train",
        "--strategy",
        "s3t",
        "--backbone",
        f"hf:{hf_dirs['bert']}",
        "--data",
        data,
        "--labels",
        ",".join(sorted(TOPICS)),
        "--lora-layers",
        "2,3",
        "--max-length",
        "10",
        "--shards",
        "2",
        "--slices",
        "2",
        "--budget",
        "2",
        "--epochs",
        "1",
        "--out",
        out,
        "--no-progress",
    )
    assert r.exit_code == 0, r.output
    assert "never-deletable backbone" in r.output
    card = (out / "MODEL_CARD.md").read_text()
    assert "never deletable" in card and "layer.3.attention.self.query" in card and "layer.1." not in card
    r = run("forget", out, "--ids", "user4@example.org", "--json")
    assert r.exit_code == 0, r.output
    receipt = json.loads(r.output)["receipt"]  # the signed receipt
    assert len(receipt["erased"]["id_hashes"]) == 1
    assert len(receipt["erased"]["external_id_hashes"]) == 1 and "example.org" not in r.output
    r = run("predict", out, "--data", data, "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert rows[0]["id"] == "user0@example.org" and {row["prediction"] for row in rows} <= set(TOPICS)


def test_string_labels_need_a_declared_label_set(hf_dirs, tmp_path):
    from unlearnkit.data.text import load_text
    from unlearnkit.models.backbones.hf import HFBackbone

    bb = HFBackbone(hf_dirs["bert"], max_length=10)
    data = write_texts(tmp_path / "t.csv")
    with pytest.raises(DataError, match="declared label set"):
        load_text(data, bb)
    with pytest.raises(DataError, match=r"not in the declared label set"):
        load_text(data, bb, label_names=["food", "sports"])
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"text": "the new soup was old", "label": 0}\n{"text": "the old goal was new", "label": 1}\n')
    d = load_text(jsonl, bb, num_classes=3)
    assert len(d) == 2 and d.num_classes == 3 and d.x.dtype.is_floating_point is False
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": 0}\n')
    with pytest.raises(DataError, match="no 'text' column"):
        load_text(bad, bb)
    with pytest.raises(DataError, match="no local Hugging Face model"):
        HFBackbone(tmp_path / "nowhere")
