"""Stage 2, synthesise: where a new object's mesh comes from, and how big such a thing usually is.

FreeEdit makes the primary object with Shap-E (``text300M`` + ``transmitter``, guidance 15, 64 Karras steps).
Offline, :class:`MeshLibrary` builds objects from ``trimesh`` primitives (a mug is a cylinder with a torus
handle, a table a top on four legs) at the size of a size-prior table, and uses real meshes from
``pybullet_data`` (mug, teddy bear, duck, bunny, table, tray, …) when that package is installed
(``pip install 'unlearnkit[scene-assets]'``). :class:`ShapESource` wraps a local Shap-E through ``diffusers``.

Every source returns a mesh in the *canonical frame*: z up, the lowest point at z = 0, the x-y bounding box
centred on the origin, in metres.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import trimesh
from trimesh.creation import box, cone, cylinder, icosphere, revolve, torus

from unlearnkit.scene.model import SceneError

Size = tuple[float, float, float]


def canonical(mesh: trimesh.Trimesh, size: Size | None = None) -> trimesh.Trimesh:
    """Centre the x-y bounding box on the origin, put the lowest point at z = 0 and, given ``size``, stretch
    each axis to it."""
    mesh = mesh.copy()
    lo, hi = mesh.bounds
    mesh.apply_translation([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2]])
    if size is not None:
        ext = np.maximum(mesh.extents, 1e-9)
        mesh.apply_transform(np.diag([*(np.asarray(size, dtype=float) / ext), 1.0]))
    return mesh


def _at(mesh: trimesh.Trimesh, x: float = 0.0, y: float = 0.0, z: float = 0.0) -> trimesh.Trimesh:
    mesh.apply_translation([x, y, z])
    return mesh


def _join(*parts: trimesh.Trimesh) -> trimesh.Trimesh:
    return trimesh.util.concatenate(list(parts))


def _slab(x: float, y: float, z: float, at: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    """A box of extents (x, y, z) whose bottom centre is at ``at``."""
    return _at(box((x, y, z)), at[0], at[1], at[2] + z / 2)


def _legged(w: float, d: float, h: float, top: float = 0.04, leg: float = 0.05) -> trimesh.Trimesh:
    legs = [_slab(leg, leg, h - top, (sx * (w - leg) / 2, sy * (d - leg) / 2, 0.0)) for sx in (-1, 1) for sy in (-1, 1)]
    return _join(_slab(w, d, top, (0, 0, h - top)), *legs)


def _revolved(profile: list[tuple[float, float]], sections: int = 32) -> trimesh.Trimesh:
    """A closed solid of revolution from (radius, height) pairs running from the axis at the bottom to the
    axis at the top."""
    return revolve(np.asarray(profile, dtype=float), sections=sections)


def _mug() -> trimesh.Trimesh:
    body = _at(cylinder(0.04, 0.10, sections=32), z=0.05)
    handle = torus(0.025, 0.007, major_sections=24, minor_sections=8)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    return _join(body, _at(handle, x=0.045, z=0.05))


def _lamp() -> trimesh.Trimesh:
    base = _at(cylinder(0.09, 0.02, sections=32), z=0.01)
    pole = _at(cylinder(0.01, 0.3, sections=12), z=0.17)
    shade = _at(cone(0.12, 0.15, sections=32), z=0.30)
    return _join(base, pole, shade)


def _plant() -> trimesh.Trimesh:
    pot = _revolved([(0, 0), (0.08, 0), (0.10, 0.16), (0, 0.16)])
    leaves = _at(icosphere(2, radius=0.12), z=0.27)
    return _join(pot, leaves)


def _chair() -> trimesh.Trimesh:
    return _join(_legged(0.45, 0.45, 0.46, top=0.05, leg=0.04), _slab(0.45, 0.05, 0.44, (0, 0.2, 0.46)))


def _shelf() -> trimesh.Trimesh:
    w, d, h, t = 0.8, 0.35, 1.6, 0.03
    sides = [_slab(t, d, h, (sx * (w - t) / 2, 0, 0)) for sx in (-1, 1)]
    boards = [_slab(w - 2 * t, d, t, (0, 0, z)) for z in (0.0, 0.52, 1.04, h - t)]
    back = _slab(w, 0.01, h, (0, d / 2 - 0.005, 0))
    return _join(*sides, *boards, back)


def _sofa() -> trimesh.Trimesh:
    return _join(
        _slab(2.0, 0.9, 0.42),
        _slab(2.0, 0.2, 0.4, (0, 0.35, 0.42)),
        _slab(0.2, 0.7, 0.2, (-0.9, -0.1, 0.42)),
        _slab(0.2, 0.7, 0.2, (0.9, -0.1, 0.42)),
    )


def _laptop() -> trimesh.Trimesh:
    screen = box((0.34, 0.012, 0.22))
    screen.apply_transform(trimesh.transformations.rotation_matrix(-0.3, [1, 0, 0]))
    return _join(_slab(0.34, 0.24, 0.02), _at(screen, y=0.14, z=0.12))


def _teddy() -> trimesh.Trimesh:
    parts = [
        _at(icosphere(2, 0.08), z=0.08),
        _at(icosphere(2, 0.055), z=0.2),
        _at(icosphere(1, 0.02), x=-0.04, z=0.25),
        _at(icosphere(1, 0.02), x=0.04, z=0.25),
    ]
    parts += [_at(icosphere(1, 0.03), x=sx * 0.08, z=0.1) for sx in (-1, 1)]
    parts += [_at(icosphere(1, 0.032), x=sx * 0.05, y=-0.06, z=0.032) for sx in (-1, 1)]
    return _join(*parts)


@dataclass(frozen=True)
class Asset:
    """A category: its typical size (x, y, z in metres), how to build it, other names, whether things go on it."""

    label: str
    size: Size
    build: Callable[[], trimesh.Trimesh]
    synonyms: tuple[str, ...] = ()
    support: bool = False


_ASSETS: tuple[Asset, ...] = (
    Asset("mug", (0.11, 0.08, 0.10), _mug, ("coffee mug", "tea mug", "coffee cup", "mug cup")),
    Asset(
        "cup",
        (0.07, 0.07, 0.09),
        lambda: _revolved([(0, 0), (0.03, 0), (0.035, 0.09), (0, 0.09)]),
        ("glass", "tumbler", "drinking glass"),
    ),
    Asset(
        "bowl",
        (0.16, 0.16, 0.07),
        lambda: _revolved([(0, 0), (0.04, 0), (0.08, 0.07), (0, 0.07)]),
        ("salad bowl", "dish"),
    ),
    Asset("plate", (0.24, 0.24, 0.02), lambda: _at(cylinder(0.12, 0.02, sections=40), z=0.01), ("dinner plate",)),
    Asset(
        "vase",
        (0.12, 0.12, 0.30),
        lambda: _revolved([(0, 0), (0.04, 0), (0.06, 0.1), (0.025, 0.25), (0.04, 0.3), (0, 0.3)]),
        ("flower vase", "urn"),
    ),
    Asset(
        "bottle",
        (0.07, 0.07, 0.26),
        lambda: _revolved([(0, 0), (0.035, 0), (0.035, 0.17), (0.013, 0.22), (0.013, 0.26), (0, 0.26)]),
        ("wine bottle", "water bottle"),
    ),
    Asset("book", (0.22, 0.15, 0.04), lambda: _slab(0.22, 0.15, 0.04), ("novel", "notebook", "textbook")),
    Asset("box", (0.30, 0.30, 0.25), lambda: _slab(0.3, 0.3, 0.25), ("crate", "carton", "package", "cube")),
    Asset("laptop", (0.34, 0.24, 0.22), _laptop, ("computer", "notebook computer", "macbook")),
    Asset("lamp", (0.24, 0.24, 0.45), _lamp, ("table lamp", "desk lamp", "light")),
    Asset("plant", (0.24, 0.24, 0.42), _plant, ("potted plant", "houseplant", "flower pot", "flowers", "pot plant")),
    Asset("ball", (0.2, 0.2, 0.2), lambda: icosphere(3, 0.1), ("football", "soccer ball", "basketball", "globe")),
    Asset("apple", (0.08, 0.08, 0.08), lambda: icosphere(2, 0.04), ("fruit", "orange")),
    Asset("teddy bear", (0.2, 0.16, 0.27), _teddy, ("teddy", "stuffed animal", "toy bear", "plush toy")),
    Asset("clock", (0.2, 0.06, 0.2), lambda: _slab(0.2, 0.06, 0.2), ("alarm clock",)),
    Asset(
        "duck",
        (0.12, 0.09, 0.1),
        lambda: _join(_at(icosphere(2, 0.045), z=0.045), _at(icosphere(2, 0.028), x=0.035, z=0.085)),
        ("rubber duck",),
    ),
    Asset(
        "bunny",
        (0.1, 0.14, 0.15),
        lambda: _join(
            _at(icosphere(2, 0.05), z=0.05),
            _at(icosphere(2, 0.03), z=0.11),
            *(_at(_slab(0.012, 0.02, 0.05), x=sx * 0.012, z=0.13) for sx in (-1, 1)),
        ),
        ("rabbit", "stanford bunny"),
    ),
    Asset("candle", (0.06, 0.06, 0.15), lambda: _at(cylinder(0.03, 0.15, sections=24), z=0.075), ()),
    Asset("tray", (0.45, 0.32, 0.03), lambda: _slab(0.45, 0.32, 0.03), ("serving tray",), support=True),
    Asset("table", (1.2, 0.8, 0.75), partial(_legged, 1.2, 0.8, 0.75), ("dining table", "kitchen table"), support=True),
    Asset("desk", (1.4, 0.7, 0.74), partial(_legged, 1.4, 0.7, 0.74), ("writing desk", "work desk"), support=True),
    Asset("coffee table", (1.0, 0.6, 0.45), partial(_legged, 1.0, 0.6, 0.45), ("low table",), support=True),
    Asset(
        "side table",
        (0.5, 0.5, 0.55),
        partial(_legged, 0.5, 0.5, 0.55),
        ("nightstand", "end table", "bedside table"),
        support=True,
    ),
    Asset("chair", (0.45, 0.45, 0.9), _chair, ("seat", "dining chair"), support=True),
    Asset("shelf", (0.8, 0.35, 1.6), _shelf, ("bookshelf", "bookcase", "shelves", "shelving"), support=True),
    Asset("sofa", (2.0, 0.9, 0.82), _sofa, ("couch", "settee"), support=True),
    Asset(
        "bed",
        (2.0, 1.6, 0.5),
        lambda: _join(_slab(2.0, 1.6, 0.5), _slab(0.1, 1.6, 0.5, (-0.95, 0, 0.5))),
        ("double bed",),
        support=True,
    ),
)


@runtime_checkable
class ObjectSource(Protocol):
    """Makes a mesh (canonical frame, metres) for a category name; returns the name it resolved to."""

    def make(self, name: str) -> tuple[str, trimesh.Trimesh]: ...


def resolve_name(name: str, vocabulary: dict[str, str], cutoff: float = 0.8) -> str | None:
    """Map a noun phrase onto ``vocabulary`` (alias → canonical): exact, then the head noun(s), then fuzzy."""
    name = name.strip().lower()
    if name in vocabulary:
        return vocabulary[name]
    words = name.split()
    for k in range(1, len(words)):
        tail = " ".join(words[k:])
        if tail in vocabulary:
            return vocabulary[tail]
    for cand in (name, *(" ".join(words[k:]) for k in range(1, len(words)))):
        close = difflib.get_close_matches(cand, list(vocabulary), n=1, cutoff=cutoff)
        if close:
            return vocabulary[close[0]]
    return None


#: Objects from ``pybullet_data`` (path, rotation about x to make z up) by category.
PYBULLET_ASSETS: dict[str, tuple[str, float]] = {
    "mug": ("objects/mug.obj", 0.0),
    "teddy bear": ("teddy2_VHACD_CHs.obj", np.pi / 2),
    "duck": ("duck_vhacd.obj", np.pi / 2),
    "bunny": ("bunny.obj", 0.0),
    "tray": ("tray/tray_textured.obj", 0.0),
}


class MeshLibrary:
    """Categories with size priors, built from primitives; with ``use_packaged=True``, the categories that
    ``pybullet_data`` has a real mesh for (:data:`PYBULLET_ASSETS`) use it, scaled to the prior's largest extent."""

    def __init__(self, assets: tuple[Asset, ...] = _ASSETS, use_packaged: bool = False) -> None:
        self.assets = {a.label: a for a in assets}
        self.vocabulary = {a.label: a.label for a in assets} | {s: a.label for a in assets for s in a.synonyms}
        self._packaged = packaged_assets_dir() if use_packaged else None
        if use_packaged and self._packaged is None:
            raise SceneError("packaged meshes need pybullet: pip install 'unlearnkit[scene-assets]'")

    def resolve(self, name: str) -> str | None:
        return resolve_name(name, self.vocabulary)

    def size_prior(self, name: str) -> Size | None:
        label = self.resolve(name)
        return None if label is None else self.assets[label].size

    def is_support(self, name: str) -> bool:
        label = self.resolve(name)
        return bool(label and self.assets[label].support)

    def make(self, name: str) -> tuple[str, trimesh.Trimesh]:
        label = self.resolve(name)
        if label is None:
            known = ", ".join(sorted(self.assets))
            raise SceneError(
                f"no mesh for {name!r} in the offline library (known: {known}); give a mesh file or a text-to-3D model"
            )
        asset = self.assets[label]
        if self._packaged is not None and label in PYBULLET_ASSETS:
            rel, rot = PYBULLET_ASSETS[label]
            mesh = trimesh.load(self._packaged / rel, force="mesh", process=False)
            if rot:
                mesh.apply_transform(trimesh.transformations.rotation_matrix(rot, [1, 0, 0]))
            scale = max(asset.size) / max(mesh.extents)
            mesh.apply_scale(scale)
            return label, canonical(mesh)
        return label, canonical(asset.build(), asset.size)


