"""How good a placement is: FreeEdit's two metrics (penetration percentage, base distance) and the checks
the tests and the benchmark share (on the support within its bounds, overlap, clearance)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import trimesh

from unlearnkit.scene.geometry import heights_at, winding_numbers
from unlearnkit.scene.model import CONTACT_EPS, Scene


def _boxes_meet(a: np.ndarray, b: np.ndarray, tol: float = 0.0) -> bool:
    return bool((a[0] <= b[1] + tol).all() and (b[0] <= a[1] + tol).all())


def probe_points(mesh: trimesh.Trimesh, samples: int = 400, seed: int = 0, shrink: float = 1e-3) -> np.ndarray:
    """Surface samples and vertices, pulled ``shrink`` (relative) toward the centroid so that a face resting
    exactly on another surface does not count as inside it."""
    pts, _ = trimesh.sample.sample_surface(mesh, samples, seed=seed)
    pts = np.vstack([pts, mesh.vertices])
    c = mesh.bounds.mean(axis=0)
    return c + (pts - c) * (1.0 - shrink)


def penetration(mesh: trimesh.Trimesh, others: list[trimesh.Trimesh], samples: int = 400, seed: int = 0) -> float:
    """FreeEdit's penetration percentage: the share of the object's points inside any other mesh (0–100)."""
    near = [o for o in others if _boxes_meet(mesh.bounds, o.bounds)]
    if not near:
        return 0.0
    pts = probe_points(mesh, samples, seed)
    inside = np.zeros(len(pts), dtype=bool)
    for o in near:
        cand = ~inside & (pts >= o.bounds[0]).all(axis=1) & (pts <= o.bounds[1]).all(axis=1)
        if cand.any():
            inside[cand] = winding_numbers(pts[cand], o) > 0.5
    return float(100.0 * inside.mean())


def overlaps(mesh: trimesh.Trimesh, others: list[trimesh.Trimesh], samples: int = 400, seed: int = 0) -> bool:
    """Whether the object and any other mesh interpenetrate (points of either inside the other)."""
    if penetration(mesh, others, samples, seed) > 0:
        return True
    return any(penetration(o, [mesh], samples, seed) > 0 for o in others if _boxes_meet(mesh.bounds, o.bounds))


def base_distance(mesh: trimesh.Trimesh, support: trimesh.Trimesh) -> float:
    """FreeEdit's base distance: the object's lowest z minus the support's surface under its base centre
    (> 0 floating, < 0 sinking; ``inf`` when no surface of the support is under it)."""
    base = mesh.vertices[mesh.vertices[:, 2] <= mesh.bounds[0, 2] + CONTACT_EPS]
    centre = base.mean(axis=0)
    h = heights_at(support, centre[None, :2], below=mesh.bounds[0, 2] + 0.05)[0]
    return float(mesh.bounds[0, 2] - h) if np.isfinite(h) else float("inf")


def on_support(mesh: trimesh.Trimesh, support: trimesh.Trimesh, eps: float = CONTACT_EPS) -> bool:
    """Every base point (and the base centre) stands on the support's surface at the base height."""
    base = mesh.vertices[mesh.vertices[:, 2] <= mesh.bounds[0, 2] + eps]
    pts = np.vstack([base, base.mean(axis=0, keepdims=True)])
    h = heights_at(support, pts[:, :2], below=mesh.bounds[0, 2] + eps)
    return bool(np.all(np.abs(h - mesh.bounds[0, 2]) <= eps))


@dataclass
class PlacementQuality:
    on_support: bool
    base_distance: float
    penetration: float  # % of the object's points inside other objects
    overlap: bool
    clearance: float  # m from the footprint to the nearest obstacle or support edge (0 when touching one)
    success: bool

    def as_dict(self) -> dict[str, float | bool]:
        return asdict(self)


def assess(
    scene: Scene,
    support: str,
    mesh: trimesh.Trimesh,
    eps: float = CONTACT_EPS,
    clearance_cell: float = 0.01,
    exclude: frozenset[str] = frozenset(),
) -> PlacementQuality:
    """Judge an object placed on ``support`` of ``scene`` (which does not contain it yet)."""
    from unlearnkit.scene.placement import PlacementConfig, build_grid, split_surfaces

    sup = scene[support].mesh
    others = [o.mesh for o in scene if o.name not in exclude]
    pen = penetration(mesh, others)
    ov = pen > 0 or overlaps(mesh, others)
    onsup = on_support(mesh, sup, eps)
    bd = base_distance(mesh, sup)
    clear = 0.0
    if onsup:
        cfg = PlacementConfig()
        surfaces = [s for s in split_surfaces(sup, cfg) if abs(s.z - mesh.bounds[0, 2]) <= eps]
        if surfaces:
            grid = build_grid(scene, surfaces[0], clearance_cell, float(mesh.extents[2]), cfg, exclude)
            clear = grid.clearance(mesh.bounds[0, :2], mesh.bounds[1, :2])
    success = onsup and abs(bd) <= eps and not ov
    return PlacementQuality(onsup, bd, pen, ov, clear, success)
