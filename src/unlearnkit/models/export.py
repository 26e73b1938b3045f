"""The served model as one standalone module, written as ONNX, TorchScript or safetensors for use elsewhere.

:class:`ServedEnsemble` freezes what a model serves at one version — every served shard module plus the
aggregation (softmax of the mean logits, or the fraction of shard votes) — into a plain ``nn.Module`` that maps
``(n, features)`` float32 inputs to ``(n, classes)`` probabilities, the same numbers ``predict_proba`` returns.
:func:`write_export` writes it in one format, atomically (a temporary sibling renamed into place), and returns
the file's sha256. Recording the export and noticing when a deletion makes it stale is
:mod:`unlearnkit.lineage.exports`' job.

ONNX goes through ``torch.onnx.export`` (the ``torch.export``-based exporter, batch dimension dynamic) and
needs the ``[export]`` extra (``onnx``, ``onnxscript``; ``onnxruntime`` to check it). TorchScript is a trace.
safetensors holds each member's state dict under ``member{i}.`` with the architecture in the metadata, for
rebuilding with unlearnkit.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from unlearnkit.errors import ConfigError

if TYPE_CHECKING:
    from unlearnkit.lineage.store import LineageStore

FORMATS = ("onnx", "torchscript", "safetensors")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}


class ServedEnsemble(nn.Module):
    """Probabilities of an ensemble of shard modules, aggregated as the strategy serves them.

    ``aggregation="mean"``: ``softmax(mean_i logits_i)``; ``"vote"``: the fraction of members whose arg-max is
    each class (the lowest index wins ties, as ``argmax`` does). A single-member ensemble with ``mean`` is the
    member's softmax, which is how a monolithic model is exported. ``"values"`` (regression): the mean of the
    members' one-wide outputs, shape (n,).
    """

    def __init__(self, members: Sequence[nn.Module], aggregation: str = "mean", *, copy_members: bool = True):
        super().__init__()
        if not members:
            raise ConfigError("nothing is served: every shard is dead (retrain before exporting)")
        if aggregation not in ("mean", "vote", "values"):
            raise ConfigError(f"unknown aggregation {aggregation!r}; choose mean, vote or values")
        chosen = [copy.deepcopy(m) if copy_members else m for m in members]
        self.members = nn.ModuleList(chosen)
        self.aggregation = aggregation
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.stack([m(x) for m in self.members])
        if self.aggregation == "values":
            return logits.mean(dim=0).reshape(-1)
        if self.aggregation == "mean":
            return torch.softmax(logits.mean(dim=0), dim=1)
        winners = torch.zeros_like(logits).scatter_(2, logits.argmax(dim=2, keepdim=True), 1.0)
        return winners.sum(dim=0) / len(self.members)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _need(module: str, extra: str = "export") -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"exporting this format needs {module}: pip install 'unlearnkit[{extra}]'")


def _write_onnx(model: ServedEnsemble, example: torch.Tensor, path: Path) -> None:
    _need("onnx")
    _need("onnxscript")
    import logging

    batch = torch.export.Dim("batch", min=1)
    noisy = logging.getLogger("torch.onnx._internal.exporter._registration")  # optional torchvision ops
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["x"],
            output_names=["probabilities"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            external_data=False,
            verbose=False,
            report=False,
        )
    noisy.setLevel(level)


def _write_torchscript(model: ServedEnsemble, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (example,), check_trace=False)
        traced.save(str(path))


def _write_safetensors(model: ServedEnsemble, path: Path, metadata: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tensors = {
        f"member{i}.{k}": v.detach().contiguous().clone()
        for i, m in enumerate(model.members)
        for k, v in m.state_dict().items()
    }
    meta = {
        "format": "unlearnkit-served-ensemble",
        "aggregation": model.aggregation,
        "members": str(len(model.members)),
    }
    meta.update({k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in metadata.items()})
    save_file(tensors, str(path), metadata=meta)


def write_export(
    model: ServedEnsemble,
    fmt: str,
    path: str | Path,
    *,
    num_features: int,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> str:
    """Write ``model`` as ``fmt`` to ``path`` atomically; returns the file's sha256."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    dest = Path(path)
    if dest.exists() and not overwrite:
        raise ConfigError(f"{dest}: already exists (choose another --out or remove it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, num_features, dtype=torch.float32)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "onnx":
            _write_onnx(model, example, tmp)
        elif fmt == "torchscript":
            _write_torchscript(model, example, tmp)
        else:
            _write_safetensors(model, tmp, metadata or {})
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return sha256_file(dest)


def export_served(
    store: LineageStore,
    version: int,
    model: ServedEnsemble,
    *,
    fmt: str,
    out: str | Path,
    recipient: str,
    num_features: int,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write ``model`` (served at ``version``) and record the export in ``store``; returns the record.

    The record is refused (and the file removed) if the served model moved on while the file was written, so
    a recorded export always names the version its file really holds.
    """
    from unlearnkit.lineage.exports import record_export

    path = Path(out)
    sha = write_export(
        model,
        fmt,
        path,
        num_features=num_features,
        metadata={"model_version": version, **(metadata or {})},
        overwrite=overwrite,
    )
    try:
        return record_export(
            store, model_version=version, fmt=fmt, file_sha256=sha, file_name=path.name, recipient=recipient
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


__all__ = ["FORMATS", "SUFFIX", "ServedEnsemble", "export_served", "sha256_file", "write_export"]
