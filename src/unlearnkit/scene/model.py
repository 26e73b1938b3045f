"""A scene of separate, labelled objects: the unit every edit reads and writes.

Each object is its own mesh in world coordinates (metres, z up) with a unique instance ``name``
("table_0"), a category ``label`` ("table") and the ``yaw`` it was placed with. What rests on what is
computed from the geometry (:meth:`Scene.support_graph`), never stored, so it cannot go stale.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import trimesh

from unlearnkit.errors import UnlearnkitError
from unlearnkit.scene.geometry import footprint_yaw, heights_at

#: How far apart (m) two heights may be and still count as "resting on".
CONTACT_EPS = 2e-3


class SceneError(UnlearnkitError, ValueError):
    """A scene, a prompt or an edit cannot be handled (unknown object, no free surface, bad file)."""


def label_of(name: str) -> str:
    """The category of an instance name: ``"coffee_table_2"`` → ``"coffee table"``."""
    return re.sub(r"[_\s]+\d+$", "", name).replace("_", " ").strip().lower() or name.lower()


def mesh_hash(mesh: trimesh.Trimesh) -> str:
    """A content hash of a mesh's vertices and faces (what a deletion record cites)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.round(mesh.vertices, 6), dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(mesh.faces, dtype="<i8").tobytes())
    return h.hexdigest()


@dataclass
class SceneObject:
    """One object of a scene: its mesh in world coordinates and what names it."""

    name: str
    label: str
    mesh: trimesh.Trimesh
    yaw: float | None = None
    synonyms: tuple[str, ...] = ()

    @property
    def bounds(self) -> np.ndarray:
        return self.mesh.bounds

    @property
    def base_z(self) -> float:
        return float(self.mesh.bounds[0, 2])

    @property
    def top_z(self) -> float:
        return float(self.mesh.bounds[1, 2])

    @property
    def centre_xy(self) -> np.ndarray:
        """Centre of the x-y bounding box (the footprint centre)."""
        return self.mesh.bounds[:, :2].mean(axis=0)

    def base_points(self, band: float = CONTACT_EPS) -> np.ndarray:
        """Vertices within ``band`` of the lowest point: where the object touches what carries it."""
        v = self.mesh.vertices
        return v[v[:, 2] <= self.base_z + band]

    def footprint_yaw(self) -> float:
        """The recorded yaw, or the yaw of the minimum-area rectangle around the footprint."""
        return float(self.yaw) if self.yaw is not None else footprint_yaw(self.mesh)

    def copy(self) -> SceneObject:
        return SceneObject(self.name, self.label, self.mesh.copy(), self.yaw, tuple(self.synonyms))


