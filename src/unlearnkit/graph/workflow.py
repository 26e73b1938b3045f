"""The train → unlearn → eval workflow on model directories (what ``unlearnkit graph …`` calls).

Each function is one library call for one CLI command: it validates its inputs, does the work, writes the
model directory atomically and returns a JSON-ready summary. Receipts carry counts, HMAC digests of the
deleted ids (under the directory's ``receipt.key``) and measured evidence; a method that edits the model is
``approximate:<method>``, one that retrains from scratch without the data ``exact-retrain``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from unlearnkit.approx._common import config_from_dict, config_to_dict
from unlearnkit.context import RunContext
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.graph.data import GraphData
from unlearnkit.graph.datasets import load_graph
from unlearnkit.graph.io import keyed_hashes, load_graph_model, save_graph_model
from unlearnkit.graph.metrics import evaluate_graph
from unlearnkit.graph.models import GNN
from unlearnkit.graph.tasks import GraphDeletion, LinkSplit, NodeSplit, link_split, make_deletion, node_split
from unlearnkit.graph.train import GraphTrainConfig, train_original
from unlearnkit.registry import MethodInfo, get_method, list_methods

COUNTS = ("removed_edges", "forget_edges", "removed_nodes", "masked_nodes")
EVIDENCE = ("dt_auroc", "df_auroc", "df_prob_mean", "node_acc", "node_forget_acc")


def rebuild(meta: dict[str, Any]) -> tuple[GraphData, LinkSplit | NodeSplit]:
    """The graph and split a model directory was trained on (regenerated from the recorded source)."""
    try:
        data = load_graph(**meta["data"])
        task = meta["task"]
    except KeyError as exc:
        raise DataError(f"model metadata lacks {exc}") from None
    make = link_split if task["task"] == "link" else node_split
    return data, make(data, seed=int(task["seed"]))


def train(
    out: Path, graph: str, graph_args: dict[str, Any], task: str, cfg: GraphTrainConfig, seed: int = 0
) -> dict[str, Any]:
    """Train an original model on a graph and save it to ``out``."""
    if out.exists():
        raise DataError(f"{out}: already exists (choose another --out or remove it)")
    if task not in ("link", "node"):
        raise ConfigError(f"task must be link or node, got {task!r}")
    data = load_graph(graph, **graph_args)
    split = link_split(data, seed=seed) if task == "link" else node_split(data, seed=seed)
    ctx = RunContext(seed=seed)
    model = train_original(data, split, cfg, ctx)
    meta = {"data": data.source, "task": {"task": task, "seed": seed}, "train": config_to_dict(cfg), "seed": seed}
    empty = GraphDeletion(data, task, split, "edge", "random", *([torch.zeros(0, dtype=torch.long)] * 4))
    metrics = evaluate_graph(model, empty, metrics=["dt_auroc", "dt_auprc"] if task == "link" else ["node_acc"])
    save_graph_model(out, model, {**meta, "metrics": metrics})
    return {"out": str(out), "graph": repr(data), "task": task, "arch": cfg.arch, "metrics": metrics}


def graph_method(name: str) -> MethodInfo:
    """The registered graph method ``name`` (a one-line error listing the graph methods otherwise)."""
    names = [m.name for m in list_methods(family="graph")]
    if name not in names:
        raise ConfigError(f"unknown graph method {name!r}; choose one of {', '.join(names)}")
    return get_method(name)


def unlearn(
    model_dir: Path,
    out: Path,
    method: str,
    *,
    kind: str,
    amount: float,
    mode: str = "random",
    owner: str | None = None,
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Delete edges / nodes / features / an owner's data from a trained model; save it; return the receipt."""
    if out.exists():
        raise DataError(f"{out}: already exists (choose another --out or remove it)")
    info = graph_method(method)
    cfg = config_from_dict(info.cls.config_cls, overrides or {})
    original, meta, key = load_graph_model(model_dir)
    if "deletion" in meta:
        raise DataError(f"{model_dir}: already an unlearned model; unlearn from the original model directory")
    data, split = rebuild(meta)
    deletion = make_deletion(data, split, kind, amount, mode=mode, owner=owner, seed=seed)
    result = info.cls(cfg).unlearn(original, deletion, ctx=RunContext(seed=seed))
    model: GNN = result.model
    served = model.mp_edge_index
    removed = deletion.data.edge_index[:, deletion.removed_edges]
    if _contains_any(served, removed, data.num_nodes):
        raise DataError(f"{method}: the unlearned model still passes messages over a deleted edge")
    evidence = evaluate_graph(model, deletion, original=original, metrics=None, draws=100, seed=seed)
    before = evaluate_graph(original, deletion, metrics=None, draws=100, seed=seed)
    guarantee = "exact-retrain" if result.metadata.get("exact") else result.guarantee
    rec = deletion.record()
    receipt = {
        "method": method,
        "guarantee": guarantee,
        "deletion": {"kind": kind, "mode": mode, **{k: deletion.meta[k] for k in COUNTS}},
        "removed_edge_hmacs": keyed_hashes(key, "edge", rec["removed_edge_ids"]),
        "masked_node_hmacs": keyed_hashes(key, "node", rec["masked_node_ids"]),
        "seconds": round(result.seconds, 4),
        "steps": result.steps,
        "served_graph_excludes_deleted_edges": True,
        "verification": {
            k: {"before": round(before[k], 4), "after": round(evidence[k], 4)} for k in EVIDENCE if k in evidence
        },
        "out": str(out),
    }
    if owner is not None:
        receipt["owner_hmac"] = keyed_hashes(key, "owner", [owner])[0]
    save_meta = {
        **{k: meta[k] for k in ("data", "task", "train", "seed")},
        "source": str(model_dir),
        "method": method,
        "config": config_to_dict(cfg),
        "guarantee": guarantee,
        "deletion": rec,
        "unlearn": {"seconds": result.seconds, "steps": result.steps, "metadata": result.metadata, "seed": seed},
        "verification": receipt["verification"],
    }
    save_graph_model(out, model, save_meta, key=key)
    return receipt


