"""Reading and writing scenes: GLB/glTF (one node per object, labels as extras), OBJ (one ``o`` block per
object), PLY (one fused mesh with a per-vertex ``instance`` id and a ``.labels.json`` beside it), and fused
scans with instance labels (a ScanNet-style PLY, or a mesh plus a per-vertex id array).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import trimesh

from unlearnkit.scene.model import Scene, SceneError, SceneObject, label_of

FORMATS = ("glb", "gltf", "obj", "ply")
INSTANCE_FIELDS = ("instance", "instance_id", "objectId", "object_id", "segment")
_Y_UP_TO_Z_UP = trimesh.transformations.rotation_matrix(np.pi / 2, [1.0, 0.0, 0.0])


def _format(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    if ext not in FORMATS:
        raise SceneError(f"{path}: unsupported scene format {path.suffix!r} (use one of: .glb, .gltf, .obj, .ply)")
    return ext


def labels_path(path: Path) -> Path:
    """The sidecar that names a PLY's instance ids: ``scan.ply`` → ``scan.labels.json``."""
    return path.with_suffix(".labels.json")


def from_fused(
    mesh: trimesh.Trimesh, instance: np.ndarray, names: dict[int, str] | None = None, ignore_below: int = 0
) -> Scene:
    """Split one fused mesh into objects by a per-vertex instance id.

    A face belongs to the instance most of its vertices carry (ties: its first vertex). Ids below
    ``ignore_below`` are unlabelled (ScanNet uses 0 or -1) and dropped; ``names`` maps ids to instance names.
    """
    instance = np.asarray(instance).astype(np.int64).reshape(-1)
    if len(instance) != len(mesh.vertices):
        raise SceneError(f"instance labels: {len(instance)} values for {len(mesh.vertices)} vertices")
    fi = instance[mesh.faces]
    face_id = np.where((fi[:, 1] == fi[:, 2]) & (fi[:, 1] != fi[:, 0]), fi[:, 1], fi[:, 0])
    names = {int(k): v for k, v in (names or {}).items()}
    out = Scene()
    for iid in np.unique(face_id):
        if iid < ignore_below:
            continue
        part = mesh.submesh([np.flatnonzero(face_id == iid)], append=True, repair=False)
        name = names.get(int(iid), f"object_{iid}")
        if name in out:
            name = out.unique_name(label_of(name))
        out.add(SceneObject(name, label_of(name), part, None))
    if not len(out):
        raise SceneError("the fused mesh has no labelled instance")
    return out


def _read_ply(path: Path) -> Scene:
    mesh = trimesh.load(path, file_type="ply", process=False, force="mesh")
    raw = mesh.metadata.get("_ply_raw", {}).get("vertex", {}).get("data")
    field = next((f for f in INSTANCE_FIELDS if raw is not None and raw.dtype.names and f in raw.dtype.names), None)
    side = labels_path(path)
    names = {int(k): v for k, v in json.loads(side.read_text()).items()} if side.exists() else None
    if field is None:
        if names:
            raise SceneError(f"{path}: {side.name} names instances but the PLY has no per-vertex instance field")
        return Scene({(n := label_of(path.stem).replace(" ", "_") + "_0"): SceneObject(n, label_of(n), mesh, None)})
    return from_fused(mesh, raw[field], names, ignore_below=0 if names is None else min(names, default=0))


def load_scene(path: str | Path, up: str = "z") -> Scene:
    """Read a scene file; ``up="y"`` turns a y-up file (the glTF convention) z-up."""
    path = Path(path)
    ext = _format(path)
    if not path.is_file():
        raise SceneError(f"{path}: no such scene file")
    if up not in ("y", "z"):
        raise SceneError(f"up axis must be 'y' or 'z', not {up!r}")
    try:
        if ext == "ply":
            scene = _read_ply(path)
        else:
            kw = {"split_objects": True, "group_material": False} if ext == "obj" else {}
            loaded = trimesh.load(path, file_type=ext, force="scene", process=False, **kw)
            scene = Scene.from_trimesh(loaded)
            if ext == "obj":  # the loader reverses the objects: restore the file's order
                order = re.findall(r"^o\s+(\S+)", path.read_text(errors="replace"), flags=re.M)
                rank = {n: i for i, n in enumerate(order)}
                scene = Scene(dict(sorted(scene.objects.items(), key=lambda kv: rank.get(kv[0], len(rank)))))
    except SceneError:
        raise
    except Exception as exc:  # trimesh raises many types on malformed input
        raise SceneError(f"{path}: cannot read the scene ({type(exc).__name__}: {exc})") from None
    if up == "y":
        for o in scene:
            o.mesh.apply_transform(_Y_UP_TO_Z_UP)
    return scene


def _obj_text(scene: Scene) -> str:
    buf = io.StringIO()
    buf.write("# unlearnkit scene: one object per `o` block\n")
    offset = 1
    for o in scene:
        buf.write(f"o {o.name}\n")
        np.savetxt(buf, o.mesh.vertices, fmt="v %.8f %.8f %.8f")
        np.savetxt(buf, o.mesh.faces + offset, fmt="f %d %d %d")
        offset += len(o.mesh.vertices)
    return buf.getvalue()


def save_scene(scene: Scene, path: str | Path) -> Path:
    """Write ``scene``; the format follows the suffix. The file appears whole or not at all."""
    path = Path(path)
    ext = _format(path)
    if not len(scene):
        raise SceneError("cannot save an empty scene")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if ext == "gltf":
        raise SceneError(f"{path}: write .glb (one self-contained file) rather than .gltf")
    if ext == "glb":
        data = scene.to_trimesh().export(file_type="glb")
        tmp.write_bytes(data)
    elif ext == "obj":
        tmp.write_text(_obj_text(scene))
    else:
        objs = list(scene)
        fused = trimesh.util.concatenate([o.mesh for o in objs])
        ids = np.concatenate([np.full(len(o.mesh.vertices), i, dtype=np.int32) for i, o in enumerate(objs)])
        fused.vertex_attributes["instance"] = ids
        tmp.write_bytes(fused.export(file_type="ply"))
        labels_path(path).write_text(json.dumps({str(i): o.name for i, o in enumerate(objs)}, indent=1))
    tmp.replace(path)
    return path
