"""Export round trips (GLB, OBJ, PLY) and fused scans with instance labels as input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from unlearnkit.scene import SceneEditor, SceneError, from_fused, load_scene, save_scene


def _same(a, b, atol):
    assert list(a.objects) == list(b.objects)
    for name in a.objects:
        assert a[name].label == b[name].label
        assert np.allclose(a[name].mesh.vertices, b[name].mesh.vertices, atol=atol)
        assert (a[name].mesh.faces == b[name].mesh.faces).all()


@pytest.mark.parametrize(("suffix", "atol"), [("glb", 1e-6), ("obj", 1e-7), ("ply", 1e-6)])
def test_round_trip(demo, tmp_path, suffix, atol):
    path = save_scene(demo, tmp_path / f"room.{suffix}")
    back = load_scene(path)
    _same(demo, back, atol)
    if suffix == "glb":  # labels and yaws travel as glTF extras
        assert back["book_0"].yaw == pytest.approx(np.deg2rad(20))
    assert not list(tmp_path.glob(".*.tmp"))


def test_edited_scene_round_trips_and_edits_again(demo, tmp_path):
    res = SceneEditor().edit(demo, "put a mug on the table")
    back = load_scene(save_scene(res.after, tmp_path / "out.glb"))
    assert "mug_0" in back and abs(back["mug_0"].base_z - demo["table_0"].top_z) < 1e-6
    again = SceneEditor().edit(back, "remove the table")
    assert {"table_0", "mug_0", "laptop_0", "book_0", "plant_0"} <= set(again.removed)


def test_fused_scan_with_instance_labels(demo, tmp_path):
    objs = list(demo)
    fused = trimesh.util.concatenate([o.mesh for o in objs])
    ids = np.concatenate([np.full(len(o.mesh.vertices), 10 + i) for i, o in enumerate(objs)])
    scene = from_fused(fused, ids, {10 + i: o.name for i, o in enumerate(objs)})
    _same(demo, scene, 1e-12)
    # a ScanNet-style PLY: per-vertex ids plus a sidecar naming them; unnamed ids get generic names
    fused.vertex_attributes["objectId"] = ids.astype(np.int32)
    (tmp_path / "scan.ply").write_bytes(fused.export(file_type="ply"))
    generic = load_scene(tmp_path / "scan.ply")
    assert list(generic.objects)[:2] == ["object_10", "object_11"]
    (tmp_path / "scan.labels.json").write_text(json.dumps({str(10 + i): o.name for i, o in enumerate(objs)}))
    named = load_scene(tmp_path / "scan.ply")
    assert SceneEditor().edit(named, "put a mug on the table").placement.support == "table_0"
    with pytest.raises(SceneError, match="instance labels: 3 values"):
        from_fused(fused, np.zeros(3), None)


def test_y_up_files_are_turned_z_up(tmp_path, demo):
    yup = demo.copy()
    for o in yup:
        o.mesh.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    back = load_scene(save_scene(yup, tmp_path / "y.glb"), up="y")
    assert np.allclose(back["table_0"].bounds, demo["table_0"].bounds, atol=1e-6)


def test_bad_files_are_one_line_errors(tmp_path, demo):
    with pytest.raises(SceneError, match=r"unsupported scene format '\.stl'"):
        load_scene(tmp_path / "x.stl")
    with pytest.raises(SceneError, match="no such scene file"):
        load_scene(tmp_path / "missing.glb")
    (tmp_path / "junk.glb").write_bytes(b"not a glb")
    with pytest.raises(SceneError, match="cannot read the scene"):
        load_scene(tmp_path / "junk.glb")


def test_user_mesh_for_the_new_object(demo, tmp_path):
    from unlearnkit.scene import MeshFileSource

    cone = trimesh.creation.cone(0.5, 2.0)  # 1 × 1 × 2 units, base at z = 0: far too big as given
    cone.export(tmp_path / "thing.stl")
    res = SceneEditor(source=MeshFileSource(tmp_path / "thing.stl")).edit(demo, "put a thing on the table")
    thing = res.after[res.added[0]]
    table = demo["table_0"].mesh.extents
    # an unknown category gets FreeEdit's fallback scale: 0.12 · min(G_x / P_x, G_y / P_y)
    assert thing.mesh.extents[0] == pytest.approx(0.12 * min(table[0], table[1]), rel=1e-6)
    assert abs(thing.base_z - demo["table_0"].top_z) < 1e-6


def test_object_views_are_pictures_of_the_object(library):
    from unlearnkit.scene.render import object_views

    _, mug = library.make("mug")
    views = object_views(mug, views=2, size=64)
    assert len(views) == 2 and views[0].size == (64, 64)
    pixels = np.asarray(views[0])
    assert (pixels < 200).any() and (pixels == 255).any()  # something drawn on a white background
