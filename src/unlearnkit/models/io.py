"""Saving and loading a monolithic model directory: ``model.safetensors`` plus ``model.json``.

Writes go to a temporary sibling directory that is renamed into place, so a crash never leaves a
half-written model directory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from unlearnkit.errors import DataError
from unlearnkit.models.zoo import ModelSpec, build_model

MODEL_FILE = "model.safetensors"
META_FILE = "model.json"


@contextmanager
def atomic_dir(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` only if the block succeeds."""
    dest = Path(path)
    if dest.exists() and not overwrite:
        raise DataError(f"{dest}: already exists (choose another --out or remove it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_model(
    directory: str | Path,
    model: nn.Module,
    spec: Any,
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a monolithic model (weights + spec + metadata) atomically.

    ``spec`` is a :class:`ModelSpec` (a classifier) or a :class:`~unlearnkit.models.regression.RegressorSpec`
    (recorded with ``"task": "regression"``).
    """
    from unlearnkit.models.regression import RegressorSpec

    task = {"task": "regression"} if isinstance(spec, RegressorSpec) else {}
    with atomic_dir(directory, overwrite=overwrite) as tmp:
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / MODEL_FILE))
        (tmp / META_FILE).write_text(
            json.dumps({"kind": "standard", "spec": spec.to_dict(), **(meta or {}), **task}, indent=2, sort_keys=True)
        )
    return Path(directory)


def load_model(directory: str | Path) -> tuple[nn.Module, Any, dict[str, Any]]:
    """Load what :func:`save_model` wrote: ``(model, spec, metadata)`` (a regressor when ``task`` says so)."""
    d = Path(directory)
    if not (d / META_FILE).is_file() or not (d / MODEL_FILE).is_file():
        raise DataError(f"{d}: not a monolithic model directory (no {META_FILE}/{MODEL_FILE})")
    meta = json.loads((d / META_FILE).read_text())
    if meta.get("task") == "regression":
        from unlearnkit.models.regression import RegressorSpec, build_regressor

        spec: Any = RegressorSpec(**meta["spec"])
        model = build_regressor(spec)
    else:
        spec = ModelSpec(**meta["spec"])
        model = build_model(spec)
    model.load_state_dict(load_file(str(d / MODEL_FILE)))
    model.eval()
    return model, spec, meta


def state_bytes(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())
