"""`unlearnkit scene …`: an edit writes the scene, its record and a picture; errors are one line. The
scene package stays apart from the unlearning engine (checked on the imports in the source)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from typer.testing import CliRunner

import unlearnkit
from unlearnkit.cli import _load_commands, app

runner = CliRunner()
_load_commands()


def test_scene_edit_on_the_demo_room(tmp_path):
    out = tmp_path / "out.glb"
    r = runner.invoke(app, ["scene", "edit", "demo", "put a mug on the table", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "added   mug_0" in r.output
    assert out.exists() and (tmp_path / "out.png").stat().st_size > 20_000
    record = json.loads((tmp_path / "out.edit.json").read_text())
    assert record["command"]["task"] == "insertion" and record["placement"]["support"] == "table_0"


def test_scene_delete_writes_the_deletion_record(tmp_path):
    out = tmp_path / "room.obj"
    r = runner.invoke(
        app,
        ["scene", "edit", "demo", "remove the coffee table", "--out", str(out), "--cascade", "drop", "--no-picture"],
    )
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "room.edit.json").read_text())["deletion_record"]
    assert [x["name"] for x in rec["removed"]] == ["coffee_table_0"]
    assert {m["name"] for m in rec["moved"]} == {"bowl_0", "tray_0"}
    assert not (tmp_path / "room.png").exists()


def test_scene_errors_are_one_line_and_write_nothing(tmp_path):
    out = tmp_path / "x.glb"
    for args in (
        ["demo", "remove the piano"],
        ["demo", "make it nicer"],
        ["nowhere.glb", "remove the chair"],
        ["demo", "remove the chair", "--cascade", "explode"],
    ):
        r = runner.invoke(app, ["scene", "edit", *args, "--out", str(out)])
        assert r.exit_code == 1, r.output
        assert r.output.strip().startswith("error: ") and len(r.output.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_scene_demo_and_show(tmp_path):
    r = runner.invoke(app, ["scene", "demo", "--out", str(tmp_path / "room.ply")])
    assert r.exit_code == 0 and (tmp_path / "room.labels.json").exists()
    r = runner.invoke(app, ["scene", "show", str(tmp_path / "room.ply")])
    assert r.exit_code == 0 and "coffee_table_0" in r.output and "carries: bowl_0, tray_0" in r.output


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_scene_package_and_engine_stay_apart():
    src = Path(unlearnkit.__file__).parent
    for f in (src / "scene").glob("*.py"):  # the scene package uses only the project's exceptions
        inside = {m for m in _imports(f) if m.startswith("unlearnkit")}
        assert inside <= {"unlearnkit.errors"} | {m for m in inside if m.startswith("unlearnkit.scene")}, f
    for f in src.rglob("*.py"):  # and nothing outside it (but its CLI module) imports it or trimesh
        if "scene" in f.relative_to(src).parts or f == src / "cli" / "scene.py":
            continue
        assert not {m for m in _imports(f) if m.startswith(("unlearnkit.scene", "trimesh"))}, f
