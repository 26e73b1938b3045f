"""Geometry the scene editor needs, in numpy over trimesh meshes (no spatial index, no ``rtree``).

* :func:`heights_at` — the height of a mesh's upward-facing surface under x-y points (a downward ray cast,
  done as a point-in-triangle test in the x-y plane);
* :func:`winding_numbers` — the generalised winding number of points with respect to a mesh (Jacobson et
  al., SIGGRAPH 2013); above 0.5 means inside. Unlike ``trimesh``'s ``contains`` it needs no ``rtree`` and
  works on meshes that are unions of closed parts (a composed table, a mug with a handle);
* :func:`slab_footprints` — the x-y convex hulls of a mesh's connected parts that reach into a height slab:
  what blocks an object of a given height standing on a surface.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

_TOL = 1e-9


def up_faces(mesh: trimesh.Trimesh, normal_z: float) -> np.ndarray:
    """Indices of the faces whose unit normal has a z component above ``normal_z``."""
    return np.flatnonzero(mesh.face_normals[:, 2] > normal_z)


def _barycentric_xy(points: np.ndarray, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric coordinates (P, T, 3) of x-y points in the x-y projection of triangles, and a validity mask."""
    a, b, c = tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2]
    v0, v1 = b - a, c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(den) > 1e-15
    den = np.where(ok, den, 1.0)
    d = points[:, None, :] - a[None, :, :]
    u = (d[..., 0] * v1[None, :, 1] - v1[None, :, 0] * d[..., 1]) / den
    v = (v0[None, :, 0] * d[..., 1] - d[..., 0] * v0[None, :, 1]) / den
    bary = np.stack([1.0 - u - v, u, v], axis=-1)
    return bary, np.broadcast_to(ok, u.shape)


def inside_triangles_xy(points: np.ndarray, triangles: np.ndarray, tol: float = 1e-7, chunk: int = 4096) -> np.ndarray:
    """Whether each x-y point lies in the union of the triangles' x-y projections (edges count as inside)."""
    points = np.asarray(points, dtype=float)[:, :2]
    out = np.zeros(len(points), dtype=bool)
    if len(triangles) == 0:
        return out
    for start in range(0, len(points), chunk):
        bary, ok = _barycentric_xy(points[start : start + chunk], triangles)
        out[start : start + chunk] = ((bary >= -tol).all(axis=-1) & ok).any(axis=1)
    return out