@dataclass
class Scene:
    """Objects by unique name, in insertion order."""

    objects: dict[str, SceneObject] = field(default_factory=dict)

    def __iter__(self) -> Iterator[SceneObject]:
        return iter(self.objects.values())

    def __len__(self) -> int:
        return len(self.objects)

    def __contains__(self, name: object) -> bool:
        return name in self.objects

    def __getitem__(self, name: str) -> SceneObject:
        try:
            return self.objects[name]
        except KeyError:
            raise SceneError(f"no object named {name!r} in the scene (objects: {', '.join(self.objects)})") from None

    @property
    def labels(self) -> list[str]:
        return sorted({o.label for o in self})

    def copy(self) -> Scene:
        return Scene({k: o.copy() for k, o in self.objects.items()})

    def unique_name(self, label: str) -> str:
        stem = re.sub(r"\W+", "_", label.strip().lower()).strip("_") or "object"
        i = 0
        while f"{stem}_{i}" in self.objects:
            i += 1
        return f"{stem}_{i}"

    def add(self, obj: SceneObject) -> SceneObject:
        if obj.name in self.objects:
            raise SceneError(f"an object named {obj.name!r} is already in the scene")
        if len(obj.mesh.faces) == 0:
            raise SceneError(f"object {obj.name!r} has an empty mesh")
        self.objects[obj.name] = obj
        return obj

    def add_mesh(
        self, label: str, mesh: trimesh.Trimesh, yaw: float | None = 0.0, name: str | None = None
    ) -> SceneObject:
        return self.add(SceneObject(name or self.unique_name(label), label, mesh, yaw))

    def remove(self, name: str) -> SceneObject:
        obj = self[name]
        del self.objects[name]
        return obj

    def bounds(self) -> np.ndarray:
        return np.array([np.min([o.bounds[0] for o in self], axis=0), np.max([o.bounds[1] for o in self], axis=0)])

    def floor_z(self) -> float:
        return float(min(o.base_z for o in self)) if self.objects else 0.0

    # -- what rests on what ---------------------------------------------------------------------------
    def rests_on(self, upper: SceneObject, lower: SceneObject, eps: float = CONTACT_EPS) -> bool:
        """Whether ``upper``'s base touches an upward-facing surface of ``lower`` at the base's height."""
        if upper.name == lower.name:
            return False
        (ux0, uy0, uz0), (ux1, uy1, _) = upper.bounds
        (lx0, ly0, lz0), (lx1, ly1, lz1) = lower.bounds
        if ux1 < lx0 or lx1 < ux0 or uy1 < ly0 or ly1 < uy0 or not (lz0 - eps <= uz0 <= lz1 + eps):
            return False
        pts = upper.base_points()
        pts = np.vstack([pts, pts.mean(axis=0, keepdims=True)])
        h = heights_at(lower.mesh, pts[:, :2], below=uz0 + eps)
        return bool(np.any(np.abs(h - uz0) <= eps))

    def support_graph(self, eps: float = CONTACT_EPS) -> dict[str, list[str]]:
        """For each object, the names of the objects resting directly on it."""
        objs = list(self)
        return {lo.name: [up.name for up in objs if self.rests_on(up, lo, eps)] for lo in objs}

    def dependants(self, name: str, graph: dict[str, list[str]] | None = None) -> list[str]:
        """Everything resting on ``name``, directly or through others, nearest first (breadth first)."""
        graph = self.support_graph() if graph is None else graph
        seen: list[str] = []
        frontier = list(graph.get(name, []))
        while frontier:
            nxt = frontier.pop(0)
            if nxt not in seen and nxt != name:
                seen.append(nxt)
                frontier.extend(graph.get(nxt, []))
        return seen

    def support_height(self, xy: np.ndarray, below: float, exclude: set[str] | frozenset[str] = frozenset()) -> float:
        """Highest surface (of any object not excluded) under the x-y points at or below ``below``."""
        best = -np.inf
        for o in self:
            if o.name in exclude or o.base_z > below + CONTACT_EPS:
                continue
            best = max(best, float(np.max(heights_at(o.mesh, xy, below=below))))
        return best

    # -- conversion -----------------------------------------------------------------------------------
    def to_trimesh(self) -> trimesh.Scene:
        """A ``trimesh.Scene`` with one node per object; labels and yaw travel as glTF extras."""
        out = trimesh.Scene()
        for o in self:
            mesh = o.mesh.copy()
            mesh.metadata["unlearnkit"] = {"label": o.label, "yaw": o.yaw, "synonyms": list(o.synonyms)}
            out.add_geometry(mesh, node_name=o.name, geom_name=o.name)
        out.metadata["unlearnkit"] = {"order": list(self.objects)}
        return out

    @classmethod
    def from_trimesh(cls, scene: trimesh.Scene | trimesh.Trimesh) -> Scene:
        """Objects from a ``trimesh.Scene``'s nodes (labels from glTF extras, else from the node names)."""
        if isinstance(scene, trimesh.Trimesh):
            scene = trimesh.Scene({"object_0": scene})
        out = cls()
        for node in scene.graph.nodes_geometry:
            transform, geom_name = scene.graph[node]
            geom = scene.geometry[geom_name]
            if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
                continue
            mesh = geom.copy()
            mesh.apply_transform(transform)
            meta = dict(geom.metadata.get("unlearnkit") or {})
            label = meta.get("label") or geom.metadata.get("label") or label_of(node)
            name = node if node not in out else out.unique_name(label)
            yaw = meta.get("yaw")
            out.add(
                SceneObject(
                    name, str(label), mesh, None if yaw is None else float(yaw), tuple(meta.get("synonyms", ()))
                )
            )
        if not len(out):
            raise SceneError("the scene holds no triangle mesh")
        order = (scene.metadata.get("unlearnkit") or {}).get("order") or list(scene.graph.nodes_geometry)
        rank = {n: i for i, n in enumerate(order)}
        return cls(dict(sorted(out.objects.items(), key=lambda kv: rank.get(kv[0], len(rank)))))
