"""The exact-strategy base: hyper-parameters, what subclasses decide, fit, and the model directory (open/save/load).

A strategy is a set of shards; each shard trains one or more slice *orders* (S3T: B orders; SISA and Retrain:
one). Subclasses say which orders exist, which LoRA layers a node trains, how many epochs a stage takes, and
what a deletion does to the served depth. Everything else lives once, by concern:

- :mod:`~unlearnkit.exact.held`: the deletable training data held for retraining (per-cell record files,
  rows overwritten in place on deletion);
- :mod:`~unlearnkit.exact.training`: planning training tasks, running them through the executor, registering
  checkpoints;
- :mod:`~unlearnkit.exact.serving`: the served snapshot and prediction;
- :mod:`~unlearnkit.exact.lifecycle`: forget / forget_many (group commit), retrain, purge, verify;
- :mod:`~unlearnkit.exact.integrity`: signed manifest, signed audit head, orphan files.

Model directory::

    strategy.json          kind + hyper-parameters + model spec + held-data layout + executor kind (no data)
    backbone.safetensors   the frozen backbone (trained on public data only)
    held/<shard>-<slice>.rows  the deletable training data still held (deleted rows overwritten in place)
    checkpoints/<key>.safetensors
    lineage.db             the lineage store (unless another database URL is given)
    secret.key             the pepper keying the HMACs of ids, owners, sample contents and held rows (mode 0600)
    manifest.json          sha256 of the files written at training time (not held/, not checkpoints/), signed
    audit-head.json        the audit chain's head (seq, hash, model version), signed after every change
    signing/ed25519.pem    the model's Ed25519 key (unless ``signing_key``/``UNLEARNKIT_KEY_PATH`` points elsewhere)

Writers (forget, retrain, purge) hold the directory's :class:`~unlearnkit.exact.locking.WriterLock` from plan to
swap; a deletion planned against a version another process has since moved is re-planned, never committed.

What shapes a served model besides its checkpoints — the label set and the input scaling — is fitted on the
public split or declared (:mod:`unlearnkit.data.public_fit`) and recorded in ``strategy.json`` (``public_fit``).

Opening a model reads no tensors: the frozen backbone, the input scaling and the served modules are loaded when
first needed, so a deletion that only moves pointers (S3T; SISA rollback) never imports torch.

Float targets (``data.is_regression``) train a regression model: a one-wide head, mean squared error, the shard
outputs averaged (``predict`` returns values, ``score`` is R²); no label set is fitted (``task: regression``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from unlearnkit.context import RunContext
from unlearnkit.errors import ConfigError, DataError, LineageError
from unlearnkit.exact._engine import Tensors, build_template
from unlearnkit.exact.aggregation import AGGREGATIONS
from unlearnkit.exact.checkpoints import CheckpointDir
from unlearnkit.exact.fitting import BACKBONE_FILE, DB_FILE, SECRET_FILE, STRATEGY_FILE, FittingMixin
from unlearnkit.exact.held import HeldData, HeldSpec, held_key
from unlearnkit.exact.integrity import IntegrityMixin
from unlearnkit.exact.lifecycle import DeletionMixin
from unlearnkit.exact.locking import WriterLock
from unlearnkit.exact.placement import SHARDINGS, assign_arrays, assign_cells, owner_shard_slice_of, shard_slice_of
from unlearnkit.exact.sequences import SequenceBook
from unlearnkit.exact.serving import Prefix, ServingMixin, _Snapshot
from unlearnkit.exact.training import TrainingMixin
from unlearnkit.exact.upkeep import UpkeepMixin
from unlearnkit.lineage.store import LineageStore
from unlearnkit.models.backbones import Backbone, BuiltinBackbone, backbone_from_config
from unlearnkit.models.lora import LoraSpec, head_params, snapshot
from unlearnkit.models.spec import ARCHS, ModelSpec
from unlearnkit.runtime.executor import Executor

if TYPE_CHECKING:
    from torch import nn

    from unlearnkit.data.dataset import IdDataset
    from unlearnkit.data.public_fit import FeatureTransform

log = logging.getLogger(__name__)


_NOT_PARAMS = (
    "self",
    "executor",
    "ctx",
    "backbone",
    "signing_key",
)  # constructor arguments that are not hyper-parameters
__all__ = [
    "SHARDINGS",
    "ExactStrategy",
    "Prefix",
    "assign_arrays",
    "assign_cells",
    "owner_shard_slice_of",
    "shard_slice_of",
]


@dataclass
class _Plan:
    serving: list[tuple[int, int, Prefix, int, str]]
    retire: list[str]
    deactivated: list[dict[str, Any]] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)


def _hits(ids: Iterable[int], assignment: dict[int, tuple[int, int]]) -> dict[int, set[int]]:
    """``{shard: {slices holding a deleted id}}``."""
    hits: dict[int, set[int]] = {}
    for i in ids:
        sh, sl = assignment[i]
        hits.setdefault(sh, set()).add(sl)
    return hits


class ExactStrategy(IntegrityMixin, FittingMixin, ServingMixin, TrainingMixin, DeletionMixin, UpkeepMixin):
    """Base of :class:`~unlearnkit.exact.S3T`, :class:`~unlearnkit.exact.SISA` and :class:`~unlearnkit.exact.Retrain`.

    ``__init__`` only stores hyper-parameters; validation happens in :meth:`fit`.
    """

    kind: ClassVar[str] = ""
    guarantee_on_forget: ClassVar[str] = "exact-retrain"
    default_aggregation: ClassVar[str] = "mean"
    chain_may_skip: ClassVar[bool] = True  # a stage with no new data may have no checkpoint (SISA)
    #: named option sets the exactness suite runs (tests/exactness): a new strategy in STRATEGIES joins with these
    variants: ClassVar[dict[str, dict[str, Any]]] = {"default": {}}

    def __init__(
        self,
        *,
        shards: int = 1,
        slices: int = 1,
        epochs: int = 20,
        lr: float = 1e-2,
        batch_size: int = 64,
        weight_decay: float = 0.0,
        arch: str = "resmlp",
        width: int = 64,
        depth: int | None = None,
        lora_rank: int = 4,
        lora_alpha: float = 4.0,
        lora_dropout: float = 0.0,
        backbone_epochs: int = 40,
        backbone_lr: float = 1e-3,
        aggregation: str | None = None,
        seed: int = 0,
        salt: str | None = None,
        backbone: Backbone | str | None = None,
        sharding: str = "auto",
        num_classes: int | None = None,
        label_names: Sequence[str] | None = None,
        preprocess: str = "standardize",
        executor: Executor | None = None,
        ctx: RunContext | None = None,
        signing_key: str | Path | None = None,
    ) -> None:
        self.shards = shards
        self.slices = slices
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.arch = arch
        self.width = width
        self.depth = depth
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.backbone_epochs = backbone_epochs
        self.backbone_lr = backbone_lr
        self.aggregation = aggregation
        self.seed = seed
        self.salt = salt
        self.backbone = backbone  # None: the built-in `arch`; "hf:PATH" or a Backbone otherwise
        self.sharding = sharding
        self.num_classes = num_classes
        self.label_names = list(label_names) if label_names is not None else None
        self.preprocess = preprocess
        self.executor = executor
        self.ctx = ctx
        self.signing_key = signing_key
        self.store: LineageStore | None = None
        self._snapshot: _Snapshot | None = None
        self._template: nn.Module | None = None
        self._backbone: Tensors | None = None
        self._transform: FeatureTransform | None = None
        self._head_init: Tensors | None = None
        self._lock = threading.RLock()  # one writer thread at a time (the directory lock adds processes)
        self._swap_lock = threading.RLock()  # guards rebuilding the served snapshot
        self.fault_injector: Callable[[str], None] | None = None

    # ------------------------------------------------------------------------------------------------
    # hyper-parameters
    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._param_names()}

    @classmethod
    def _param_names(cls) -> list[str]:
        import inspect

        names: list[str] = []
        for klass in reversed(cls.__mro__):
            if "__init__" in klass.__dict__:
                for n, prm in inspect.signature(klass.__init__).parameters.items():
                    if prm.kind in (prm.VAR_KEYWORD, prm.VAR_POSITIONAL) or n in _NOT_PARAMS:
                        continue
                    if n not in names:
                        names.append(n)
        return names

    def _validate(self, data: IdDataset) -> None:
        from unlearnkit.data.public_fit import PREPROCESS

        for name in ("shards", "slices", "epochs", "batch_size", "lora_rank", "width"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.backbone is None and self.arch not in ARCHS:
            raise ConfigError(f"unknown arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.aggregation_ not in AGGREGATIONS:
            raise ConfigError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")
        if self.sharding not in SHARDINGS:
            raise ConfigError(f"sharding must be one of {', '.join(SHARDINGS)}, got {self.sharding!r}")
        if self.preprocess not in PREPROCESS:
            raise ConfigError(f"preprocess must be one of {', '.join(PREPROCESS)}, got {self.preprocess!r}")
        if self.salt is not None and (not isinstance(self.salt, str) or not self.salt):
            raise ConfigError("salt must be a non-empty string")
        self.task_ = "regression" if data.is_regression else "classification"
        if data.is_regression and (self.aggregation == "vote" or self.num_classes or self.label_names):
            raise ConfigError(
                "regression targets are averaged over shards: aggregation='vote', num_classes and "
                "label_names apply to class labels only"
            )
        if len(data) < self.shards * self.slices:
            raise ConfigError(f"{len(data)} samples cannot fill {self.shards} shards × {self.slices} slices")

    @property
    def aggregation_(self) -> str:
        return "mean" if self.is_regression_ else self.aggregation or self.default_aggregation

    @property
    def is_regression_(self) -> bool:
        """A regression model (float targets, one output averaged over shards)."""
        return getattr(self, "task_", "classification") == "regression"

    @property
    def backbone_(self) -> Tensors:
        """The frozen backbone's weights, read from the model directory on first use."""
        if self._backbone is None:
            from safetensors.torch import load

            data = (self.directory / BACKBONE_FILE).read_bytes()
            self.check_signed_bytes(BACKBONE_FILE, data)  # the bytes loaded are the bytes signed, read once
            self._backbone = load(data)
        return self._backbone

    @property
    def transform_(self) -> FeatureTransform:
        """The recorded public-split input scaling, as a callable on tensors (built on first use)."""
        if self._transform is None:
            from unlearnkit.data.public_fit import FeatureTransform

            self._transform = FeatureTransform(self.public_fit_)
        return self._transform

    @property
    def template_(self) -> nn.Module:
        """The served architecture with its LoRA adapters, built from the frozen backbone on first use."""
        if self._template is None:
            self._template = build_template(self.spec_, self.lora_, self.backbone_)
            self._head_init = {k: v.clone() for k, v in snapshot(head_params(self._template)).items()}
        return self._template

    @property
    def head_init_(self) -> Tensors:
        """The head's initial parameters (the seeded template's): every shard's head starts from them."""
        if self._head_init is None:
            self.template_  # noqa: B018 - builds both
        assert self._head_init is not None
        return self._head_init

    @property
    def depth_(self) -> int:
        """LoRA layers of the model: the fitted backbone's, else the built-in depth asked for."""
        spec = getattr(self, "spec_", None)
        if spec is not None:
            return spec.num_layers
        return self.depth if self.depth is not None else max(4, self.slices)

    # ------------------------------------------------------------------------------------------------
    # what subclasses decide
    def _orders(self, shard: int) -> list[Prefix]:
        """The slice orders this shard trains (S3T: B of them; others: one)."""
        return [tuple(range(self.slices))]

    def _node_layers(self, depth: int) -> tuple[list[int], bool]:
        """``(layers whose LoRA the node at this depth trains, fresh init?)``. Default: all layers, fresh at 1."""
        return list(range(self.depth_)), depth == 1

    def _node_epochs(self) -> int:
        return self.epochs

    def _node_key(self, shard: int, prefix: Prefix, seen_hash: str) -> str:
        return hashlib.sha256(f"{self.kind}|{shard}|{','.join(map(str, prefix))}|{seen_hash}".encode()).hexdigest()

    def _plan_deletion(self, ids: list[int], assignment: dict[int, tuple[int, int]]) -> _Plan:
        """Default (SISA/Retrain): roll each hit shard back to before its first hit slice.

        ``_after_rollback`` decides whether the shard then serves that earlier checkpoint or leaves the vote.
        """
        hits = _hits(ids, assignment)
        plan = _Plan([], self._retire(hits))
        for sh, sq, order, depth, _state in self._rows_:
            if sh not in hits:
                continue
            new_depth = min(depth, min(order.index(sl) for sl in hits[sh]))
            new_state = self._after_rollback(new_depth)
            plan.serving.append((sh, sq, order, new_depth, new_state))
            plan.deactivated.append(
                {
                    "shard": sh,
                    "sequence": sq,
                    "order": list(order),
                    "depth_before": depth,
                    "depth_after": new_depth,
                    "state": new_state,
                }
            )
            if new_state != "serving" or new_depth == 0:
                plan.pending.append(sh)
        return plan

    def _books(self, *, copy: bool = True) -> dict[int, tuple[list[int], SequenceBook]]:
        """Per shard: ``(sequence numbers, SequenceBook of alive depths)`` (an excluded sequence counts as dead).

        The same bookkeeping S3T serves from and the deletion-rate simulation runs (Alg. 4, Lemma 1). Built once
        per serving state (rows are replaced, not changed in place), and then only for the shards whose rows
        changed (a deletion changes one); ``copy=False`` hands out the cached books themselves, to read only.
        """
        rows_now = self._rows_
        cached = getattr(self, "_books_of", None)
        if cached is None or cached[0] is not rows_now:
            by_shard: dict[int, list[tuple[int, Prefix, int]]] = {}
            for sh, sq, order, depth, state in rows_now:
                by_shard.setdefault(sh, []).append((sq, order, depth if state == "serving" else 0))
            before = {} if cached is None else cached[1]
            books = {}
            for sh, rows in by_shard.items():
                key = tuple(rows)
                old = before.get(sh)
                if old is None or old[0] != key:
                    seqs = [sq for sq, _, _ in rows]
                    old = (key, seqs, SequenceBook([o for _, o, _ in rows], [d for _, _, d in rows]))
                books[sh] = old
            cached = self._books_of = (rows_now, books)
        if not copy:
            return {sh: (seqs, book) for sh, (_, seqs, book) in cached[1].items()}
        return {sh: (list(seqs), book.copy()) for sh, (_, seqs, book) in cached[1].items()}

    def _after_rollback(self, depth: int) -> str:
        return "excluded"

    def _retire(self, hits: dict[int, set[int]]) -> list[str]:
        """Active checkpoints trained on a hit slice: exactly those whose seen set holds a deleted id."""
        return sorted(k for k, (sh, prefix) in self._nodes_.items() if sh in hits and set(prefix) & hits[sh])

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def _ctx(self) -> RunContext:
        if self.ctx is None:
            self.ctx = RunContext(seed=self.seed)
        self.ctx.apply_threads()
        return self.ctx

    # ------------------------------------------------------------------------------------------------
    # open / save / load
    def _open(self, directory: Path, db_url: str | None, fresh: bool = False, built: tuple | None = None) -> None:
        self.directory = directory
        config = json.loads((directory / STRATEGY_FILE).read_text())
        self.config_ = config
        self.spec_: Backbone = (
            backbone_from_config(config["backbone_config"], directory)
            if config.get("backbone_config")
            else BuiltinBackbone(ModelSpec(**config["spec"]))
        )
        self.lora_ = LoraSpec(**config["lora"])
        self.salt_ = config["salt"]
        self.backbone_description_ = config["backbone"]
        # the recorded label set is the model's from now on (a declared count stays the same)
        self.num_classes = self.num_classes_ = int(config["num_classes"])
        self.task_ = config.get("task", "classification")
        if self.is_regression_:
            self.num_classes = None  # the one-wide head is not a declared label set
        self.public_fit_ = config.get("public_fit", {})
        self._transform: FeatureTransform | None = None  # built on first use (imports torch)
        self.sharding_ = config.get("sharding", "id")
        self.num_features = self.spec_.in_features
        self.db_url_ = db_url
        self._writer = WriterLock(directory)
        if not fresh:
            self._check_store_present(directory, db_url)
        url = db_url or f"sqlite:///{directory / DB_FILE}"
        pepper = (directory / SECRET_FILE).read_bytes()
        self.store = LineageStore(url, pepper)
        if not fresh and self.store.get_meta("strategy") not in (None, self.kind):
            raise LineageError(f"{url} holds a {self.store.get_meta('strategy')} model, not {self.kind}")
        self.ckpt_ = CheckpointDir(directory / "checkpoints")
        self._backbone: Tensors | None = None  # read on first use (imports torch)
        if built is None:  # built on first use: a deletion that retrains nothing never imports peft
            built = (None, None, {}, {})
        self._template, self._head_init = built[0], built[1]
        if "held" not in config:
            raise DataError(
                f"{directory}: written by an older unlearnkit (training data in data.safetensors); fit it again"
            )
        self.held_ = HeldData(directory, HeldSpec.from_config(config["held"], held_key(pepper)))
        self._unsynced: set[Path] = set()
        self._unsynced_count = 0
        self._caught_up = False
        self._assignment: dict[int, tuple[int, int]] | None = None
        self._tensor_cache: dict[str, Tensors] = built[2]
        self._sha_: dict[str, str] = {}
        self._module_cache: dict[tuple[str, ...], nn.Module] = built[3]
        if not fresh:
            with self._writer.hold():
                self._check_on_open()
                self.remove_purged_files()  # committed removals a crash left undone (orphans stay for audit)
                queued = self.store.pending_purges()  # deletions a crash left committed but not yet purged
                if queued:
                    self.held_.purge_durably(queued)
                    self.store.clear_purges(queued)
            self._load_serving()

    def close(self) -> None:
        """Sync queued held-row purges, then close the store (a closed model can be loaded again)."""
        if self.store is not None and getattr(self, "_unsynced_count", 0) and self._snapshot is not None:
            try:
                self.sync_purges()
            except Exception as exc:  # the queue in the store finishes them on the next open
                log.warning("could not sync held-row purges at close: %s", exc)
        if self.store is not None:
            self.store.close()
        self.store = None
        if getattr(self, "_writer", None) is not None:
            self._writer.close()

    @property
    def assignment_(self) -> dict[int, tuple[int, int]]:
        """``{id: (shard, slice)}`` of every sample (one O(N) query, cached: for tools and tests; the engine
        looks up only the ids it deletes)."""
        if self._assignment is None:
            self._assignment = self._require_store().assignment()
        return self._assignment

    def held_ids(self) -> list[int]:
        """Ids whose row is still held (live) in the held data: an O(N) read, for audits and tests."""
        return self.held_.live_ids()

    def save(self, directory: str | Path) -> Path:
        """Copy the model directory (with a consistent copy of a SQLite store) atomically to ``directory``."""
        self._check_fitted()
        dest = Path(directory)
        if dest.exists():
            raise DataError(f"{dest}: already exists")
        with self._lock:
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent if dest.parent.exists() else None))
            try:
                for item in self.directory.iterdir():
                    if item.name.startswith(DB_FILE):
                        continue
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
                if self.db_url_ is None:
                    import sqlite3

                    src = sqlite3.connect(str(self.directory / DB_FILE))
                    dst = sqlite3.connect(str(tmp / DB_FILE))
                    src.backup(dst)
                    src.close()
                    dst.close()
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, dest)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return dest

    @classmethod
    def load(
        cls,
        directory: str | Path,
        db_url: str | None = None,
        *,
        executor: Executor | None = None,
        ctx: RunContext | None = None,
        signing_key: str | Path | None = None,
    ) -> ExactStrategy:
        """Open a model directory. Refuses any checkpoint whose seen set meets a completed deletion, files that
        differ from the signed manifest, and a store that no longer holds the last signed audit head."""
        d = Path(directory)
        if not (d / STRATEGY_FILE).is_file():
            raise DataError(f"{d}: not a model directory (no {STRATEGY_FILE})")
        config = json.loads((d / STRATEGY_FILE).read_text())
        if cls.kind and config.get("kind") != cls.kind:
            raise DataError(f"{d}: holds a {config.get('kind')} model, not {cls.kind}")
        obj = cls(**config["params"], executor=executor, ctx=ctx, signing_key=signing_key)
        obj._open(d, db_url)
        return obj

    # ------------------------------------------------------------------------------------------------
    # forgetting
    def _fault(self, step: str) -> None:
        if self.fault_injector is not None:
            self.fault_injector(step)

    def _retrain_on_forget(self) -> bool:
        return True

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if k in ("shards", "slices", "budget", "selection", "mode", "epochs")
        )
        return f"{type(self).__name__}({shown})"