def heights_at(
    mesh: trimesh.Trimesh, xy: np.ndarray, normal_z: float = 0.5, below: float | None = None, chunk: int = 2048
) -> np.ndarray:
    """Highest upward-facing surface of ``mesh`` under each x-y point (``-inf`` where there is none).

    ``below``: ignore surface above this height (a support must be under the object, not over it).
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    faces = up_faces(mesh, normal_z)
    out = np.full(len(xy), -np.inf)
    if len(faces) == 0 or len(xy) == 0:
        return out
    tri = mesh.triangles[faces]
    for start in range(0, len(xy), chunk):
        bary, ok = _barycentric_xy(xy[start : start + chunk], tri)
        inside = (bary >= -1e-9).all(axis=-1) & ok
        z = (bary * tri[None, :, :, 2]).sum(axis=-1)
        if below is not None:
            inside &= z <= below + 1e-6
        z = np.where(inside, z, -np.inf)
        out[start : start + chunk] = z.max(axis=1)
    return out


def winding_numbers(points: np.ndarray, mesh: trimesh.Trimesh) -> np.ndarray:
    """Generalised winding number of each point: the signed solid angle of the mesh seen from it, over 4π.

    Van Oosterom and Strackee's triangle solid angle, summed over faces. ≈1 inside a closed mesh, ≈0 outside.
    """
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    tri = mesh.triangles
    out = np.zeros(len(points))
    chunk = max(1, 400_000 // max(len(tri), 1))
    for start in range(0, len(points), chunk):
        r = tri[None, :, :, :] - points[start : start + chunk, None, None, :]
        n = np.linalg.norm(r, axis=-1)
        a, b, c = r[:, :, 0], r[:, :, 1], r[:, :, 2]
        det = np.einsum("ptk,ptk->pt", a, np.cross(b, c))
        dots = (
            n[..., 0] * n[..., 1] * n[..., 2]
            + np.einsum("ptk,ptk->pt", a, b) * n[..., 2]
            + np.einsum("ptk,ptk->pt", b, c) * n[..., 0]
            + np.einsum("ptk,ptk->pt", c, a) * n[..., 1]
        )
        out[start : start + chunk] = 2.0 * np.arctan2(det, dots).sum(axis=1) / (4.0 * np.pi)
    return out


def _slab_points(mesh: trimesh.Trimesh, lo: float, hi: float) -> np.ndarray:
    """x-y points of the part of ``mesh`` between heights ``lo`` and ``hi``: vertices inside, edge crossings."""
    v = mesh.vertices
    keep = [v[(v[:, 2] > lo) & (v[:, 2] < hi), :2]]
    edges = mesh.edges_unique
    p, q = v[edges[:, 0]], v[edges[:, 1]]
    for h in (lo, hi):
        cross = (p[:, 2] - h) * (q[:, 2] - h) < 0
        if cross.any():
            pc, qc = p[cross], q[cross]
            t = (h - pc[:, 2]) / (qc[:, 2] - pc[:, 2])
            keep.append(pc[:, :2] + t[:, None] * (qc[:, :2] - pc[:, :2]))
    return np.concatenate(keep, axis=0)


def slab_footprints(mesh: trimesh.Trimesh, lo: float, hi: float) -> list[np.ndarray]:
    """x-y point sets (one per connected part of ``mesh``) of what lies strictly between heights ``lo`` and ``hi``."""
    zmin, zmax = mesh.bounds[:, 2]
    if zmax <= lo or zmin >= hi:
        return []
    parts = mesh.split(only_watertight=False) if len(mesh.faces) > 1 else [mesh]
    out = []
    for part in parts:
        pz = part.bounds[:, 2]
        if pz[1] <= lo or pz[0] >= hi:
            continue
        pts = _slab_points(part, lo, hi)
        if len(pts):
            out.append(pts)
    return out


def cells_touching(points: np.ndarray, centres: np.ndarray, half: float) -> np.ndarray:
    """Which axis-aligned squares (centres, half-side ``half``) meet the convex hull of x-y ``points``.

    A square meets a convex polygon iff its centre lies in the polygon grown by the square (the Minkowski
    sum, itself the hull of the polygon's vertices shifted to the square's corners).
    """
    offs = np.array([[-half, -half], [-half, half], [half, -half], [half, half]])
    grown = (points[:, None, :] + offs[None, :, :]).reshape(-1, 2)
    try:
        hull = ConvexHull(grown)
    except (QhullError, ValueError):  # degenerate: fall back to the bounding box
        lo, hi = grown.min(axis=0), grown.max(axis=0)
        return ((centres >= lo - _TOL) & (centres <= hi + _TOL)).all(axis=1)
    eq = hull.equations
    return (centres @ eq[:, :2].T + eq[:, 2] < -1e-9).all(axis=1)


def yaw_rotation(yaw: float, about: np.ndarray) -> np.ndarray:
    """4×4 rotation by ``yaw`` radians about the vertical axis through ``about``."""
    return trimesh.transformations.rotation_matrix(yaw, [0.0, 0.0, 1.0], point=np.asarray(about, dtype=float))


def footprint_yaw(mesh: trimesh.Trimesh) -> float:
    """Yaw of the minimum-area rectangle around the x-y projection (rotating calipers over the hull), in [0, π/2)."""
    pts = mesh.vertices[:, :2]
    try:
        hull = pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError):
        return 0.0
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.round(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2), 9))
    best, best_area = 0.0, np.inf
    for a in angles:
        c, s = np.cos(-a), np.sin(-a)
        rot = hull @ np.array([[c, s], [-s, c]])
        area = np.prod(rot.max(axis=0) - rot.min(axis=0))
        if area < best_area - 1e-12:
            best, best_area = float(a), area
    return best
