"""Images for image backbones (ViT): arrays, ``.npy`` files, a folder per class, torchvision datasets.

Preprocessing is fixed, never fitted on deletable rows: pixels scaled to [0, 1] (uint8 / 255, or by a
given ``scale``), resized to the backbone's image size, and normalised with the *pretrained* image
processor's mean/std when the backbone ships a ``preprocessor_config.json``. An optional ``transform``
(e.g. a torchvision transform) is applied once per image at load time. torchvision itself is optional
(``pip install 'unlearnkit[vision]'``); :func:`torchvision_arrays` downloads CIFAR-10/MNIST only when a
user calls it, never in tests.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unlearnkit.data.dataset import IdDataset
from unlearnkit.data.external_ids import encode_labels, encoded_dataset
from unlearnkit.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
VISION_HINT = "torchvision datasets need torchvision: pip install 'unlearnkit[vision]'"


def _normalisation(backbone: Any) -> tuple[list[float], list[float]] | None:
    for where in (getattr(backbone, "assets", None), getattr(backbone, "source", None)):
        if where and (Path(where) / "preprocessor_config.json").is_file():
            cfg = json.loads((Path(where) / "preprocessor_config.json").read_text())
            if cfg.get("do_normalize", True) and "image_mean" in cfg and "image_std" in cfg:
                return list(cfg["image_mean"]), list(cfg["image_std"])
    return None


def preprocess_images(
    backbone: Any,
    images: np.ndarray | torch.Tensor,
    *,
    scale: float | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Images (n, H, W), (n, H, W, C) or (n, C, H, W) → flat float rows (n, C·H·W) for ``backbone``."""
    shape = getattr(backbone, "image_shape", None)
    if not shape:
        raise DataError(f"{getattr(backbone, 'source', backbone)} is not an image backbone")
    c, h, w = shape
    arr = torch.as_tensor(np.asarray(images))
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[1] not in (1, 3) and arr.shape[-1] in (1, 3):
        arr = arr.permute(0, 3, 1, 2)
    if arr.ndim != 4:
        raise DataError(f"images must be (n, H, W), (n, H, W, C) or (n, C, H, W), got {tuple(arr.shape)}")
    if scale is None:
        scale = 255.0 if arr.dtype == torch.uint8 else 1.0
    x = arr.float() / scale
    if not torch.isfinite(x).all():
        raise DataError("images contain NaN or infinite values")
    if transform is not None:
        x = torch.stack([torch.as_tensor(transform(img)) for img in x])
    if x.shape[1] != c:
        if x.shape[1] == 1 and c == 3:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] == 3 and c == 1:
            x = x.mean(dim=1, keepdim=True)
        else:
            raise DataError(f"images have {x.shape[1]} channels, the backbone takes {c}")
    if tuple(x.shape[2:]) != (h, w):
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    norm = _normalisation(backbone)
    if norm is not None:
        mean, std = (torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1)[:, :c] for v in norm)
        x = (x - mean) / std
    return x.reshape(len(x), -1).contiguous()


def image_dataset(
    backbone: Any,
    images: np.ndarray | torch.Tensor,
    labels: Sequence[Any],
    *,
    ids: Sequence[Any] | None = None,
    owners: Sequence[str | None] | None = None,
    label_names: Sequence[str] | None = None,
    num_classes: int | None = None,
    scale: float | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    name: str = "images",
) -> IdDataset:
    """An :class:`IdDataset` of preprocessed images (ids may be external strings, labels names)."""
    x = preprocess_images(backbone, images, scale=scale, transform=transform)
    if len(labels) != len(x):
        raise DataError(f"{name}: {len(labels)} labels for {len(x)} images")
    y, names, k = encode_labels(list(labels), label_names, num_classes, name)
    inferred = num_classes is None and label_names is None  # k = max(label) + 1 of these rows
    return encoded_dataset(x, y, ids, owners, names, k, name, "inferred" if inferred else "declared")


def load_npy(
    images_path: str | Path,
    labels_path: str | Path,
    backbone: Any,
    *,
    label_names: Sequence[str] | None = None,
    **kwargs: Any,
) -> IdDataset:
    """Images from one ``.npy`` array and labels from another (ints, or names with ``label_names``)."""
    for p in (images_path, labels_path):
        if not Path(p).is_file():
            raise DataError(f"{p}: no such file")
    images = np.load(images_path, allow_pickle=False)
    labels = np.load(labels_path, allow_pickle=False).tolist()
    return image_dataset(backbone, images, labels, label_names=label_names, name=Path(images_path).stem, **kwargs)


def load_image_folder(
    root: str | Path, backbone: Any, *, label_names: Sequence[str] | None = None, **kwargs: Any
) -> IdDataset:
    """``root/<class>/<image>``: the class is the folder, the external id the relative path.

    The label set is ``label_names`` when given, else the sorted class folder names (declared by the
    directory layout, not by the images: pass ``label_names`` to keep it fixed if folders may vanish).
    """
    from PIL import Image

    r = Path(root)
    if not r.is_dir():
        raise DataError(f"{r}: not a directory")
    classes = sorted(d.name for d in r.iterdir() if d.is_dir())
    if not classes:
        raise DataError(f"{r}: no class folders")
    names = list(label_names) if label_names is not None else classes
    files = [(f, d) for d in classes for f in sorted((r / d).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"{r}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders")
    mode = "L" if backbone.image_shape[0] == 1 else "RGB"
    size = tuple(backbone.image_shape[1:])[::-1]
    arrays = [np.asarray(Image.open(f).convert(mode).resize(size)) for f, _ in files]
    data = image_dataset(
        backbone,
        np.stack(arrays),
        [d for _, d in files],
        ids=[str(f.relative_to(r)) for f, _ in files],
        label_names=names,
        name=r.name,
        **kwargs,
    )
    if label_names is None:  # class folders of deletable images: deleting a lone image's folder changes the set
        data = dataclasses.replace(data, label_source="inferred", _pos={})
    return data


def torchvision_arrays(
    name: str, root: str | Path, *, train: bool = True, download: bool = True
) -> tuple[np.ndarray, list[int], list[str]]:
    """``(uint8 images, labels, class names)`` of a torchvision dataset (``cifar10``, ``mnist``), user side.

    Downloads into ``root`` when ``download`` (the user's choice; nothing in the library calls this).
    """
    try:
        import torchvision
    except ImportError:
        raise ConfigError(VISION_HINT) from None
    classes = {"cifar10": torchvision.datasets.CIFAR10, "mnist": torchvision.datasets.MNIST}
    if name.lower() not in classes:
        raise ConfigError(f"unknown torchvision dataset {name!r}; choose one of {', '.join(classes)}")
    ds = classes[name.lower()](root=str(root), train=train, download=download)
    data = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
    return data.astype(np.uint8), [int(t) for t in ds.targets], list(ds.classes)
