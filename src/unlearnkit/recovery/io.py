"""Reading and writing the model directories recovery works on: monolithic classifiers and causal LMs.

A classifier directory is what :func:`unlearnkit.models.io.save_model` writes (``model.json`` +
``model.safetensors``); an LM directory is a Hugging Face directory (``unlearnkit.json`` optional). The model's
secret — ``secret.key`` (the lineage pepper) or ``receipt.key`` — keys the manifest's id hashes and is carried to
the recovered model's directory (mode 0600). A recovered model is written atomically: a temporary directory
renamed into place, so a failed or rolled-back recovery leaves nothing behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from unlearnkit.errors import DataError

KEY_FILES = ("secret.key", "receipt.key")
RECOVERY_KEY = "recovery"


@dataclass
class ModelDir:
    kind: str  # "classifier" | "lm"
    model: nn.Module
    meta: dict[str, Any]
    path: Path
    spec: Any = None
    tokenizer: Any = None
    key: bytes | None = None
    key_file: str | None = field(default=None, repr=False)


def read_key(directory: Path) -> tuple[bytes | None, str | None]:
    for name in KEY_FILES:
        p = directory / name
        if p.is_file():
            return p.read_bytes(), name
    return None, None


def load_model_dir(directory: str | Path) -> ModelDir:
    """A classifier or causal-LM directory → :class:`ModelDir` (a one-line :class:`DataError` otherwise)."""
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: no such model directory")
    key, key_file = read_key(d)
    if (d / "model.json").is_file():
        from unlearnkit.models.io import load_model

        model, spec, meta = load_model(d)
        return ModelDir("classifier", model, meta, d, spec=spec, key=key, key_file=key_file)
    if (d / "config.json").is_file():
        from unlearnkit.llm.hf import load_lm

        model, tokenizer, meta = load_lm(d)
        return ModelDir("lm", model, meta, d, tokenizer=tokenizer, key=key, key_file=key_file)
    raise DataError(f"{d}: neither a classifier (model.json) nor a language-model (config.json) directory")


def save_model_dir(out: str | Path, source: ModelDir, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``model`` like ``source`` (same kind, tokenizer and key) to ``out`` atomically."""
    from unlearnkit.models.io import atomic_dir

    out = Path(out)
    with atomic_dir(out) as tmp:
        target = tmp / "model"
        if source.kind == "classifier":
            from unlearnkit.models.io import save_model

            save_model(target, model, source.spec, meta=meta)
        else:
            from unlearnkit.llm.hf import save_lm

            save_lm(target, model, source.tokenizer, meta)
        for item in target.iterdir():
            os.replace(item, tmp / item.name)
        target.rmdir()
        if source.key is not None and source.key_file is not None:
            fd = os.open(tmp / source.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(source.key)
    return out


__all__ = ["KEY_FILES", "RECOVERY_KEY", "ModelDir", "load_model_dir", "read_key", "save_model_dir"]
