"""Pictures of scenes with matplotlib's 3-D axes (offline, no GPU): an edit's before/after, and views of one
object (what :class:`~unlearnkit.scene.ground.ClipGrounder` embeds)."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import trimesh

from unlearnkit.scene.model import Scene

if TYPE_CHECKING:
    from unlearnkit.scene.edit import EditResult

ADDED, REMOVED, MOVED = "#2ca02c", "#d62728", "#ff7f0e"
_PALETTE = ("#c7b299", "#9ecae1", "#bcbddc", "#fdd0a2", "#c7e9c0", "#d9d9d9", "#fcbba1", "#a1d99b", "#dadaeb")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _colour(label: str) -> str:
    return "#eeeeee" if label == "floor" else _PALETTE[zlib.crc32(label.encode()) % len(_PALETTE)]


def _draw(
    ax: Any,
    scene: Scene,
    highlight: dict[str, str],
    bounds: np.ndarray,
    title: str,
    max_faces: int = 6000,
    elev: float = 32.0,
    azim: float = -58.0,
) -> None:
    """All triangles in one collection, so matplotlib's depth sort orders them across objects; faces turned
    away from the camera are culled, large triangles (a floor) split, and what lies outside ``bounds`` left out."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    e, a = np.deg2rad(elev), np.deg2rad(azim)
    towards_camera = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])

    light = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    lo, hi = bounds
    step = float(max(hi - lo)) / 14
    tris, colours, edges = [], [], []
    for o in scene:
        mesh = o.mesh
        if mesh.edges_unique_length.max() > step:
            v, f = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=step, max_iter=12)
            mesh = trimesh.Trimesh(v, f, process=False)
        tri, normals = mesh.triangles, mesh.face_normals
        c = tri.mean(axis=1)
        keep = ((c >= lo - 1e-6) & (c <= hi + 1e-6)).all(axis=1) & (normals @ towards_camera > 0)
        tri, normals = tri[keep], normals[keep]
        if len(tri) > max_faces:
            idx = np.linspace(0, len(tri) - 1, max_faces).astype(int)
            tri, normals = tri[idx], normals[idx]
        base = highlight.get(o.name) or _colour(o.label)
        rgb = np.array([int(base[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0
        shade = 0.55 + 0.45 * np.clip(normals @ light, 0, 1)
        tris.append(tri)
        colours.append(np.clip(rgb[None, :] * shade[:, None], 0, 1))
        edges += [highlight.get(o.name, "none")] * len(tri)
    if tris:
        ax.add_collection3d(
            Poly3DCollection(np.concatenate(tris), facecolors=np.concatenate(colours), edgecolors=edges, linewidths=0.2)
        )
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(lo[2], hi[2])
    ax.set_box_aspect(np.maximum(hi - lo, 1e-3))
    ax.view_init(elev=elev, azim=azim)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)


def _crop(scene: Scene, names: list[str], margin: float = 0.5) -> tuple[np.ndarray, set[str]]:
    """Bounds around the edited objects, and the objects to draw there: those inside the bounds whose
    carriers are drawn too (nothing floats), plus the floor."""
    objs = [scene[n] for n in names if n in scene] or [o for o in scene if o.label != "floor"] or list(scene)
    lo = np.min([o.bounds[0] for o in objs], axis=0) - margin
    hi = np.max([o.bounds[1] for o in objs], axis=0) + margin
    full = scene.bounds()
    lo, hi = np.maximum(lo, full[0]), np.minimum(hi, full[1])
    lo[2] = full[0, 2]
    inside = {
        o.name
        for o in scene
        if o.label == "floor" or ((o.bounds[0, :2] >= lo[:2] - 1e-6).all() and (o.bounds[1, :2] <= hi[:2] + 1e-6).all())
    }
    inside |= {n for n in names if n in scene}
    graph = scene.support_graph()
    carriers = {n: [lo_ for lo_, ups in graph.items() if n in ups] for n in scene.objects}
    changed = True
    while changed:
        changed = False
        for n in list(inside):
            if carriers[n] and not any(c in inside for c in carriers[n]):
                inside.discard(n)
                changed = True
    drawn = [scene[n] for n in inside]
    hi = np.maximum(hi, np.max([o.bounds[1] for o in drawn if o.label != "floor"] or [hi], axis=0))
    return np.array([lo, hi]), inside


def render_edit(result: EditResult, path: str | Path, dpi: int = 130, whole: bool = False) -> Path:
    """Save a before/after picture of an edit (PNG or PDF by suffix): added objects green, removed red,
    moved orange."""
    plt = _pyplot()
    before, after = result.before, result.after
    focus = result.added + result.removed + result.moved
    if result.placement is not None:
        focus.append(result.placement.support)
    both = Scene({**before.objects, **{k: v for k, v in after.objects.items() if k not in before.objects}})
    bounds, keep = (both.bounds(), set(both.objects)) if whole else _crop(both, focus)
    before = Scene({k: v for k, v in before.objects.items() if k in keep})
    after = Scene({k: v for k, v in after.objects.items() if k in keep})
    fig = plt.figure(figsize=(11, 5.2))
    ax1 = fig.add_subplot(1, 2, 1, projection="3d")
    ax2 = fig.add_subplot(1, 2, 2, projection="3d")
    _draw(ax1, before, {n: REMOVED for n in result.removed} | {n: MOVED for n in result.moved}, bounds, "before")
    _draw(ax2, after, {n: ADDED for n in result.added} | {n: MOVED for n in result.moved}, bounds, "after")
    parts = [f"+{n}" for n in result.added] + [f"−{n}" for n in result.removed] + [f"↓{n}" for n in result.moved]
    fig.suptitle(f"“{result.prompt}”   " + "  ".join(parts), fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def render_scene(scene: Scene, path: str | Path, title: str = "", dpi: int = 130) -> Path:
    plt = _pyplot()
    fig = plt.figure(figsize=(6, 5))
    ax = fig.add_subplot(1, 1, 1, projection="3d")
    _draw(ax, scene, {}, scene.bounds(), title)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


def object_views(mesh: trimesh.Trimesh, views: int = 3, size: int = 224) -> list[Any]:
    """``views`` RGB images (PIL) of one mesh from around it, on white."""
    from PIL import Image

    plt = _pyplot()
    one = Scene()
    one.add_mesh("object", mesh)
    b = mesh.bounds
    pad = 0.1 * float(max(mesh.extents))
    bounds = np.array([b[0] - pad, b[1] + pad])
    out = []
    for k in range(views):
        fig = plt.figure(figsize=(size / 100, size / 100), dpi=100)
        ax = fig.add_subplot(1, 1, 1, projection="3d")
        _draw(ax, one, {}, bounds, "", elev=25.0, azim=-60.0 + 360.0 * k / views)
        fig.canvas.draw()
        out.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()))
        plt.close(fig)
    return out
