"""Training-free editing of 3-D mesh scenes from a text prompt: insertion, replacement and deletion (FreeEdit).

After "Towards a Training Free Approach for 3D Scene Editing" (Madhavaram et al., WACV 2025, arXiv
2412.12766). This is scene editing, not model unlearning: a deletion here removes an object — and what
rests on it — from an explicit mesh scene, with a record of what was removed. Nothing here imports the
unlearning engine, and the engine does not import this package. Needs the ``scene`` extra
(``pip install 'unlearnkit[scene]'``: trimesh).

    >>> from unlearnkit.scene import SceneEditor, demo_scene
    >>> result = SceneEditor().edit(demo_scene(), "put a mug on the table")
    >>> result.added
    ['mug_0']
"""

from __future__ import annotations

try:
    import trimesh  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from unlearnkit.errors import ConfigError

    raise ConfigError("unlearnkit.scene needs the 'scene' extra: pip install 'unlearnkit[scene]'") from exc

from unlearnkit.scene.demo import demo_scene, random_scene
from unlearnkit.scene.edit import DeletionRecord, EditorConfig, EditResult, SceneEditor
from unlearnkit.scene.ground import ClipGrounder, Grounder, LabelGrounder
from unlearnkit.scene.io import from_fused, load_scene, save_scene
from unlearnkit.scene.library import MeshFileSource, MeshLibrary, ObjectSource, ShapESource
from unlearnkit.scene.model import Scene, SceneError, SceneObject
from unlearnkit.scene.parse import EditCommand, LLMParser, Parser, RuleParser
from unlearnkit.scene.placement import Placement, PlacementConfig, naive_place, place
from unlearnkit.scene.scale import ImageRatioScale, PriorScale, ScaleEstimator

__all__ = [
    "ClipGrounder",
    "DeletionRecord",
    "EditCommand",
    "EditResult",
    "EditorConfig",
    "Grounder",
    "ImageRatioScale",
    "LLMParser",
    "LabelGrounder",
    "MeshFileSource",
    "MeshLibrary",
    "ObjectSource",
    "Parser",
    "Placement",
    "PlacementConfig",
    "PriorScale",
    "RuleParser",
    "ScaleEstimator",
    "Scene",
    "SceneEditor",
    "SceneError",
    "SceneObject",
    "ShapESource",
    "demo_scene",
    "from_fused",
    "load_scene",
    "naive_place",
    "place",
    "random_scene",
    "save_scene",
]
