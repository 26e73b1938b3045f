"""Training the nodes of an exact strategy: plan the tasks (ids and file paths, no data), run them through the
strategy's executor, register the checkpoints and serve the shards — one transaction per training run.

Nodes are content-addressed: a node whose slices did not change keeps its checkpoint (SISA's "unlearning = run
training again" design); only nodes that saw deleted data are retrained.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from unlearnkit.context import derive_seed
from unlearnkit.errors import LineageError
from unlearnkit.exact._engine import NodeJob, ShardTask, StaleResult, Tensors, run_shard_task
from unlearnkit.exact.serving import Prefix
from unlearnkit.lineage.samples import ids_digest
from unlearnkit.runtime.executor import Executor, make_executor

log = logging.getLogger(__name__)


class _TrainingConflict(Exception):
    """A deletion reached the shards being retrained before their result was committed."""


def executor_spec(executor: Executor | None) -> str:
    """The :func:`~unlearnkit.runtime.executor.make_executor` spec recorded with the model, so a reload trains
    with the same kind: the executor's own ``spec`` when it has one, else ``local``/``process:N``/``ray``."""
    if executor is None:
        return "local"
    spec = getattr(executor, "spec", None)
    if isinstance(spec, str) and spec:
        return spec
    kind = type(executor).__name__
    if kind == "ProcessExecutor":
        return f"process:{getattr(executor, 'workers', 2)}"
    if kind == "RayExecutor":
        return "ray"
    return "local"


