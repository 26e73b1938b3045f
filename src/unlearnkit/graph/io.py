"""Graph model directories: ``model.safetensors`` (weights and the served graph), ``model.json``, ``receipt.key``.

Written atomically (a crash leaves no half-written directory). ``model.json`` records the spec, how to rebuild
the graph and the task split (``data``, ``task``), and for an unlearned model the deletion and the method.
``receipt.key`` is a random secret made when the original is trained and copied to every model derived from
it: receipts show HMAC-SHA256 digests of the deleted ids and owners under it, never the ids themselves, and
destroying the key unlinks them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from unlearnkit.errors import DataError
from unlearnkit.graph.models import GNN, GNNSpec, build_gnn
from unlearnkit.models.io import atomic_dir

MODEL_FILE = "model.safetensors"
META_FILE = "model.json"
KEY_FILE = "receipt.key"


def save_graph_model(
    directory: str | Path, model: GNN, meta: dict[str, Any], key: bytes | None = None, overwrite: bool = False
) -> Path:
    """Save weights, buffers and metadata; ``key`` (default: a new random one) keys the receipts' hashes."""
    with atomic_dir(directory, overwrite=overwrite) as tmp:
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / MODEL_FILE))
        (tmp / META_FILE).write_text(
            json.dumps({"kind": "graph", "spec": model.spec.to_dict(), **meta}, indent=2, sort_keys=True)
        )
        (tmp / KEY_FILE).write_bytes(key if key is not None else secrets.token_bytes(32))
    return Path(directory)


def load_graph_model(directory: str | Path) -> tuple[GNN, dict[str, Any], bytes]:
    """``(model, metadata, receipt key)`` of a directory written by :func:`save_graph_model`."""
    d = Path(directory)
    if not (d / META_FILE).is_file() or not (d / MODEL_FILE).is_file():
        raise DataError(f"{d}: not a graph model directory (no {META_FILE}/{MODEL_FILE})")
    meta = json.loads((d / META_FILE).read_text())
    if meta.get("kind") != "graph":
        raise DataError(f"{d}: not a graph model (kind {meta.get('kind')!r}; train one with: unlearnkit graph train)")
    state = load_file(str(d / MODEL_FILE))
    model = build_gnn(GNNSpec(**meta["spec"]))
    model.set_graph(state["mp_edge_index"], state["feature_mask"])
    model.load_state_dict(state)
    key = (d / KEY_FILE).read_bytes() if (d / KEY_FILE).is_file() else b""
    return model.eval(), meta, key


def keyed_hashes(key: bytes, kind: str, values: Iterable[object]) -> list[str]:
    """HMAC-SHA256 of ``kind:value`` under ``key`` for each value (what receipts show)."""
    if not key:
        raise DataError("the model directory has no receipt.key; receipts cannot hash ids")
    return [hmac.new(key, f"{kind}:{v}".encode(), hashlib.sha256).hexdigest() for v in values]
