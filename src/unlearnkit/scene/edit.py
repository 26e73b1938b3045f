"""The editor: FreeEdit's pipeline (parse → synthesise → ground → scale → place → refine) over pluggable
stages, and its three edits.

* **Insertion** puts the new object on the grounding object with the placement algorithm.
* **Replacement** keeps the old object's footprint centre, base height and yaw. The new object keeps its own
  size (``replace_scale="prior"``) or is stretched to the old footprint and height as FreeEdit does
  (``"match"``). What rested on the old object is set down on whatever is under it now.
* **Deletion** removes the object, then cascades to what rests on it: deleted too (``cascade="delete"``,
  FreeEdit's behaviour) or dropped onto the next support below (``"drop"``), carrying what rests on it in
  turn. An object still carried by something else stays. The :class:`DeletionRecord` lists every removed
  object with its mesh hash, every moved one with its drop, and the scene hashes before and after.

Every edit works on a copy: the input scene is never changed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import trimesh

from unlearnkit.errors import ConfigError
from unlearnkit.scene.geometry import heights_at, yaw_rotation
from unlearnkit.scene.ground import Grounder, LabelGrounder
from unlearnkit.scene.library import MeshLibrary, ObjectSource
from unlearnkit.scene.metrics import penetration
from unlearnkit.scene.model import Scene, SceneError, SceneObject, mesh_hash
from unlearnkit.scene.parse import EditCommand, Parser, RuleParser
from unlearnkit.scene.placement import Placement, PlacementConfig, place
from unlearnkit.scene.scale import PriorScale, ScaleEstimator

Cascade = Literal["delete", "drop"]


@dataclass(frozen=True)
class EditorConfig:
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    cascade: Cascade = "delete"  # what happens to objects resting on a deleted one
    replace_scale: Literal["prior", "match"] = "prior"

    def __post_init__(self) -> None:
        if self.cascade not in ("delete", "drop"):
            raise ConfigError(f"cascade must be 'delete' or 'drop', got {self.cascade!r}")
        if self.replace_scale not in ("prior", "match"):
            raise ConfigError(f"replace_scale must be 'prior' or 'match', got {self.replace_scale!r}")


def scene_hash(scene: Scene) -> str:
    h = hashlib.sha256()
    for name in sorted(scene.objects):
        h.update(name.encode())
        h.update(mesh_hash(scene[name].mesh).encode())
    return h.hexdigest()


@dataclass
class DeletionRecord:
    """What a deletion removed and moved; enough to check afterwards that nothing of it is left."""

    target: str
    cascade: str
    removed: list[dict[str, Any]] = field(default_factory=list)  # name, label, mesh_sha256, bounds, reason
    moved: list[dict[str, Any]] = field(default_factory=list)  # name, dz, onto
    scene_before: str = ""
    scene_after: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def verify(self, scene: Scene) -> list[str]:
        """Problems found: a removed object's name or mesh still in ``scene`` (empty when the deletion holds)."""
        hashes = {mesh_hash(o.mesh): o.name for o in scene}
        out = []
        for r in self.removed:
            if r["name"] in scene:
                out.append(f"{r['name']} is still in the scene")
            if r["mesh_sha256"] in hashes:
                out.append(f"the mesh of {r['name']} is still in the scene as {hashes[r['mesh_sha256']]}")
        return out


@dataclass
class EditResult:
    prompt: str
    command: EditCommand
    before: Scene
    after: Scene
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    placement: Placement | None = None
    record: DeletionRecord | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt": self.prompt,
            "command": asdict(self.command),
            "added": self.added,
            "removed": self.removed,
            "moved": self.moved,
            "notes": self.notes,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }
        if self.placement is not None:
            p = self.placement
            out["placement"] = {
                "support": p.support,
                "position": [round(float(x), 4) for x in p.position],
                "yaw_deg": round(float(np.rad2deg(p.yaw)), 1),
                "level": p.level,
                "clearance_m": round(p.clearance, 4),
                "penetration_pct": round(p.penetration, 3),
                "surfaces": [[round(z, 4), n] for z, n in p.surfaces],
            }
        if self.record is not None:
            out["deletion_record"] = self.record.as_dict()
        return out