class TrainingMixin:
    """Plans, runs and registers training on the host strategy's store, held data and checkpoint directory."""

    def _executor(self) -> Executor:
        """The strategy's executor: the one given, else the kind recorded with the model (built on first use)."""
        if self.executor is None:
            recorded = getattr(self, "config_", {}).get("executor") or "local"
            self.executor = make_executor(recorded)
        return self.executor

    def _train_shards(self, shards: Sequence[int], reason: str, request_id: str | None = None) -> dict[str, Any]:
        """(Re)build every node of ``shards`` that has no active checkpoint, then serve them at full depth.

        Training runs outside the strategy lock, so deletions keep being served meanwhile; if one lands in these
        shards before the result is committed, the commit is refused and training is planned again.
        """
        t0 = time.perf_counter()
        self._ctx()
        for _attempt in range(5):
            with self._lock, self._writer.hold():
                if reason != "fit":
                    self._catch_up()
                tasks, meta = self._plan_training(shards, reason)
            results = self._executor().map(run_shard_task, tasks)
            with self._lock:
                info = self._register_training(meta, results, shards, reason, request_id)
            if info is not None:
                info["seconds"] = time.perf_counter() - t0
                return info
            log.info("a deletion reached shards %s while they retrained; planning again", list(shards))
        raise LineageError(f"shards {list(shards)} kept receiving deletions while retraining; try again")

    def _plan_training(self, shards: Sequence[int], reason: str) -> tuple[list[ShardTask], list[tuple]]:
        store = self._require_store()
        active = {c.key for c in store.checkpoints("active")}
        threads = self._ctx().threads
        tasks, meta = [], []
        for shard in shards:
            slices = store.refresh_slices(shard) if reason != "fit" else store.current_slices(shard)
            members = {sl: ids for sl, (_, ids) in slices.items()}
            rows = {sl: row for sl, (row, _) in slices.items()}
            orders = self._orders(shard)
            ancestors: dict[Prefix, Tensors] = {}
            jobs: list[NodeJob] = []
            node_meta: dict[Prefix, dict[str, Any]] = {}
            for order in orders:
                for d in range(1, len(order) + 1):
                    prefix = order[:d]
                    if prefix in node_meta:
                        continue
                    new = len(members.get(prefix[-1], ()))
                    if d > 1 and new == 0 and self.chain_may_skip:
                        continue  # SISA: a stage with no new data trains nothing
                    seen = [members[sl] for sl in prefix if sl in members]
                    seen_ids = np.concatenate(seen) if seen else np.empty(0, np.int64)
                    seen_hash = ids_digest(seen_ids)
                    key = self._node_key(shard, prefix, seen_hash)
                    node_meta[prefix] = {
                        "key": key,
                        "seen_hash": seen_hash,
                        "seen": len(seen_ids),
                        "rows": [rows[sl] for sl in prefix if sl in rows],
                        "reused": key in active,
                    }
                    if key in active:
                        ancestors[prefix] = self._tensors(key)
                        continue
                    layers, fresh = self._node_layers(d)
                    seed = derive_seed(self.seed, self.kind, shard, ",".join(map(str, prefix)))
                    refs = [self.held_.ref(shard, sl, members[sl]) for sl in prefix if len(members.get(sl, ()))]
                    jobs.append(NodeJob(prefix, refs, layers, fresh, self._node_epochs(), seed))
            tasks.append(
                ShardTask(
                    self.spec_,
                    self.lora_,
                    self.backbone_,
                    self.lr,
                    self.batch_size,
                    self.weight_decay,
                    ancestors,
                    jobs,
                    held=self.held_.spec,
                    public_fit=self.public_fit_,
                    threads=threads,
                )
            )
            meta.append((shard, orders, node_meta))
        return tasks, meta

    def _register_training(
        self, meta: list[tuple], results: list[dict], shards: Sequence[int], reason: str, request_id: str | None
    ) -> dict[str, Any] | None:
        """Write the trained nodes and serve the shards at full depth, in one transaction; ``None`` on conflict."""
        store = self._require_store()
        trained: list[dict[str, Any]] = []
        new_keys: list[str] = []
        if any(isinstance(r, StaleResult) for r in results):
            return None  # a deletion purged rows a task was planned with
        try:
            with self._writer.hold(), store.session() as s:
                store.lock_writes(s)
                reused = [m["key"] for _, _, nm in meta for m in nm.values() if m["reused"]]
                for (shard, _, node_meta), res in zip(meta, results, strict=True):
                    for prefix, r in res.items():
                        m = node_meta[prefix]
                        sha, nbytes = self.ckpt_.write(m["key"], r.tensors)
                        new_keys.append(m["key"])
                        store.add_checkpoint(
                            key=m["key"],
                            shard=shard,
                            prefix=prefix,
                            slice_rows=m["rows"],
                            seen_set_hash=m["seen_hash"],
                            seen_count=m["seen"],
                            file_sha256=sha,
                            nbytes=nbytes,
                            session=s,
                        )
                        trained.append(
                            {
                                "shard": shard,
                                "prefix": list(prefix),
                                "seconds": round(r.seconds, 4),
                                "final_loss": r.losses[-1] if r.losses else None,
                            }
                        )
                self._fault("mid_retrain")  # files written, nothing committed
                if store.conflicts(new_keys, reused, session=s):
                    raise _TrainingConflict
                serving = [
                    (shard, b, order, len(order), "serving")
                    for shard, orders, _ in meta
                    for b, order in enumerate(orders)
                ]
                version = store.record_retrain(
                    -1 if reason == "fit" else shards[0],
                    serving=serving,
                    retire=[],
                    session=s,
                    info={
                        "reason": reason,
                        "shards": list(shards),
                        "nodes_trained": len(trained),
                        "request_id": request_id,
                    },
                )
        except _TrainingConflict:
            # the refused checkpoints saw data deleted meanwhile: they must not stay on disk
            registered = {c.key for c in store.checkpoints(None)}
            for key in new_keys:
                if key not in registered:
                    self.ckpt_.remove(key)
            return None
        for (_, _, node_meta), res in zip(meta, results, strict=True):
            for prefix, r in res.items():
                self._tensor_cache[node_meta[prefix]["key"]] = r.tensors
        self._load_serving()
        return {"shards": list(shards), "nodes": trained, "model_version": version}

    def _tensors(self, key: str) -> Tensors:
        """A node's tensors, read once from its file (whose sha256 must match the store's record)."""
        cache = self._tensor_cache
        if key not in cache:
            if key not in self._sha_:
                self._sha_ = {c.key: c.file_sha256 for c in self.store.checkpoints("active")}
            if key not in self._sha_:
                raise LineageError(f"checkpoint {key[:12]} is not active")
            cache[key] = self.ckpt_.read(key, self._sha_[key])
        return cache[key]
