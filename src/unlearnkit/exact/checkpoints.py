"""Content-addressed checkpoint files (safetensors), written atomically and verified on read.

Removing a file (a deletion's purge) needs no torch; reading and writing import it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from unlearnkit.errors import LineageError

if TYPE_CHECKING:
    import torch


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class CheckpointDir:
    """``<dir>/<key>.safetensors``; a key is the hash naming what the checkpoint saw."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.safetensors"

    def write(self, key: str, tensors: dict[str, torch.Tensor]) -> tuple[str, int]:
        """Write (or find) a checkpoint; returns ``(file sha256, bytes)``."""
        from safetensors.torch import save_file

        self.directory.mkdir(parents=True, exist_ok=True)
        dest = self.path(key)
        if dest.exists():
            return file_sha256(dest), dest.stat().st_size
        tmp = dest.with_suffix(".tmp")
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(tmp))
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        return file_sha256(dest), dest.stat().st_size

    def read(self, key: str, expected_sha256: str) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        p = self.path(key)
        if not p.exists():
            raise LineageError(f"checkpoint file {p.name} is missing")
        if file_sha256(p) != expected_sha256:
            raise LineageError(f"checkpoint file {p.name} does not match its recorded sha256")
        return load_file(str(p))

    def remove(self, key: str) -> bool:
        p = self.path(key)
        if p.exists():
            p.unlink()
            return True
        return False