def _contains_any(index: torch.Tensor, pairs: torch.Tensor, n: int) -> bool:
    if pairs.numel() == 0 or index.numel() == 0:
        return False
    served = set((index[0] * n + index[1]).tolist())
    return any(k in served for k in torch.cat([pairs[0] * n + pairs[1], pairs[1] * n + pairs[0]]).tolist())


def evaluate(model_dir: Path, original: Path | None = None, retrain: Path | None = None) -> dict[str, Any]:
    """GNNDelete's metric table for an unlearned model, its original and (optionally) its Retrain."""
    model, meta, _ = load_graph_model(model_dir)
    if "deletion" not in meta:
        raise DataError(f"{model_dir}: no deletion recorded (make one with: unlearnkit graph unlearn ... --out DIR)")
    data, split = rebuild(meta)
    deletion = GraphDeletion.from_record(data, split, meta["deletion"])
    orig = load_graph_model(original)[0] if original is not None else None
    ref = None
    if retrain is not None:
        ref, ref_meta, _ = load_graph_model(retrain)
        if ref_meta.get("deletion") != meta["deletion"]:
            raise DataError(f"{retrain}: its deletion differs from {model_dir}'s")
        if not (ref_meta.get("unlearn") or {}).get("metadata", {}).get("exact"):
            raise DataError(f"{retrain}: made by {ref_meta.get('method')!r}, not a retrain")
    attack = None
    if orig is not None and deletion.task == "link":
        from unlearnkit.graph.mia import LinkMembershipAttack

        cfg = config_from_dict(GraphTrainConfig, meta["train"])  # the shadow trains like the original
        attack = LinkMembershipAttack.fit(deletion, model.spec, cfg, RunContext(seed=int(meta.get("seed", 0))))
    seconds = (meta.get("unlearn") or {}).get("seconds")
    kw = {"original": orig, "reference": ref, "attack": attack}
    rows = {"unlearned": evaluate_graph(model, deletion, seconds=seconds, **kw)}
    if orig is not None:
        rows["original"] = evaluate_graph(orig, deletion, **kw)
    if ref is not None:
        rows["retrain"] = evaluate_graph(ref, deletion, seconds=(ref_meta.get("unlearn") or {}).get("seconds"), **kw)
    return {"method": meta.get("method"), "guarantee": meta.get("guarantee"), "kind": deletion.kind, **rows}
