"""Stage 3, ground: which object of the scene a phrase means.

FreeEdit matches the CLIP (ViT-L/14@336px) text embedding of the name against per-instance CLIP features
precomputed by OpenMask3D. :class:`LabelGrounder` (default) uses the scene's instance labels: the instance
name itself, the label, a synonym, the head noun, then a fuzzy match; an optional context ("the mug *on the
shelf*") keeps the candidates resting on that object. :class:`ClipGrounder` scores objects by cosine
similarity of embeddings: per-instance features the user precomputed, or views of each object rendered here
and embedded by a local CLIP (:meth:`ClipGrounder.from_pretrained`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from unlearnkit.scene.library import MeshLibrary, resolve_name
from unlearnkit.scene.model import Scene, SceneError, SceneObject

Role = Literal["support", "target"]


@runtime_checkable
class Grounder(Protocol):
    def ground(self, phrase: str, scene: Scene, role: Role, context: str | None = None) -> str: ...


def _top_area(o: SceneObject) -> float:
    return float(np.prod(o.mesh.extents[:2]))


class LabelGrounder:
    """Instance labels, synonyms and fuzzy matching. Several candidates: the support with the largest top
    wins; a target must be unambiguous (or narrowed by its context)."""

    def __init__(self, library: MeshLibrary | None = None, cutoff: float = 0.75) -> None:
        self.library = library or MeshLibrary(use_packaged=False)
        self.cutoff = cutoff

    def candidates(self, phrase: str, scene: Scene) -> list[str]:
        phrase = phrase.strip().lower()
        direct = re.sub(r"\s+(\d+)$", r"_\1", phrase).replace(" ", "_")
        if direct in scene:
            return [direct]
        vocab: dict[str, str] = {}
        for o in scene:
            vocab[o.label] = o.label
            for syn in o.synonyms:
                vocab[syn] = o.label
            canon = self.library.resolve(o.label)
            if canon is not None:
                vocab[canon] = o.label
                for syn, target in self.library.vocabulary.items():
                    if target == canon:
                        vocab.setdefault(syn, o.label)
        label = resolve_name(phrase, vocab, cutoff=self.cutoff)
        if label is None:  # "the table" for a "coffee table": the same head noun
            head = phrase.split()[-1] if phrase else ""
            return [o.name for o in scene if o.label.split()[-1:] == [head]]
        return [o.name for o in scene if o.label == label]

    def ground(self, phrase: str, scene: Scene, role: Role, context: str | None = None) -> str:
        names = self.candidates(phrase, scene)
        if not names:
            raise SceneError(f"nothing in the scene matches {phrase!r} (objects: {', '.join(scene.objects)})")
        if len(names) > 1 and context:
            places = set(self.candidates(context, scene))
            graph = scene.support_graph()
            narrowed = [n for n in names if any(n in graph[p] for p in places)]
            names = narrowed or names
        if len(names) == 1:
            return names[0]
        if role == "support":
            return max(names, key=lambda n: (_top_area(scene[n]), n))
        raise SceneError(f"{phrase!r} matches {', '.join(names)}: name one of them (e.g. 'remove {names[-1]}')")


Embedder = Callable[[Sequence[str]], np.ndarray]


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class ClipGrounder:
    """Cosine similarity between a text embedding and one embedding per object (FreeEdit's stage 3).

    ``embed_text(phrases) -> (n, d)``; ``features``: object name → (d,) precomputed per instance (OpenMask3D
    style), or ``embed_object(obj) -> (d,)`` to compute them (e.g. from rendered views). Objects the features
    do not cover are skipped; a target's best score must beat the runner-up by ``margin``.
    """

    def __init__(
        self,
        embed_text: Embedder,
        features: dict[str, np.ndarray] | None = None,
        embed_object: Callable[[SceneObject], np.ndarray] | None = None,
        margin: float = 0.0,
    ) -> None:
        if features is None and embed_object is None:
            raise SceneError("a CLIP grounder needs precomputed features or an object embedder")
        self.embed_text = embed_text
        self.features = dict(features or {})
        self.embed_object = embed_object
        self.margin = margin

    def scores(self, phrase: str, scene: Scene) -> dict[str, float]:
        text = _unit(self.embed_text([phrase]))[0]
        out = {}
        for o in scene:
            feat = self.features.get(o.name)
            if feat is None and self.embed_object is not None:
                feat = self.features[o.name] = np.asarray(self.embed_object(o))
            if feat is not None:
                out[o.name] = float(_unit(feat) @ text)
        return out

    def ground(self, phrase: str, scene: Scene, role: Role, context: str | None = None) -> str:
        scores = self.scores(phrase, scene)
        if not scores:
            raise SceneError("no object of the scene has a CLIP feature")
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        if role == "target" and len(ranked) > 1 and ranked[0][1] - ranked[1][1] < self.margin:
            raise SceneError(f"{phrase!r} is ambiguous: {ranked[0][0]} and {ranked[1][0]} score alike")
        return ranked[0][0]

    @classmethod
    def from_pretrained(cls, path: str, views: int = 3, device: str = "cpu", margin: float = 0.0) -> ClipGrounder:
        """A local CLIP (``transformers``); each object is embedded as the mean of ``views`` rendered views."""
        try:
            import torch
            from transformers import CLIPModel, CLIPProcessor
        except ImportError:
            raise SceneError("the CLIP grounder needs transformers: pip install 'unlearnkit[llm]'") from None
        from unlearnkit.scene.render import object_views

        model = CLIPModel.from_pretrained(path).to(device).eval()
        proc = CLIPProcessor.from_pretrained(path)

        def embed_text(phrases: Sequence[str]) -> np.ndarray:
            batch = proc(text=[f"a photo of a {p}" for p in phrases], return_tensors="pt", padding=True)
            with torch.no_grad():
                return model.get_text_features(**{k: v.to(device) for k, v in batch.items()}).cpu().numpy()

        def embed_object(obj: SceneObject) -> np.ndarray:
            batch = proc(images=object_views(obj.mesh, views), return_tensors="pt")
            with torch.no_grad():
                feats = model.get_image_features(pixel_values=batch["pixel_values"].to(device)).cpu().numpy()
            return _unit(feats).mean(axis=0)

        return cls(embed_text, embed_object=embed_object, margin=margin)
