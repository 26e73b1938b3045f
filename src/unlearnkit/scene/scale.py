"""Stage 4, scale: how big the new object should be next to its support.

FreeEdit generates up to 5 images of "<support>. <object>." (Stable Diffusion 2-base, 25 steps), detects
both (GroundingDINO, box/text thresholds 0.35/0.25), takes the width ratio w_P / w_G floored to 0.01, keeps
ratios ≤ 0.22, uses the smallest kept one (0.12 if none) and scales the object uniformly by
ratio · min(G_x / P_x, G_y / P_y). :class:`PriorScale` (default) uses the size-prior table instead and falls
back to FreeEdit's 0.12 rule for a category it does not know; :class:`ImageRatioScale` is FreeEdit's
estimate over any image generator and detector (:meth:`ImageRatioScale.from_pretrained` wires local ones).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import trimesh

from unlearnkit.scene.library import MeshLibrary
from unlearnkit.scene.model import SceneError, SceneObject

#: FreeEdit's constants: keep width ratios up to 0.22, fall back to 0.12, draw at most 5 images.
MAX_RATIO, FALLBACK_RATIO, MAX_IMAGES = 0.22, 0.12, 5


@runtime_checkable
class ScaleEstimator(Protocol):
    def scale(self, label: str, mesh: trimesh.Trimesh, support: SceneObject) -> float: ...


def paper_ratio(width_ratios: Sequence[float]) -> float:
    """FreeEdit's ratio: floor each to 0.01, keep those in (0, 0.22], take the minimum; 0.12 if none survive."""
    kept = [math.floor(r * 100) / 100 for r in width_ratios if r > 0]
    kept = [r for r in kept if 0 < r <= MAX_RATIO]
    return min(kept) if kept else FALLBACK_RATIO


def ratio_to_scale(ratio: float, mesh: trimesh.Trimesh, support: SceneObject) -> float:
    """Uniform factor ratio · min(G_x / P_x, G_y / P_y)."""
    g, p = support.mesh.extents[:2], np.maximum(mesh.extents[:2], 1e-9)
    return float(ratio * min(g[0] / p[0], g[1] / p[1]))


class PriorScale:
    """Scale so the largest extent matches the category's size prior (library meshes already do: factor 1)."""

    def __init__(self, library: MeshLibrary | None = None) -> None:
        self.library = library or MeshLibrary(use_packaged=False)

    def scale(self, label: str, mesh: trimesh.Trimesh, support: SceneObject) -> float:
        prior = self.library.size_prior(label)
        if prior is None:
            return ratio_to_scale(FALLBACK_RATIO, mesh, support)
        return float(max(prior) / max(float(mesh.extents.max()), 1e-9))


Box = tuple[float, float, float, float]


class ImageRatioScale:
    """FreeEdit's image-based estimate.

    ``generate(prompt, n) -> images``; ``detect(image, [support, object]) -> {name: (x0, y0, x1, y1)}`` with
    the names it found. Each image with both boxes gives a width ratio.
    """

    def __init__(
        self,
        generate: Callable[[str, int], Sequence[Any]],
        detect: Callable[[Any, Sequence[str]], dict[str, Box]],
        images: int = MAX_IMAGES,
    ) -> None:
        self.generate, self.detect, self.images = generate, detect, images

    def ratios(self, label: str, support: SceneObject) -> list[float]:
        out = []
        for image in self.generate(f"{support.label}. {label}.", self.images):
            boxes = self.detect(image, [support.label, label])
            if support.label in boxes and label in boxes:
                wg = boxes[support.label][2] - boxes[support.label][0]
                wp = boxes[label][2] - boxes[label][0]
                if wg > 0:
                    out.append(wp / wg)
        return out

    def scale(self, label: str, mesh: trimesh.Trimesh, support: SceneObject) -> float:
        return ratio_to_scale(paper_ratio(self.ratios(label, support)), mesh, support)

    @classmethod
    def from_pretrained(
        cls,
        sd_path: str,
        dino_path: str,
        steps: int = 25,
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        device: str = "cpu",
        seed: int = 0,
    ) -> ImageRatioScale:
        """Stable Diffusion (``diffusers``) and GroundingDINO (``transformers``) from local checkpoints."""
        try:
            import torch
            from diffusers import StableDiffusionPipeline
            from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor
        except ImportError:
            raise SceneError("the image-based scale needs diffusers and transformers: pip install diffusers") from None
        pipe = StableDiffusionPipeline.from_pretrained(sd_path).to(device)
        proc = AutoProcessor.from_pretrained(dino_path)
        dino = AutoModelForZeroShotObjectDetection.from_pretrained(dino_path).to(device).eval()
        gen = torch.Generator(device).manual_seed(seed)

        def generate(prompt: str, n: int) -> list[Any]:
            return list(pipe(prompt, num_inference_steps=steps, num_images_per_prompt=n, generator=gen).images)

        def detect(image: Any, names: Sequence[str]) -> dict[str, Box]:
            inputs = proc(images=image, text=". ".join(names) + ".", return_tensors="pt").to(device)
            with torch.no_grad():
                out = dino(**inputs)
            res = proc.post_process_grounded_object_detection(
                out,
                inputs.input_ids,
                threshold=box_threshold,
                text_threshold=text_threshold,
                target_sizes=[image.size[::-1]],
            )[0]
            found: dict[str, Box] = {}
            for box, lab, _score in sorted(
                zip(res["boxes"].tolist(), res["labels"], res["scores"].tolist(), strict=True), key=lambda t: -t[2]
            ):
                for name in names:
                    if name in str(lab) and name not in found:
                        found[name] = tuple(box)  # type: ignore[assignment]
            return found

        return cls(generate, detect)