def packaged_assets_dir() -> Path | None:
    """``pybullet_data``'s folder when ``pybullet`` is installed (its meshes are plain files; no physics runs)."""
    try:
        import pybullet_data
    except ImportError:
        return None
    return Path(pybullet_data.getDataPath())


class MeshFileSource:
    """A user-supplied mesh for the primary object (FreeEdit accepts one instead of running Shap-E)."""

    def __init__(self, path: str | Path, label: str | None = None) -> None:
        self.path = Path(path)
        self.label = label

    def make(self, name: str) -> tuple[str, trimesh.Trimesh]:
        try:
            mesh = trimesh.load(self.path, force="mesh")
        except Exception as exc:
            raise SceneError(f"{self.path}: cannot read the object mesh ({exc})") from None
        return self.label or name, canonical(mesh)


class ShapESource:
    """Shap-E text-to-3D (FreeEdit's stage 2) from a local ``diffusers`` checkpoint, e.g. ``openai/shap-e``.

    FreeEdit's settings: guidance 15, 64 Karras steps, σ ∈ [1e-3, 160] (diffusers' ``ShapEPipeline``
    defaults to the same scheduler). Shap-E's meshes are z-up. The size is left to the scale stage.
    """

    def __init__(
        self,
        path: str,
        guidance_scale: float = 15.0,
        steps: int = 64,
        frame_size: int = 64,
        device: str = "cpu",
        seed: int = 0,
    ) -> None:
        try:
            import torch
            from diffusers import ShapEPipeline
        except ImportError:
            raise SceneError("the Shap-E source needs diffusers: pip install diffusers") from None
        self.pipe = ShapEPipeline.from_pretrained(path).to(device)
        self.kw = {"guidance_scale": guidance_scale, "num_inference_steps": steps, "frame_size": frame_size}
        self.generator = torch.Generator(device).manual_seed(seed)

    def make(self, name: str) -> tuple[str, trimesh.Trimesh]:
        out = self.pipe(name, output_type="mesh", generator=self.generator, **self.kw).images[0]
        mesh = trimesh.Trimesh(out.verts.detach().cpu().numpy(), out.faces.detach().cpu().numpy(), process=True)
        return name, canonical(mesh)