class SceneEditor:
    """FreeEdit with pluggable stages; every default is offline and deterministic."""

    def __init__(
        self,
        parser: Parser | None = None,
        source: ObjectSource | None = None,
        grounder: Grounder | None = None,
        scaler: ScaleEstimator | None = None,
        config: EditorConfig | None = None,
    ) -> None:
        library = MeshLibrary()
        self.parser = parser or RuleParser()
        self.source = source or library
        self.grounder = grounder or LabelGrounder(library)
        self.scaler = scaler or PriorScale(library)
        self.config = config or EditorConfig()

    # -- the pipeline ---------------------------------------------------------------------------------
    def edit(self, scene: Scene, prompt: str) -> EditResult:
        t0 = time.perf_counter()
        cmd = self.parser.parse(prompt)
        t_parse = time.perf_counter() - t0
        if cmd.task == "insertion":
            res = self.insert(scene, str(cmd.primary), cmd.grounding, cmd.context)
        elif cmd.task == "replacement":
            res = self.replace(scene, cmd.grounding, str(cmd.primary), cmd.context)
        else:
            res = self.delete(scene, cmd.grounding, cmd.context)
        res.prompt, res.command = prompt, cmd
        res.timings = {"parse": t_parse, **res.timings, "total": time.perf_counter() - t0}
        return res

    def _make(self, name: str, support: SceneObject) -> tuple[str, trimesh.Trimesh, dict[str, float]]:
        t0 = time.perf_counter()
        label, mesh = self.source.make(name)
        t1 = time.perf_counter()
        factor = self.scaler.scale(label, mesh, support)
        if not np.isfinite(factor) or factor <= 0:
            raise SceneError(f"the scale estimate for {label!r} is not a positive number ({factor})")
        mesh.apply_scale(factor)
        return label, mesh, {"synthesise": t1 - t0, "scale": time.perf_counter() - t1}

    def insert(self, scene: Scene, primary: str, support: str, context: str | None = None) -> EditResult:
        t0 = time.perf_counter()
        after = scene.copy()
        target = self.grounder.ground(support, after, "support", context)
        t_ground = time.perf_counter() - t0
        label, mesh, timings = self._make(primary, after[target])
        t1 = time.perf_counter()
        placement = place(after, target, mesh, self.config.placement)
        t_place = time.perf_counter() - t1
        obj = after.add(SceneObject(after.unique_name(label), label, placement.mesh, placement.yaw))
        return EditResult(
            "",
            EditCommand("insertion", primary, support, context),
            scene,
            after,
            added=[obj.name],
            placement=placement,
            timings={"ground": t_ground, **timings, "place": t_place},
        )

    def replace(self, scene: Scene, old: str, new: str, context: str | None = None) -> EditResult:
        t0 = time.perf_counter()
        after = scene.copy()
        graph = after.support_graph()
        name = self.grounder.ground(old, after, "target", context)
        old_obj = after[name]
        t_ground = time.perf_counter() - t0
        carrier = next((lo for lo, ups in graph.items() if name in ups), name)
        label, mesh, timings = self._make(new, after[carrier])
        yaw = old_obj.footprint_yaw()
        if self.config.replace_scale == "match":
            local = old_obj.mesh.copy()
            local.apply_transform(yaw_rotation(-yaw, [*old_obj.centre_xy, 0.0]))
            mesh.apply_transform(np.diag([*(local.extents / np.maximum(mesh.extents, 1e-9)), 1.0]))
        mesh.apply_transform(yaw_rotation(yaw, [0.0, 0.0, 0.0]))
        mesh.apply_translation(
            [*(old_obj.centre_xy - mesh.bounds[:, :2].mean(axis=0)), old_obj.base_z - mesh.bounds[0, 2]]
        )
        after.remove(name)
        obj = after.add(SceneObject(after.unique_name(label), label, mesh, yaw))
        res = EditResult(
            "",
            EditCommand("replacement", new, old, context),
            scene,
            after,
            added=[obj.name],
            removed=[name],
            timings={"ground": t_ground, **timings},
        )
        for dep in graph[name]:
            if dep in after:
                dz, onto = self._drop(after, dep, {name}, graph, may_rise=True)
                if dz is None:
                    res.notes.append(f"{dep} had nothing under it after the replacement and was left in place")
                elif abs(dz) > 1e-9:
                    res.moved.append(dep)
                    res.notes.append(f"{dep} moved {dz:+.3f} m onto {onto}")
        pen = penetration(obj.mesh, [o.mesh for o in after if o.name != obj.name and o.name not in graph[name]])
        if pen > 0:
            res.notes.append(f"the new {label} overlaps its neighbours ({pen:.1f}% of its points inside them)")
        res.timings["replace"] = time.perf_counter() - t0
        return res

    def delete(self, scene: Scene, target: str, context: str | None = None) -> EditResult:
        t0 = time.perf_counter()
        after = scene.copy()
        name = self.grounder.ground(target, after, "target", context)
        graph = after.support_graph()
        record = DeletionRecord(name, self.config.cascade, scene_before=scene_hash(after))
        self._remove(after, name, "target", record)
        self._cascade(after, name, graph, record)
        record.scene_after = scene_hash(after)
        return EditResult(
            "",
            EditCommand("deletion", None, target, context),
            scene,
            after,
            removed=[r["name"] for r in record.removed],
            moved=[m["name"] for m in record.moved],
            record=record,
            timings={"delete": time.perf_counter() - t0},
        )

    # -- deletion helpers -----------------------------------------------------------------------------
    @staticmethod
    def _remove(scene: Scene, name: str, reason: str, record: DeletionRecord) -> None:
        obj = scene.remove(name)
        record.removed.append(
            {
                "name": name,
                "label": obj.label,
                "mesh_sha256": mesh_hash(obj.mesh),
                "bounds": np.round(obj.bounds, 4).tolist(),
                "reason": reason,
            }
        )

    def _cascade(self, scene: Scene, gone: str, graph: dict[str, list[str]], record: DeletionRecord) -> None:
        for dep in graph.get(gone, []):
            if dep not in scene:
                continue
            sub = set(scene.dependants(dep, graph))
            if any(scene.rests_on(scene[dep], o) for o in scene if o.name != dep and o.name not in sub):
                continue  # still carried by something else
            if self.config.cascade == "delete":
                self._remove(scene, dep, f"rested on {gone}", record)
                self._cascade(scene, dep, graph, record)
                continue
            dz, onto = self._drop(scene, dep, {gone}, graph)
            if dz is None:
                self._remove(scene, dep, f"rested on {gone}; nothing below to drop onto", record)
                self._cascade(scene, dep, graph, record)
            else:
                record.moved.append(
                    {"name": dep, "dz": round(dz, 6), "onto": onto, "carried": sorted(n for n in sub if n in scene)}
                )

    @staticmethod
    def _drop(
        scene: Scene, name: str, gone: set[str], graph: dict[str, list[str]], may_rise: bool = False
    ) -> tuple[float | None, str]:
        """Lower ``name`` and what rests on it onto the highest surface under its base (``may_rise``: or onto
        a higher one, as when a taller object replaced its support)."""
        obj = scene[name]
        carried = [n for n in scene.dependants(name, graph) if n in scene]
        exclude = {name, *carried, *gone}
        pts = obj.base_points()
        pts = np.vstack([pts, pts.mean(axis=0, keepdims=True)])[:, :2]
        best, onto = -np.inf, ""
        for o in scene:
            if o.name in exclude:
                continue
            h = float(np.max(heights_at(o.mesh, pts, below=max(obj.base_z, o.top_z) if may_rise else obj.base_z)))
            if h > best:
                best, onto = h, o.name
        if not np.isfinite(best):
            return None, ""
        dz = best - obj.base_z
        for n in (name, *carried):
            scene[n].mesh.apply_translation([0.0, 0.0, dz])
        return dz, onto
