"""Replacement keeps the footprint centre, base and yaw; deletion cascades by policy and records what went."""

from __future__ import annotations

import numpy as np
import pytest

from unlearnkit.errors import ConfigError
from unlearnkit.scene import EditorConfig, Scene, SceneEditor, SceneError
from unlearnkit.scene.demo import floor, put
from unlearnkit.scene.geometry import footprint_yaw
from unlearnkit.scene.model import mesh_hash

EPS = 1e-6


def _angle_mod(a, period=np.pi / 2):
    d = (a % period + period) % period
    return min(d, period - d)


@pytest.mark.parametrize("mode", ["prior", "match"])
def test_replacement_keeps_centre_base_and_yaw(demo, mode):
    old = demo["book_0"]  # placed with a 20° yaw
    res = SceneEditor(config=EditorConfig(replace_scale=mode)).edit(demo, "swap the book on the table for a laptop")
    assert res.removed == ["book_0"] and res.added == ["laptop_1"]  # laptop_0 is already there
    new = res.after[res.added[0]]
    assert np.allclose(new.centre_xy, old.centre_xy, atol=EPS)
    assert abs(new.base_z - old.base_z) < EPS
    assert abs(new.yaw - old.footprint_yaw()) < EPS
    assert _angle_mod(footprint_yaw(new.mesh) - np.deg2rad(20)) < 1e-3 or mode == "prior"
    if mode == "match":  # FreeEdit stretches the new object to the old footprint and height
        from unlearnkit.scene.geometry import yaw_rotation

        a, b = old.mesh.copy(), new.mesh.copy()
        a.apply_transform(yaw_rotation(-np.deg2rad(20), [*old.centre_xy, 0]))
        b.apply_transform(yaw_rotation(-np.deg2rad(20), [*old.centre_xy, 0]))
        assert np.allclose(a.extents, b.extents, atol=1e-6)


def test_replacement_without_recorded_yaw_estimates_it(demo):
    scene = demo.copy()
    scene["book_0"].yaw = None  # as after loading an OBJ: the yaw comes from the footprint
    res = SceneEditor().edit(scene, "replace book_0 with a box")
    new = res.after[res.added[0]]
    assert _angle_mod(new.yaw - np.deg2rad(20)) < 1e-6
    assert np.allclose(new.centre_xy, demo["book_0"].centre_xy, atol=EPS)


def test_replacing_a_support_resettles_what_it_carried(demo):
    res = SceneEditor().edit(demo, "replace the side table with a desk")
    lamp = res.after["lamp_0"]
    desk = res.after[res.added[0]]
    assert res.moved == ["lamp_0"] and abs(lamp.base_z - desk.top_z) < EPS


def test_deletion_cascade_delete(demo):
    res = SceneEditor().edit(demo, "remove the coffee table")
    rec = res.record
    assert [r["name"] for r in rec.removed] == ["coffee_table_0", "bowl_0", "tray_0", "cup_0"]
    assert rec.removed[0]["reason"] == "target" and rec.removed[3]["reason"] == "rested on tray_0"
    assert rec.removed[0]["mesh_sha256"] == mesh_hash(demo["coffee_table_0"].mesh)
    assert rec.verify(res.after) == [] and rec.verify(demo)  # gone from the result, present in the input
    assert set(demo.objects) - set(res.after.objects) == {"coffee_table_0", "bowl_0", "tray_0", "cup_0"}
    assert rec.scene_before != rec.scene_after


def test_deletion_cascade_drop(demo):
    res = SceneEditor(config=EditorConfig(cascade="drop")).edit(demo, "delete the coffee table")
    after = res.after
    assert res.removed == ["coffee_table_0"] and res.moved == ["bowl_0", "tray_0"]
    floor_top = after["floor_0"].top_z
    assert abs(after["bowl_0"].base_z - floor_top) < EPS and abs(after["tray_0"].base_z - floor_top) < EPS
    assert abs(after["cup_0"].base_z - after["tray_0"].top_z) < EPS  # carried along by the tray
    assert np.allclose(after["cup_0"].centre_xy, demo["cup_0"].centre_xy)
    moved = {m["name"]: m for m in res.record.moved}
    assert moved["tray_0"]["carried"] == ["cup_0"] and moved["tray_0"]["onto"] == "floor_0"
    assert abs(moved["bowl_0"]["dz"] + 0.45) < EPS


def test_object_still_carried_elsewhere_is_kept(library):
    s = Scene()
    floor(s)
    put(s, library, "side table", (-0.3, 0.0))
    put(s, library, "side table", (0.3, 0.0))
    put(s, library, "tray", (0.0, 0.0))  # spans both tables
    put(s, library, "mug", (0.4, 0.0), on="side_table_1")
    res = SceneEditor().edit(s, "remove side_table_1")
    assert res.removed == ["side_table_1", "mug_0"]
    assert "tray_0" in res.after


def test_ambiguous_target_needs_a_name_or_a_context(demo):
    with pytest.raises(SceneError, match="matches book_0, book_1"):
        SceneEditor().edit(demo, "remove the book")
    assert SceneEditor().edit(demo, "remove the book from the shelf").removed == ["book_1"]
    assert SceneEditor().edit(demo, "remove book 0").removed == ["book_0"]


def test_unknown_things_are_clear_errors(demo):
    with pytest.raises(SceneError, match="nothing in the scene matches 'piano'"):
        SceneEditor().edit(demo, "remove the piano")
    with pytest.raises(SceneError, match="no mesh for 'giraffe'"):
        SceneEditor().edit(demo, "put a giraffe on the table")
    with pytest.raises(ConfigError, match="cascade"):
        EditorConfig(cascade="explode")
