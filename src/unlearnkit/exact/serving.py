"""What an exact strategy serves: an immutable snapshot of shard modules, swapped by one reference assignment.

A served module is the frozen template (backbone + LoRA wrappers, shared, never written) with the LoRA and head
tensors of one chain of nodes: only those small tensors are copied. Modules are built when first asked for by a
prediction (a load or a deletion that only moves pointers builds none, so it never imports peft) and cached by
their chain, so a deactivation that returns to a known prefix is a
pointer change. Served modules stay in eval mode for good: predicting never toggles train/eval. torch is imported
by the first prediction (after the host's RunContext has set its thread count), never by a load or such a
deletion.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from unlearnkit.errors import ConfigError, LineageError, NotFittedError, RetrainRequiredError
from unlearnkit.exact._engine import Tensors, served_module
from unlearnkit.exact.aggregation import aggregate, aggregate_values
from unlearnkit.lineage.store import LineageStore
from unlearnkit.models.backbones import BuiltinBackbone

if TYPE_CHECKING:
    import torch
    from torch import nn

    from unlearnkit.models.export import ServedEnsemble

Prefix = tuple[int, ...]
Row = tuple[int, int, Prefix, int, str]  # (shard, sequence, order, depth, state)


@dataclass(frozen=True)
class _Member:
    shard: int
    sequence: int
    prefix: Prefix
    keys: tuple[str, ...]  # the chain of nodes whose LoRA and head tensors make this member's module


@dataclass(frozen=True)
class _Snapshot:
    """What is served: immutable, swapped by one reference assignment."""

    version: int
    members: tuple[_Member, ...]
    aggregation: str


def forward(module: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits of an eval-mode module, in batches, in inference mode (no autograd records, no version counters:
    the served modules' LoRA layers make a dozen intermediate tensors a row) and without touching its mode."""
    import torch

    with torch.inference_mode():
        if len(x) <= batch_size:
            return module(x)
        return torch.cat([module(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


class ServingMixin:
    """The served snapshot of the host strategy (needs its store, template, checkpoint tensors and config)."""

    store: LineageStore | None
    _snapshot: _Snapshot | None
    _swap_lock: threading.RLock
    _rows_: list[Row]
    _nodes_: dict[str, tuple[int, Prefix]]
    _sha_: dict[str, str]
    _module_cache: dict[tuple[str, ...], nn.Module]
    _tensor_cache: dict[str, Tensors]

    # -- building the snapshot ------------------------------------------------------------------------------
    def _load_serving(self) -> None:
        """Rebuild the served snapshot from the store's serving rows (refusing tainted checkpoints)."""
        store = self._require_store()
        with self._swap_lock:
            version, rows, active = store.serving_state()  # one consistent read
            self._sha_ = {c.key: c.file_sha256 for c in active}
            nodes = {c.key: (c.shard, c.prefix) for c in active}
            self._apply_rows(rows, nodes, version, check=True)

    def _apply_rows(self, rows: list[Row], nodes: dict[str, tuple[int, Prefix]], version: int, check: bool) -> None:
        """Serve ``rows`` from the active ``nodes``: one reference swap, modules from the cache when built."""
        with self._swap_lock:
            if self._snapshot is not None and version < self._snapshot.version:
                return  # a concurrent reload already serves a newer version
            self._build_snapshot(rows, nodes, version, check)

    def _build_snapshot(self, rows: list[Row], nodes: dict[str, tuple[int, Prefix]], version: int, check: bool) -> None:
        by_prefix = self._prefix_index(nodes)
        members, used = [], []
        for shard, seq, order, depth in self._choose_served(rows):
            keys = tuple(by_prefix[(shard, order[:d])] for d in range(1, depth + 1) if (shard, order[:d]) in by_prefix)
            if not keys or (not self.chain_may_skip and len(keys) != depth):
                raise LineageError(f"shard {shard} has no active checkpoint for prefix {order[:depth]}")
            used.extend(keys)
            members.append((shard, seq, order[:depth], keys))
        if check and (used or nodes):
            # every active checkpoint, served or not, must be clean: a resurrected row is refused at load
            self._require_store().assert_loadable(sorted(set(used) | set(nodes)))
        built = tuple(_Member(sh, sq, prefix, keys) for sh, sq, prefix, keys in members)
        self._rows_, self._nodes_ = rows, nodes
        self._snapshot = _Snapshot(version, built, self.aggregation_)

    def _prefix_index(self, nodes: dict[str, tuple[int, Prefix]]) -> dict[tuple[int, Prefix], str]:
        """``{(shard, prefix): checkpoint key}`` of ``nodes``, kept while they are the same (nodes are replaced,
        never changed in place: a deletion that retires nothing keeps them)."""
        cached = getattr(self, "_by_prefix", None)
        if cached is None or cached[0] is not nodes:
            cached = self._by_prefix = (nodes, {(sh, prefix): key for key, (sh, prefix) in nodes.items()})
        return cached[1]

    def _choose_served(self, rows: list[Row]) -> list[tuple[int, int, Prefix, int]]:
        """Per shard, the (sequence, order, depth) served; default: the single row if serving at depth > 0."""
        return [(sh, sq, order, d) for sh, sq, order, d, st in rows if st == "serving" and d > 0]

    def _module(self, keys: tuple[str, ...]) -> nn.Module:
        module = self._module_cache.get(keys)
        if module is None:
            chain = [self._tensors(k) for k in keys]
            module = served_module(self.template_, chain, self.head_init_, self.spec_.num_layers)
            self._module_cache[keys] = module
        return module

    def _served_modules(self) -> tuple[_Snapshot, list[nn.Module]]:
        """The current snapshot and its members' modules (built on first use, then cached).

        A snapshot whose checkpoints another process purged meanwhile (its tensors were never read here) is
        reloaded from the store once: the answer then comes from the newer model, never from a mix.
        """
        with self._swap_lock:
            snap = self._snapshot
            try:
                return snap, [self._module(m.keys) for m in snap.members]  # type: ignore[union-attr]
            except (LineageError, FileNotFoundError):
                self._load_serving()
                snap = self._snapshot
                return snap, [self._module(m.keys) for m in snap.members]  # type: ignore[union-attr]

    def _drop_cached(self, key: str) -> None:
        """Forget a purged checkpoint's tensors and every module built on it."""
        self._tensor_cache.pop(key, None)
        self._module_cache = {k: v for k, v in self._module_cache.items() if key not in k}

    def warm(self, max_floats: float = 5e7) -> int:
        """Build the module of every alive prefix now (so a later deactivation is a pointer change); returns how
        many it built. Optional: modules are otherwise built when first served."""
        per_model = sum(p.numel() for p in self.template_.parameters())
        by_prefix = self._prefix_index(self._nodes_)
        wanted = set()
        for sh, _, order, depth, state in self._rows_:
            for d in range(1, depth + 1 if state == "serving" else 0):
                keys = tuple(by_prefix[(sh, order[:k])] for k in range(1, d + 1) if (sh, order[:k]) in by_prefix)
                if keys:
                    wanted.add(keys)
        todo = sorted(k for k in wanted if k not in self._module_cache)
        if per_model * len(wanted) > max_floats:
            return 0
        for keys in todo:
            self._module(keys)
        return len(todo)

    # -- state ----------------------------------------------------------------------------------------------
    def _require_store(self) -> LineageStore:
        if self.store is None:
            raise NotFittedError(f"{type(self).__name__} has no open lineage store: call fit() or load()")
        return self.store

    def _check_fitted(self) -> None:
        if self.store is None or self._snapshot is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() or load()")

    @property
    def model_version(self) -> int:
        self._check_fitted()
        return self._snapshot.version  # type: ignore[union-attr]

    def refresh(self) -> bool:
        """Reload the served state if another process changed the model version; returns whether it did.

        One indexed read when nothing changed (it does not wait behind a writer), so servers call it before
        every answer: a change committed by any process is served before the next answer.
        """
        self._check_fitted()
        store = self._require_store()
        if store.current_version() == self._snapshot.version:  # type: ignore[union-attr]
            return False
        with self._swap_lock:
            if store.current_version() == self._snapshot.version:  # type: ignore[union-attr]
                return False  # another thread reloaded meanwhile
            self._load_serving()
        return True

    def served(self) -> list[dict[str, Any]]:
        """Which shard serves which prefix (internal: do not publish, it reveals which slice was hit)."""
        self._check_fitted()
        return [{"shard": m.shard, "sequence": m.sequence, "prefix": list(m.prefix)} for m in self._snapshot.members]  # type: ignore[union-attr]

    def served_state(self) -> dict[str, Tensors]:
        """Parameters of every served shard model (for bitwise comparisons)."""
        self._check_fitted()
        snap, modules = self._served_modules()
        return {
            f"shard{m.shard}": {k: v.detach().clone() for k, v in module.state_dict().items()}
            for m, module in zip(snap.members, modules, strict=True)  # type: ignore[union-attr]
        }

    def served_ensemble(self) -> tuple[int, ServedEnsemble]:
        """``(version, module)``: the served model at this instant as one standalone module (for export)."""
        from torch import nn

        from unlearnkit.models.export import ServedEnsemble

        self._check_fitted()
        snap, modules = self._served_modules()
        pre = self.transform_.module  # the public-fitted scaling travels with the model
        members = [m if isinstance(pre, nn.Identity) else nn.Sequential(pre, m) for m in modules]
        how = "values" if self.is_regression_ else self.aggregation_  # type: ignore[attr-defined]
        return snap.version, ServedEnsemble(members, how)  # type: ignore[union-attr]

    # -- predicting -----------------------------------------------------------------------------------------
    def _as_tensor(self, x: Any) -> torch.Tensor:
        """Inputs encoded for the backbone (numeric rows; texts are tokenised by an HF backbone's tokenizer), then
        the recorded public-split scaling (numeric rows only)."""
        self._ctx()  # the run's torch thread count
        return self.transform_(self.spec_.as_input(x))

    def _batch_size(self) -> int:
        return 2048 if isinstance(self.spec_, BuiltinBackbone) else 64

    def _logits(self, x: Any) -> list[torch.Tensor]:
        """The served shards' logits as inference tensors (functional ops such as the aggregation work on them
        anywhere; changing them in place outside inference mode does not)."""
        self._check_fitted()
        if self.spec_.task == "causal-lm":
            raise ConfigError("a causal-LM model serves text: use unlearnkit.exact.EnsembleLM(model).generate(...)")
        _, modules = self._served_modules()
        if not modules:
            raise RetrainRequiredError(
                "every shard is dead (all its layers saw deleted data): retrain required before serving"
            )
        t = self._as_tensor(x)
        bs = self._batch_size()
        return [forward(m, t, bs) for m in modules]

    def predict_logits(self, x: Any) -> list[torch.Tensor]:
        """Per served shard, its logits (n, C): ordinary tensors the caller may change or use with autograd."""
        return [t.clone() for t in self._logits(x)]

    def predict_proba(self, x: Any) -> np.ndarray:
        """Aggregated class probabilities of the served shards, shape (n, C)."""
        if self.is_regression_:  # type: ignore[attr-defined]
            raise ConfigError("a regression model has no class probabilities: use predict() for its values")
        return aggregate(self._logits(x), self.aggregation_).numpy()

    @property
    def public_fallback_(self) -> nn.Module | None:
        """The frozen backbone with its public-data head and every LoRA block off: it never saw deletable data,
        so it is exact by construction. None when the backbone was not trained on public data."""
        if not str(self.backbone_description_).startswith("pretrained"):
            return None
        if getattr(self, "_fallback", None) is None:
            self._fallback = served_module(self.template_, [], self.head_init_, self.spec_.num_layers)
        return self._fallback

    def predict_served(self, x: Any, *, fallback: bool = True) -> tuple[np.ndarray, int, str]:
        """``(probabilities, model version, guarantee)`` from one served snapshot (values for regression).

        While every shard awaits retraining (a deletion storm), ``fallback`` answers from
        :attr:`public_fallback_` (guarantee ``exact:public-fallback``) instead of refusing.
        """
        import torch

        self._check_fitted()
        snap, modules = self._served_modules()
        t = self._as_tensor(x)
        bs = self._batch_size()
        if modules:
            logits = [forward(m, t, bs) for m in modules]
            regression = self.is_regression_  # type: ignore[attr-defined]
            out = aggregate_values(logits) if regression else aggregate(logits, self.aggregation_)  # type: ignore[attr-defined]
            return out.numpy(), snap.version, "exact:ensemble"  # type: ignore[union-attr]
        model = self.public_fallback_ if fallback else None
        if model is None:
            raise RetrainRequiredError(
                "every shard is dead (all its layers saw deleted data): retrain required before serving"
            )
        out = forward(model, t, bs)
        out = out.reshape(-1) if self.is_regression_ else torch.softmax(out, dim=1)  # type: ignore[attr-defined]
        return out.numpy(), snap.version, "exact:public-fallback"  # type: ignore[union-attr]

    def predict(self, x: Any) -> np.ndarray:
        """Predicted classes, or for regression the mean of the served shards' outputs (values, shape (n,))."""
        if self.is_regression_:  # type: ignore[attr-defined]
            return aggregate_values(self._logits(x)).numpy()
        return self.predict_proba(x).argmax(axis=1)

    def predict_labels(self, x: Any) -> list[Any]:
        """Predicted class names when the model records declared label names, else class indices."""
        names = None if self.is_regression_ else self.config_.get("label_names")  # type: ignore[attr-defined]
        pred = self.predict(x).tolist()
        return [names[i] for i in pred] if names else pred

    def score(self, data: Any) -> float:
        """Accuracy; for regression R² (1 − SSE/SST, scikit-learn's regressor score; 1 is perfect)."""
        if self.is_regression_:  # type: ignore[attr-defined]
            y = data.y.double().numpy()
            sse = float(((self.predict(data.x) - y) ** 2).sum())
            sst = float(((y - y.mean()) ** 2).sum())
            return 1.0 - sse / sst if sst > 0 else float("nan")
        return float((self.predict(data.x) == data.y.numpy()).mean())
