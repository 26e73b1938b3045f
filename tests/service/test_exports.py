"""Exports of the served model: ONNX / TorchScript / safetensors equal the service's predictions, are recorded,
and a deletion marks every older export stale and names it in its receipt (GDPR Art. 19)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from svc_helpers import auth, harmless_ids, wait_state
from typer.testing import CliRunner

from unlearnkit.lineage.exports import list_exports, newly_stale, record_export

ort = pytest.importorskip("onnxruntime")


def _predict(client, x: np.ndarray) -> tuple[np.ndarray, int]:
    r = client.post("/v1/predict", json={"instances": x.tolist()}, headers=auth("predict"))
    assert r.status_code == 200, r.text
    return np.asarray(r.json()["probabilities"]), r.json()["model_version"]


def _export(client, fmt: str, recipient: str) -> dict:
    r = client.post("/v1/exports", json={"format": fmt, "recipient": recipient}, headers=auth("admin"))
    assert r.status_code == 201, r.text
    return r.json()


def _forget(client, ids: list[int]) -> dict:
    rid = client.post("/v1/deletion-requests", json={"ids": ids}, headers=auth("alice")).json()["id"]
    wait_state(client, rid, timeout=60)
    return client.get(f"/v1/deletion-requests/{rid}/receipt", headers=auth("alice")).json()["receipt"]


@pytest.mark.parametrize("kind", ["s3t", "standard"])
def test_exported_models_predict_like_the_service_and_go_stale_on_deletion(
    kind: str, make_client, model_dir: Path, standard_dir: Path, s3t_data, tmp_path: Path
) -> None:
    directory = model_dir if kind == "s3t" else standard_dir
    client = make_client(directory, exports_dir=tmp_path / "exports")
    x = s3t_data.x[:40].numpy().astype(np.float32)
    served, version = _predict(client, x)

    onnx_rec = _export(client, "onnx", "Acme Analytics")
    ts_rec = _export(client, "torchscript", "Edge fleet")
    st_rec = _export(client, "safetensors", "Archive")
    assert {r["model_version"] for r in (onnx_rec, ts_rec, st_rec)} == {version}
    assert not any(r["stale"] for r in (onnx_rec, ts_rec, st_rec))

    onnx_file = client.get(f"/v1/exports/{onnx_rec['export_id']}/file", headers=auth("admin"))
    assert onnx_file.status_code == 200
    sess = ort.InferenceSession(onnx_file.content)
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], served, atol=2e-6)
    np.testing.assert_allclose(sess.run(None, {"x": x[:1]})[0], served[:1], atol=2e-6)  # batch size is dynamic
    scripted = torch.jit.load(str(tmp_path / "exports" / ts_rec["file_name"]))
    np.testing.assert_allclose(scripted(torch.from_numpy(x)).numpy(), served, atol=2e-6)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "exports" / st_rec["file_name"]), "pt") as f:
        meta = f.metadata()
        assert meta["format"] == "unlearnkit-served-ensemble" and json.loads(meta["model_version"]) == version
        assert all(k.startswith("member") for k in f.keys())  # noqa: SIM118 (safe_open has no __iter__)
    assert client.get("/v1/exports", headers=auth("alice")).status_code == 403

    ids = harmless_ids(directory, 2) if kind == "s3t" else [int(i) for i in s3t_data.ids[:2]]
    receipt = _forget(client, ids)
    named = {e["export_id"] for e in receipt["exports"]["stale"]}
    assert named == {onnx_rec["export_id"], ts_rec["export_id"], st_rec["export_id"]}
    assert "Art. 19" in receipt["exports"]["notice"]

    fresh = _export(client, "onnx", "Acme Analytics")  # the new version: not stale
    stale = client.get("/v1/exports", params={"stale": "true"}, headers=auth("admin")).json()["items"]
    assert {e["export_id"] for e in stale} == named
    assert all(e["stale_by_request"] == receipt["request"]["id"] for e in stale)
    assert not client.get("/v1/exports", headers=auth("admin")).json()["items"][-1]["stale"]

    second = _forget(client, harmless_ids(directory, 3)[2:] if kind == "s3t" else [int(s3t_data.ids[5])])
    assert [e["export_id"] for e in second["exports"]["stale"]] == [fresh["export_id"]]  # only what it made stale
    r = client.post(f"/v1/exports/{onnx_rec['export_id']}/replaced", headers=auth("admin"))
    assert r.status_code == 200 and not r.json()["stale"] and r.json()["replaced_at"]


def test_cli_export_forget_and_stale_listing(model_dir: Path, tmp_path: Path) -> None:
    from unlearnkit.cli import _load_commands, app

    _load_commands()
    runner = CliRunner()
    out = tmp_path / "model.onnx"
    r = runner.invoke(app, ["export", str(model_dir), "--recipient", "Acme", "--format", "onnx", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.is_file() and "export 1" in r.output
    assert runner.invoke(app, ["export", str(model_dir), "--recipient", "Acme", "--format", "pdf"]).exit_code != 0
    empty = runner.invoke(app, ["exports", str(model_dir), "--stale"])
    assert empty.exit_code == 0 and "no stale exports" in empty.output

    ids = harmless_ids(model_dir, 1)
    forgot = runner.invoke(app, ["forget", str(model_dir), "--ids", str(ids[0]), "--json"])
    assert forgot.exit_code == 0, forgot.output
    receipt = json.loads(forgot.output[forgot.output.index("{") :])
    assert [e["export_id"] for e in receipt["receipt"]["exports"]["stale"]] == [1]  # the signed receipt
    listed = runner.invoke(app, ["exports", str(model_dir), "--stale", "--json"])
    rows = json.loads(listed.output)
    assert [(e["export_id"], e["recipient"], e["stale"]) for e in rows] == [(1, "Acme", True)]

    again = runner.invoke(app, ["export", str(model_dir), "--recipient", "Edge", "--format", "safetensors"])
    assert again.exit_code == 0, again.output
    human = runner.invoke(app, ["forget", str(model_dir), "--ids", str(harmless_ids(model_dir, 3)[2])])
    assert human.exit_code == 0, human.output
    assert "stale export 2: safetensors of version" in human.output and "Edge" in human.output


def test_staleness_follows_deletions_not_retrains(tmp_path: Path) -> None:
    """An export is stale once a *deletion* commits a later version; a retrain alone does not make it stale."""
    from unlearnkit.lineage import LineageStore

    store = LineageStore(f"sqlite:///{tmp_path / 'l.db'}", b"pepper")

    def bump(reason: str) -> int:
        with store.session() as s:
            return store.bump_version(reason, "req-" + reason if reason == "deletion" else None, s)

    bump("ingest")
    e1 = record_export(store, model_version=1, fmt="onnx", file_sha256="a" * 64, file_name="a", recipient="A")
    v2 = bump("deletion")
    assert newly_stale(store, v2)[0]["export_id"] == e1["export_id"]
    e2 = record_export(store, model_version=2, fmt="onnx", file_sha256="b" * 64, file_name="b", recipient="B")
    bump("retrain")
    e3 = record_export(store, model_version=3, fmt="onnx", file_sha256="c" * 64, file_name="c", recipient="C")
    assert [e["export_id"] for e in list_exports(store, stale=True)] == [e1["export_id"]]
    v4 = bump("deletion")
    assert [e["export_id"] for e in newly_stale(store, v4)] == [e2["export_id"], e3["export_id"]]
    assert len(list_exports(store, stale=True)) == 3
    with pytest.raises(Exception, match="moved to version 4"):
        record_export(store, model_version=3, fmt="onnx", file_sha256="d" * 64, file_name="d", recipient="D")
    store.close()
