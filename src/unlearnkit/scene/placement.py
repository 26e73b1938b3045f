"""Stages 5 and 6, place and refine: FreeEdit's "location finder" (``placing.py``) and its yaw refinement.

Given the support object G and the (scaled) new object P:

1. **Support points**: points on G's faces whose normal has n·ẑ > 0.98 (FreeEdit takes G's vertices; a box
   top has only four, so points are sampled on those faces, as the offline recipe says).
2. **Surfaces by height**: standardise the points' z, DBSCAN (eps 0.1, min_samples 10; :func:`dbscan_1d`), drop
   noise; each cluster is one horizontal surface (a table top; each board of a shelf).
3. **Cell size** c = max(extent_x(P), extent_y(P)) / v with v = 4, so P's footprint is v×v cells.
4. **Grid per surface**: a cell is free where the surface carries it and nothing of the scene stands in the
   slab above it up to P's height. Then **hierarchical convolution**: the next grid is 1 at (i, j) iff the
   v×v window there averages ≥ τ = 1 (un-padded, so it shrinks by v−1), until a level is empty, the window
   no longer fits or 11 levels are done. The level count n_s measures the clearance the surface offers.
5. **Surface**: the largest n_s; ties go to the larger x-y area.
6. **Cell**: a surviving anchor at the last level, and the centre of the free block it stands for.
7. **Height**: the mean z of the surface points under the footprint (the surface's median z if none).
8. **Yaw** (stage 6): 0/90/180/270° about the footprint centre; the least penetration wins, then the most
   clearance, then the smaller angle.

Where this departs from the authors' code, and why:

* A grid cell is supported only when its corners and centre lie on the surface (the code marks a cell when
  any point falls in it, so a footprint can overhang the edge by a cell), and occupancy comes from what
  stands above the surface (the code relies on clutter leaving holes in a fused scan's vertices; separate
  objects leave none).
* The cell is the block centre ``i + (n(v−1)+1)/2`` cells from the grid origin; the code adds n_s to the
  mean anchor, which for v = 4 lands up to half a cell outside the free block at level 1. Among the last
  level's anchors the one nearest their mean is taken: the mean itself can fall between two free regions.
* The height window is the footprint, not ±20 % of the world coordinates (frame-dependent in the code).
* The yaws tried are 0/90/180/270° about one pivot (the code composes each trial rotation on the last).
* ``strategy="max_clearance"``: the notes' simpler equivalent — the anchor whose footprint has the widest
  free margin around it on the grid (chessboard distance transform), exact to a cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import trimesh
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from unlearnkit.errors import ConfigError
from unlearnkit.scene.geometry import cells_touching, inside_triangles_xy, slab_footprints, up_faces, yaw_rotation
from unlearnkit.scene.metrics import penetration
from unlearnkit.scene.model import Scene, SceneError

Strategy = Literal["hierarchical", "max_clearance"]


@dataclass(frozen=True)
class PlacementConfig:
    """FreeEdit's constants (``placing.py``) and this implementation's few extras."""

    voxels: int = 4  # v: the footprint is v×v cells (def_voxels)
    threshold: float = 1.0  # τ: a window passes when its mean is ≥ τ
    max_levels: int = 11
    normal_z: float = 0.98  # support points: n·ẑ above this
    dbscan_eps: float = 0.1  # on standardised z
    dbscan_min_samples: int = 10
    points: int = 4000  # points sampled on the upward faces
    slab_eps: float = 5e-3  # what starts this far above a surface stands on it (m)
    yaws_deg: tuple[float, ...] = (0.0, 90.0, 180.0, 270.0)
    strategy: Strategy = "hierarchical"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.voxels < 1:
            raise ConfigError(f"voxels must be ≥ 1, got {self.voxels}")
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.max_levels < 1:
            raise ConfigError(f"max_levels must be ≥ 1, got {self.max_levels}")
        if not 0 <= self.normal_z < 1:
            raise ConfigError(f"normal_z must be in [0, 1), got {self.normal_z}")
        if self.strategy not in ("hierarchical", "max_clearance"):
            raise ConfigError(f"strategy must be 'hierarchical' or 'max_clearance', got {self.strategy!r}")
        if not self.yaws_deg:
            raise ConfigError("yaws_deg needs at least one angle")


@dataclass
class Surface:
    """One horizontal surface of a support: its points and the upward triangles they were sampled on."""

    z: float
    points: np.ndarray
    triangles: np.ndarray

    @property
    def area(self) -> float:
        lo, hi = self.triangles[..., :2].reshape(-1, 2).min(axis=0), self.triangles[..., :2].reshape(-1, 2).max(axis=0)
        return float(np.prod(hi - lo))


@dataclass
class Grid:
    """Cells of side ``cell`` from ``origin`` over a surface: supported, and blocked by what stands above."""

    origin: np.ndarray
    cell: float
    support: np.ndarray
    blocked: np.ndarray

    @property
    def free(self) -> np.ndarray:
        return self.support & ~self.blocked

    def clearance(self, lo: np.ndarray, hi: np.ndarray) -> float:
        """Distance (m) from the x-y box [lo, hi] to the nearest cell that is not free (or the grid's edge);
        0 when the box meets one."""
        nx, ny = self.free.shape
        ext = self.origin + self.cell * np.array([nx, ny])
        edge = float(min(lo[0] - self.origin[0], lo[1] - self.origin[1], ext[0] - hi[0], ext[1] - hi[1]))
        bad = np.argwhere(~self.free)
        if len(bad) == 0:
            return max(edge, 0.0)
        c0 = self.origin + bad * self.cell
        c1 = c0 + self.cell
        d = np.maximum(np.maximum(c0 - hi, lo - c1), 0.0)
        inside = (c0 < hi - 1e-9).all(axis=1) & (c1 > lo + 1e-9).all(axis=1)
        if inside.any() or edge < -1e-9:
            return 0.0
        return float(min(np.hypot(d[:, 0], d[:, 1]).min(), edge))


@dataclass
class SurfaceChoice:
    surface: Surface
    grid: Grid
    level: int
    anchor: tuple[int, int] | None
    centre: np.ndarray | None
    margin: float  # free margin (m) around the footprint square at the anchor


@dataclass
class Placement:
    """Where the object went and why."""

    mesh: trimesh.Trimesh
    support: str
    position: np.ndarray  # footprint centre x, y and base z
    yaw: float  # radians
    surface_z: float
    level: int
    cell: float
    clearance: float
    penetration: float
    surfaces: list[tuple[float, int]] = field(default_factory=list)  # (z, level) of every surface tried


def support_points(mesh: trimesh.Trimesh, cfg: PlacementConfig) -> tuple[np.ndarray, np.ndarray]:
    """Points on the upward faces (sampled by area, plus their vertices) and the face each lies on."""
    faces = up_faces(mesh, cfg.normal_z)
    if len(faces) == 0:
        return np.zeros((0, 3)), np.zeros(0, dtype=int)
    sub = mesh.submesh([faces], append=True, repair=False)
    pts, idx = trimesh.sample.sample_surface(sub, cfg.points, seed=cfg.seed)
    corners = sub.triangles.reshape(-1, 3)
    return np.vstack([pts, corners]), faces[np.concatenate([idx, np.repeat(np.arange(len(faces)), 3)])]


def dbscan_1d(values: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN on one dimension, by sorting: the clusters scikit-learn's ``DBSCAN`` finds on the same data
    (a border point between two clusters goes to the nearer core), in O(n log n) instead of its O(n²) on a
    flat surface where every point neighbours every other. Noise is −1."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    counts = np.searchsorted(v, v + eps, side="right") - np.searchsorted(v, v - eps, side="left")
    core = counts >= min_samples
    labels = np.full(len(v), -1)
    cores = np.flatnonzero(core)
    if len(cores) == 0:
        return labels
    cluster = np.concatenate([[0], np.cumsum(np.diff(v[cores]) > eps)])
    labels[cores] = cluster
    for i in np.flatnonzero(~core):
        k = np.searchsorted(v[cores], v[i])
        near = [c for c in (k - 1, k) if 0 <= c < len(cores) and abs(v[cores[c]] - v[i]) <= eps]
        if near:
            labels[i] = cluster[min(near, key=lambda c: abs(v[cores[c]] - v[i]))]
    out = np.empty_like(labels)
    out[order] = labels
    return out


def split_surfaces(mesh: trimesh.Trimesh, cfg: PlacementConfig) -> list[Surface]:
    """Support points clustered by standardised height (DBSCAN); highest surface first."""
    pts, face_ids = support_points(mesh, cfg)
    if len(pts) == 0:
        return []
    z = pts[:, 2]
    std = float(z.std())
    if std < 1e-9:
        labels = np.zeros(len(z), dtype=int)
    else:
        labels = dbscan_1d((z - z.mean()) / std, cfg.dbscan_eps, cfg.dbscan_min_samples)
    out = []
    for lab in sorted(set(labels.tolist()) - {-1}):
        sel = labels == lab
        faces = np.unique(face_ids[sel])
        out.append(Surface(float(np.median(z[sel])), pts[sel], mesh.triangles[faces]))
    return sorted(out, key=lambda s: -s.z)


def build_grid(
    scene: Scene,
    surface: Surface,
    cell: float,
    height: float,
    cfg: PlacementConfig,
    exclude: frozenset[str] = frozenset(),
) -> Grid:
    """Rasterise a surface at ``cell``: supported cells, and cells under anything in the slab
    (z_s + slab_eps, z_s + height) of any object not excluded (the support's own upper parts included)."""
    flat = surface.triangles[..., :2].reshape(-1, 2)
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    n = np.maximum(np.floor((hi - lo) / cell + 1e-9).astype(int), 1)
    origin = lo + ((hi - lo) - n * cell) / 2  # centre the cells on the surface
    xs, ys = origin[0] + cell * np.arange(n[0] + 1), origin[1] + cell * np.arange(n[1] + 1)
    corners = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1)
    on = inside_triangles_xy(corners.reshape(-1, 2), surface.triangles).reshape(n[0] + 1, n[1] + 1)
    centres = (corners[:-1, :-1] + cell / 2).reshape(-1, 2)
    mid = inside_triangles_xy(centres, surface.triangles).reshape(n[0], n[1])
    support = on[:-1, :-1] & on[1:, :-1] & on[:-1, 1:] & on[1:, 1:] & mid
    blocked = np.zeros_like(support)
    z0, z1 = surface.z + cfg.slab_eps, surface.z + height
    glo, ghi = origin, origin + n * cell
    for obj in scene:
        if obj.name in exclude:
            continue
        b = obj.bounds
        if b[1, 2] <= z0 or b[0, 2] >= z1 or (b[1, :2] < glo).any() or (b[0, :2] > ghi).any():
            continue
        for pts in slab_footprints(obj.mesh, z0, z1):
            blocked |= cells_touching(pts, centres, cell / 2).reshape(n[0], n[1])
    return Grid(origin, cell, support, blocked)


def hierarchical_levels(free: np.ndarray, v: int, tau: float, max_levels: int) -> tuple[int, np.ndarray | None]:
    """FreeEdit's repeated un-padded v×v mean-convolution: the last non-empty level and its anchors."""
    g, last, n = free.astype(float), None, 0
    while n < max_levels and g.shape[0] >= v and g.shape[1] >= v:
        nxt = sliding_window_view(g, (v, v)).mean(axis=(2, 3)) >= tau - 1e-9
        if not nxt.any():
            break
        last, n, g = nxt, n + 1, nxt.astype(float)
    return n, last


def _nearest_to_mean(cells: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(cells - cells.mean(axis=0), axis=1)
    return cells[int(np.argmin(d))]


def _margin_map(free: np.ndarray, v: int) -> np.ndarray:
    """For every v×v anchor, how many free rings surround the footprint (−1 where it is not all free)."""
    padded = np.pad(free, 1, constant_values=False)
    dist = ndimage.distance_transform_cdt(padded, metric="chessboard")[1:-1, 1:-1]
    if free.shape[0] < v or free.shape[1] < v:
        return np.full((0, 0), -1)
    return sliding_window_view(dist, (v, v)).min(axis=(2, 3)) - 1


def choose_on_surface(surface: Surface, grid: Grid, cfg: PlacementConfig) -> SurfaceChoice:
    """Level count, anchor and world centre of the footprint on one surface's grid."""
    v = cfg.voxels
    level, last = hierarchical_levels(grid.free, v, cfg.threshold, cfg.max_levels)
    if level == 0 or last is None:
        return SurfaceChoice(surface, grid, 0, None, None, -1.0)
    if cfg.strategy == "hierarchical":
        i, j = _nearest_to_mean(np.argwhere(last))
        width = level * (v - 1) + 1  # cells of the free block a level-n anchor stands for
        centre = grid.origin + (np.array([i, j]) + width / 2) * grid.cell
        margin = (width - v) / 2 * grid.cell
    else:
        margins = _margin_map(grid.free, v)
        best = margins.max()
        i, j = _nearest_to_mean(np.argwhere(margins == best))
        centre = grid.origin + (np.array([i, j]) + v / 2) * grid.cell
        margin = float(best) * grid.cell
    return SurfaceChoice(surface, grid, level, (int(i), int(j)), centre, float(margin))


def place(
    scene: Scene,
    support: str,
    mesh: trimesh.Trimesh,
    cfg: PlacementConfig | None = None,
    exclude: frozenset[str] = frozenset(),
) -> Placement:
    """Put ``mesh`` (canonical frame: x-y centred, base at z = 0) on the object ``support`` of ``scene``."""
    cfg = cfg or PlacementConfig()
    g = scene[support]
    surfaces = split_surfaces(g.mesh, cfg)
    if not surfaces:
        raise SceneError(f"{support!r} has no upward-facing surface to put anything on")
    ext = mesh.extents
    cell = float(max(ext[0], ext[1])) / cfg.voxels
    if cell <= 0:
        raise SceneError("the new object has no horizontal extent")
    choices = []
    for s in surfaces:
        choices.append(choose_on_surface(s, build_grid(scene, s, cell, float(ext[2]), cfg, exclude), cfg))
    tried = [(c.surface.z, c.level) for c in choices]
    feasible = [c for c in choices if c.level > 0]
    if not feasible:
        raise SceneError(f"no free spot on {support!r} fits a {ext[0]:.2f}×{ext[1]:.2f}×{ext[2]:.2f} m object")
    key = (
        (lambda c: (c.level, c.surface.area))
        if cfg.strategy == "hierarchical"
        else (lambda c: (c.margin, c.surface.area))
    )
    best = max(feasible, key=key)
    centre = np.asarray(best.centre)
    half = max(ext[0], ext[1]) / 2
    under = np.abs(best.surface.points[:, :2] - centre).max(axis=1) <= half
    z = float(best.surface.points[under, 2].mean()) if under.any() else best.surface.z
    others = [o.mesh for o in scene if o.name not in exclude]
    yaw, placed, pen, clr = refine_yaw(mesh, centre, z, others, best.grid, cfg)
    pos = np.array([centre[0], centre[1], z])
    return Placement(placed, support, pos, yaw, best.surface.z, best.level, cell, clr, pen, tried)


def refine_yaw(
    mesh: trimesh.Trimesh, centre: np.ndarray, z: float, others: list[trimesh.Trimesh], grid: Grid, cfg: PlacementConfig
) -> tuple[float, trimesh.Trimesh, float, float]:
    """Stage 6: each yaw about the footprint centre; the least penetration, then the most clearance, then
    the earlier angle. Returns (yaw, placed mesh, penetration %, clearance m)."""
    options = []
    for k, deg in enumerate(cfg.yaws_deg):
        yaw = float(np.deg2rad(deg))
        m = mesh.copy()
        m.apply_transform(yaw_rotation(yaw, [0.0, 0.0, 0.0]))
        m.apply_translation(
            [
                centre[0] - (m.bounds[0, 0] + m.bounds[1, 0]) / 2,
                centre[1] - (m.bounds[0, 1] + m.bounds[1, 1]) / 2,
                z - m.bounds[0, 2],
            ]
        )
        pen = penetration(m, others, seed=cfg.seed)
        clr = grid.clearance(m.bounds[0, :2], m.bounds[1, :2])
        options.append((pen, -round(clr, 9), k, yaw, m, clr))
    pen, _, _, yaw, placed, clr = min(options, key=lambda t: t[:3])
    return yaw, placed, pen, clr


def naive_place(scene: Scene, support: str, mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The baseline: the footprint centre at the centre of the support's bounding box, the base on its top."""
    b = scene[support].bounds
    m = mesh.copy()
    m.apply_translation(
        [
            (b[0, 0] + b[1, 0]) / 2 - m.bounds[:, 0].mean(),
            (b[0, 1] + b[1, 1]) / 2 - m.bounds[:, 1].mean(),
            b[1, 2] - m.bounds[0, 2],
        ]
    )
    return m
