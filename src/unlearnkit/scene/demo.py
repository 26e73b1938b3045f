"""Generated scenes: a fixed demo room to try edits with no files, and random rooms for the benchmark."""

from __future__ import annotations

import numpy as np

from unlearnkit.scene.geometry import yaw_rotation
from unlearnkit.scene.library import MeshLibrary, _slab
from unlearnkit.scene.model import Scene, SceneError, SceneObject


def put(
    scene: Scene,
    library: MeshLibrary,
    label: str,
    xy: tuple[float, float],
    yaw_deg: float = 0.0,
    on: str | None = None,
    size: tuple[float, float, float] | None = None,
) -> SceneObject:
    """Add a library object with its footprint centred at ``xy``, resting on the highest surface under it
    (of ``on`` when given)."""
    canon, mesh = library.make(label)
    if size is not None:
        mesh.apply_transform(np.diag([*(np.asarray(size) / mesh.extents), 1.0]))
    yaw = float(np.deg2rad(yaw_deg))
    mesh.apply_transform(yaw_rotation(yaw, [0.0, 0.0, 0.0]))
    mesh.apply_translation([xy[0] - mesh.bounds[:, 0].mean(), xy[1] - mesh.bounds[:, 1].mean(), -mesh.bounds[0, 2]])
    base = mesh.vertices[mesh.vertices[:, 2] <= 1e-6][:, :2]
    exclude = frozenset(n for n in scene.objects if on is not None and n != on)
    z = scene.support_height(np.vstack([base, base.mean(axis=0, keepdims=True)]), below=np.inf, exclude=exclude)
    if not np.isfinite(z):
        raise SceneError(f"nothing under {label!r} at {xy}")
    mesh.apply_translation([0.0, 0.0, z])
    return scene.add(SceneObject(scene.unique_name(canon), canon, mesh, yaw))


def floor(scene: Scene, size: tuple[float, float] = (5.0, 5.0)) -> SceneObject:
    return scene.add(SceneObject("floor_0", "floor", _slab(size[0], size[1], 0.02, (0.0, 0.0, -0.02)), 0.0))


def demo_scene() -> Scene:
    """A living room: a table with a laptop, a book and a plant; a shelf with a vase and books; a side table
    with a lamp; a coffee table with a bowl; a chair; a sofa. Deterministic."""
    lib = MeshLibrary(use_packaged=False)
    s = Scene()
    floor(s)
    put(s, lib, "table", (0.0, 0.0))
    put(s, lib, "laptop", (0.3, 0.1), on="table_0")
    put(s, lib, "book", (-0.35, -0.2), yaw_deg=20, on="table_0")
    put(s, lib, "plant", (-0.4, 0.22), on="table_0")
    put(s, lib, "chair", (0.0, -0.75), yaw_deg=180)
    put(s, lib, "shelf", (1.7, 1.9))
    put(s, lib, "vase", (1.55, 1.9), on="shelf_0")
    put(s, lib, "book", (1.85, 1.9), yaw_deg=90, on="shelf_0")
    put(s, lib, "sofa", (-0.8, 2.0))
    put(s, lib, "side table", (-2.2, 2.0))
    put(s, lib, "lamp", (-2.2, 2.0), on="side_table_0")
    put(s, lib, "coffee table", (-0.8, 1.0))
    put(s, lib, "bowl", (-1.0, 1.05), on="coffee_table_0")
    put(s, lib, "tray", (-0.55, 1.0), on="coffee_table_0")
    put(s, lib, "cup", (-0.55, 1.0), on="tray_0")
    return s


SUPPORTS = ("table", "desk", "coffee table", "side table")
CLUTTER = ("book", "mug", "bowl", "plate", "vase", "bottle", "laptop", "lamp", "plant", "cup", "box", "clock")
SMALL = ("mug", "cup", "apple", "bowl", "vase", "bottle", "book", "plant", "teddy bear", "candle", "lamp", "ball")


def random_scene(seed: int, clutter: tuple[int, int] = (1, 5)) -> Scene:
    """A floor and one support of a random kind and size, with random clutter on its top (no overlaps)."""
    rng = np.random.default_rng(seed)
    lib = MeshLibrary(use_packaged=False)
    s = Scene()
    floor(s)
    kind = SUPPORTS[rng.integers(len(SUPPORTS))]
    w, d, h = (np.asarray(lib.assets[kind].size) * rng.uniform(0.8, 1.25, 3)).tolist()
    put(s, lib, kind, (0.0, 0.0), size=(w, d, h))
    sup = next(iter(o.name for o in s if o.label == kind))
    placed: list[np.ndarray] = []
    for _ in range(int(rng.integers(clutter[0], clutter[1] + 1))):
        label = CLUTTER[rng.integers(len(CLUTTER))]
        ext = np.asarray(lib.assets[label].size[:2])
        for _try in range(30):
            yaw = float(rng.choice([0.0, 90.0, 180.0, 270.0]))
            e = ext[::-1] if yaw in (90.0, 270.0) else ext
            lim = np.array([w, d]) / 2 - e / 2 - 0.01
            if (lim <= 0).any():
                break
            xy = rng.uniform(-lim, lim)
            box = np.array([xy - e / 2, xy + e / 2])
            if all((box[1] < b[0]).any() or (b[1] < box[0]).any() for b in placed):
                put(s, lib, label, (float(xy[0]), float(xy[1])), yaw_deg=yaw, on=sup)
                placed.append(box)
                break
    return s
