"""The machinery every exact strategy shares: fit, forget, retrain, serve, save and load over a lineage store.

A strategy is a set of shards; each shard trains one or more slice *orders* (S3T: B orders; SISA and Retrain:
one). Subclasses say which orders exist, which LoRA layers a node trains, how many epochs a stage takes, and
what a deletion does to the served depth. Everything else — content-addressed checkpoints, the commit point,
purging, receipts, crash recovery — lives here once.

Model directory::

    strategy.json          kind + hyper-parameters + model spec (no data)
    backbone.safetensors   the frozen backbone (trained on public data only)
    data.safetensors       the deletable training data still held (rewritten without deleted rows)
    checkpoints/<key>.safetensors
    lineage.db             the lineage store (unless another database URL is given)
    secret.key             the pepper keying the HMACs of ids, owners and sample contents (mode 0600)
    manifest.json          sha256 of the four files above the checkpoints, signed with the model key
    audit-head.json        the audit chain's head (seq, hash, model version), signed after every change
    signing/ed25519.pem    the model's Ed25519 key (unless ``signing_key``/``UNLEARNKIT_KEY_PATH`` points elsewhere)

Writers (forget, retrain, purge) hold the directory's :class:`~unlearnkit.exact.locking.WriterLock` from plan to
swap; a deletion planned against a version another process has since moved is re-planned, never committed.

What shapes a served model besides its checkpoints — the label set and the input scaling — is fitted on the
public split or declared (:mod:`unlearnkit.data.public_fit`) and recorded in ``strategy.json`` (``public_fit``).

Float targets (``data.is_regression``) train a regression model: a one-wide head, mean squared error, the shard
outputs averaged (``predict`` returns values, ``score`` is R²); no label set is fitted (``task: regression``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from unlearnkit.context import RunContext, derive_seed
from unlearnkit.data.dataset import IdDataset, ids_hash
from unlearnkit.data.public_fit import PREPROCESS, FeatureTransform, fit_public
from unlearnkit.errors import (
    ConfigError,
    DataError,
    LineageError,
    NotFittedError,
    RetrainRequiredError,
    StalePlanError,
    UnknownIdError,
)
from unlearnkit.exact._engine import (
    NodeJob,
    Prefix,
    ShardTask,
    Tensors,
    build_template,
    pretrain_backbone,
    run_shard_task,
    served_module,
)
from unlearnkit.exact.aggregation import AGGREGATIONS, aggregate, aggregate_values
from unlearnkit.exact.checkpoints import CheckpointDir
from unlearnkit.exact.integrity import IntegrityMixin
from unlearnkit.exact.locking import WriterLock
from unlearnkit.exact.sequences import SequenceBook
from unlearnkit.lineage.exports import newly_stale
from unlearnkit.lineage.manifest import replace_files
from unlearnkit.lineage.store import AuditReport, LineageStore, iso, utcnow
from unlearnkit.models.backbones import Backbone, BuiltinBackbone, backbone_from_config, resolve_backbone
from unlearnkit.models.backbones.card import write_model_card
from unlearnkit.models.export import ServedEnsemble
from unlearnkit.models.lora import LoraSpec, head_params, layer_blocks, snapshot
from unlearnkit.models.train import predict_logits
from unlearnkit.models.zoo import ARCHS, ModelSpec
from unlearnkit.runtime.executor import Executor, LocalExecutor
from unlearnkit.types import DeletionReceipt

log = logging.getLogger(__name__)

STRATEGY_FILE = "strategy.json"
BACKBONE_FILE = "backbone.safetensors"
DATA_FILE = "data.safetensors"
SECRET_FILE = "secret.key"
DB_FILE = "lineage.db"


_NOT_PARAMS = (
    "self",
    "executor",
    "ctx",
    "backbone",
    "signing_key",
)  # constructor arguments that are not hyper-parameters


def shard_slice_of(sample_id: int, salt: str, shards: int, slices: int) -> tuple[int, int]:
    """A fixed, content-independent assignment from a keyed hash of the id alone.

    Deleting or changing one sample never moves another, which the counterfactual exactness tests rely on;
    the salt is secret so requesters cannot aim deletions at a slice (SISA's adaptive-deletion caveat).
    """
    h = int.from_bytes(hashlib.sha256(f"{salt}:{int(sample_id)}".encode()).digest()[:8], "big")
    cell = h % (shards * slices)
    return cell // slices, cell % slices


def owner_shard_slice_of(owner: str, salt: str, shards: int, slices: int) -> tuple[int, int]:
    """Owner-aware placement: every sample of ``owner`` in one (shard, slice), from HMAC(salt, owner).

    Forgetting a data subject then cuts at most one slice instead of one per sample (see ``bench exact``).
    """
    h = int.from_bytes(hmac.new(salt.encode(), f"owner:{owner}".encode(), hashlib.sha256).digest()[:8], "big")
    cell = h % (shards * slices)
    return cell // slices, cell % slices


SHARDINGS = ("auto", "owner", "id")


def assign_cells(data: IdDataset, salt: str, shards: int, slices: int, sharding: str) -> dict[int, tuple[int, int]]:
    """``{id: (shard, slice)}``: by owner where samples have one (``owner``/``auto``), else by id."""
    owners = data.owners if sharding != "id" and data.owners is not None else (None,) * len(data)
    return {
        i: owner_shard_slice_of(o, salt, shards, slices) if o is not None else shard_slice_of(i, salt, shards, slices)
        for i, o in zip(data.id_list(), owners, strict=True)
    }


@dataclass(frozen=True)
class _Member:
    shard: int
    sequence: int
    prefix: Prefix
    module: nn.Module


@dataclass(frozen=True)
class _Snapshot:
    """What is served: immutable, swapped by one reference assignment."""

    version: int
    members: tuple[_Member, ...]
    aggregation: str


@dataclass
class _Plan:
    serving: list[tuple[int, int, Prefix, int, str]]
    retire: list[str]
    deactivated: list[dict[str, Any]] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)


class _TrainingConflict(Exception):
    """A deletion reached the shards being retrained before their result was committed."""


def _hits(ids: Iterable[int], assignment: dict[int, tuple[int, int]]) -> dict[int, set[int]]:
    """``{shard: {slices holding a deleted id}}``."""
    hits: dict[int, set[int]] = {}
    for i in ids:
        sh, sl = assignment[i]
        hits.setdefault(sh, set()).add(sl)
    return hits


class ExactStrategy(IntegrityMixin):
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

    def _books(self) -> dict[int, tuple[list[int], SequenceBook]]:
        """Per shard: ``(sequence numbers, SequenceBook of alive depths)`` (an excluded sequence counts as dead).

        The same bookkeeping S3T serves from and the deletion-rate simulation runs (Alg. 4, Lemma 1).
        """
        by_shard: dict[int, list[tuple[int, Prefix, int]]] = {}
        for sh, sq, order, depth, state in self._rows_:
            by_shard.setdefault(sh, []).append((sq, order, depth if state == "serving" else 0))
        return {
            sh: ([sq for sq, _, _ in rows], SequenceBook([o for _, o, _ in rows], [d for _, _, d in rows]))
            for sh, rows in by_shard.items()
        }

    def _after_rollback(self, depth: int) -> str:
        return "excluded"

    def _retire(self, hits: dict[int, set[int]]) -> list[str]:
        """Active checkpoints trained on a hit slice: exactly those whose seen set holds a deleted id."""
        return sorted(k for k, (sh, prefix) in self._nodes_.items() if sh in hits and set(prefix) & hits[sh])

    def _extra_config(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------------------------------------
    # fit
    def fit(
        self,
        data: IdDataset,
        public: IdDataset | None = None,
        *,
        directory: str | Path | None = None,
        db_url: str | None = None,
    ) -> ExactStrategy:
        """Pretrain/freeze the backbone on ``public``, ingest ``data`` into the lineage store, train every shard.

        ``directory`` is written atomically (a temporary sibling renamed into place); without one the model
        lives in a temporary directory until :meth:`save`.
        """
        self._validate(data)
        if public is not None and public.num_features != data.num_features:
            raise DataError(f"public data has {public.num_features} features, training data {data.num_features}")
        ctx = self._ctx()
        self.close()
        final = Path(directory) if directory is not None else None
        if final is not None and final.exists():
            raise DataError(f"{final}: already exists (choose another directory or remove it)")
        parent = final.parent if final is not None else Path(tempfile.gettempdir())
        parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".unlearnkit-fit.", dir=parent))
        try:
            self._fit_into(work, data, public, db_url, ctx)
            if final is not None:
                built = (self.template_, self.head_init_, self._tensor_cache, self._module_cache)
                self.close()
                os.replace(work, final)
                self._open(final, db_url, built=built)  # what was built for `work` serves `final` unchanged
            else:  # an in-memory model: its working directory goes when the object does (save() keeps a copy)
                weakref.finalize(self, shutil.rmtree, work, True)
        except BaseException:
            self.close()
            shutil.rmtree(work, ignore_errors=True)
            raise
        return self

    def _ctx(self) -> RunContext:
        if self.ctx is None:
            self.ctx = RunContext(seed=self.seed)
        self.ctx.apply_threads()
        return self.ctx

    def _public_fit(self, data: IdDataset, public: IdDataset | None, numeric: bool = True) -> dict[str, Any]:
        """Label set and input scaling from declarations and the public split only (never ``data``'s rows).

        ``numeric``: the backbone reads numeric feature rows (texts and images are encoded by the backbone's own
        pretrained tokenizer or image processor, and are not rescaled).
        """
        if data.is_regression:  # one output, no label set: nothing about labels to fit or declare
            fitted = fit_public(public, {"num_classes": 1, "preprocess": self.preprocess, "numeric_inputs": numeric})
            fitted["label_set"] = {"num_classes": 1, "source": "regression", "names": None}
            return fitted
        declared = self.num_classes
        if declared is None and (data.label_source == "declared" or (data.label_source == "public" and public is None)):
            declared = data.num_classes  # fixed by the loader or the user, not counted from the rows
        fitted = fit_public(
            public,
            {
                "num_classes": declared,
                "label_names": self.label_names or getattr(data, "label_names", None),
                "preprocess": self.preprocess,
                "numeric_inputs": numeric,
            },
        )
        label_set = fitted["label_set"]
        top = int(data.y.max()) if len(data) else -1
        if top >= label_set["num_classes"]:
            raise ConfigError(
                f"training label {top} is outside the label set 0..{label_set['num_classes'] - 1} "
                f"({label_set['source']}); declare the full label set (num_classes / --classes)"
            )
        if fitted["scaling"]["kind"] == "identity" and self.preprocess != "none" and numeric:
            log.warning("preprocessing: %s", fitted["scaling"]["why"])
        return fitted

    def _fit_into(
        self, work: Path, data: IdDataset, public: IdDataset | None, db_url: str | None, ctx: RunContext
    ) -> None:
        spec = resolve_backbone(
            self.backbone,
            arch=self.arch,
            width=self.width,
            depth=self.depth if self.depth is not None else max(4, self.slices),
        )
        public_fit = self._public_fit(data, public, numeric=getattr(spec, "modality", "tabular") == "tabular")
        transform = FeatureTransform(public_fit)
        spec = spec.bind(public_fit["label_set"]["num_classes"], data.num_features)
        layer_blocks(spec.num_layers, self.slices)  # validates slices <= LoRA layers
        t0 = time.perf_counter()
        backbone, description = pretrain_backbone(
            spec,
            None if public is None else transform(public.x),
            None if public is None else public.y,
            epochs=self.backbone_epochs,
            lr=self.backbone_lr,
            batch_size=self.batch_size,
            seed=derive_seed(self.seed, "backbone"),
        )
        if public is None and "randomly initialised" in description:
            log.warning("backbone: %s", description)
        # the shard/slice assignment key: secret and random unless given (counterfactual tests share one)
        salt = self.salt or secrets.token_hex(16)
        sharding = self.sharding
        if sharding == "auto":
            sharding = "owner" if data.owners is not None and any(o is not None for o in data.owners) else "id"
        (work / SECRET_FILE).write_bytes(secrets.token_bytes(32))
        os.chmod(work / SECRET_FILE, 0o600)
        save_file(backbone, str(work / BACKBONE_FILE))
        spec.save_assets(work)
        self._write_data(work, data)
        config = {
            "kind": self.kind,
            "params": self.get_params(),
            "spec": spec.spec.to_dict() if isinstance(spec, BuiltinBackbone) else None,
            "backbone_config": spec.to_config(),
            "lora": LoraSpec(self.lora_rank, self.lora_alpha, self.lora_dropout).to_dict(),
            "backbone": description,
            "salt": salt,
            "num_classes": spec.num_classes,
            "public_fit": public_fit,
            "sharding": sharding,
            "extra": self._extra_config(),
            "created_at": iso(utcnow()),
            "data_name": data.name,
            "label_names": list(data.label_names) if data.label_names is not None else None,
            "external_ids": data.external_ids is not None,
            "task": self.task_,
        }
        (work / STRATEGY_FILE).write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
        write_model_card(work, config, spec)
        self._open(work, db_url, fresh=True)
        self._require_store()
        assignment = assign_cells(data, salt, self.shards, self.slices, sharding)
        self.store.ingest(data, assignment)
        self.assignment_ = assignment
        self.store.set_meta("strategy", self.kind)
        self._train_shards(list(range(self.shards)), reason="fit")
        self._sign_files(work)
        self.checkpoint_head()
        self.fit_seconds_ = time.perf_counter() - t0

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
        self.transform_ = FeatureTransform(self.public_fit_)
        self.sharding_ = config.get("sharding", "id")
        self.num_features = self.spec_.in_features
        self.db_url_ = db_url
        self._writer = WriterLock(directory)
        if not fresh:
            self._check_store_present(directory, db_url)
        url = db_url or f"sqlite:///{directory / DB_FILE}"
        self.store = LineageStore(url, (directory / SECRET_FILE).read_bytes())
        if not fresh and self.store.get_meta("strategy") not in (None, self.kind):
            raise LineageError(f"{url} holds a {self.store.get_meta('strategy')} model, not {self.kind}")
        self.ckpt_ = CheckpointDir(directory / "checkpoints")
        self.backbone_ = load_file(str(directory / BACKBONE_FILE))
        if built is None:
            self.template_ = build_template(self.spec_, self.lora_, self.backbone_)
            self.head_init_ = {k: v.clone() for k, v in snapshot(head_params(self.template_)).items()}
            built = (self.template_, self.head_init_, {}, {})
        self.template_, self.head_init_ = built[0], built[1]
        self.assignment_ = self.store.assignment()
        self._tensor_cache: dict[str, Tensors] = built[2]
        self._sha_: dict[str, str] = {}
        self._module_cache: dict[tuple[str, ...], nn.Module] = built[3]
        if not fresh:
            with self._writer.hold():
                self._check_on_open()
            self._load_serving()
            self._warm()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        self.store = None

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
    # data held for retraining
    def _write_data(self, directory: Path, data: IdDataset) -> None:
        tmp = directory / (DATA_FILE + ".tmp")
        save_file({"x": data.x.contiguous(), "y": data.y.contiguous(), "ids": data.ids.contiguous()}, str(tmp))
        os.replace(tmp, directory / DATA_FILE)

    def _read_data(self) -> IdDataset:
        t = load_file(str(self.directory / DATA_FILE))
        return IdDataset(t["x"], t["y"], t["ids"], None, 0 if self.is_regression_ else self.num_classes_, "held")

    def _purge_data(self, deleted: set[int]) -> bool:
        """Rewrite the held training data without deleted rows (L0: the rows are gone from disk), under a
        re-signed manifest (crash-safe: see :func:`unlearnkit.lineage.manifest.replace_files`)."""
        data = self._read_data()
        present = [i for i in data.id_list() if i in deleted]
        if present:
            kept = data.without(present)
            tmp = self.directory / f".{DATA_FILE}.{secrets.token_hex(8)}.tmp"
            save_file({"x": kept.x.contiguous(), "y": kept.y.contiguous(), "ids": kept.ids.contiguous()}, str(tmp))
            replace_files(self.directory, {DATA_FILE: tmp}, self.signer())
        return bool(present)

    # ------------------------------------------------------------------------------------------------
    # training
    def _train_shards(self, shards: Sequence[int], reason: str, request_id: str | None = None) -> dict[str, Any]:
        """(Re)build every node of ``shards`` that has no active checkpoint, then serve them at full depth.

        Nodes are content-addressed: a node whose slices did not change keeps its checkpoint (SISA's
        "unlearning = run training again" design); only nodes that saw deleted data are retrained. Training runs
        outside the strategy lock, so deletions keep being served meanwhile; if one lands in these shards before
        the result is committed, the commit is refused and training is planned again.
        """
        t0 = time.perf_counter()
        for _attempt in range(5):
            with self._lock, self._writer.hold():
                if reason != "fit":
                    self.reconcile_files()
                    if self.store.current_version() != self.model_version:  # type: ignore[union-attr]
                        self._load_serving()
                tasks, meta = self._plan_training(shards, reason)
            results = (self.executor or LocalExecutor()).map(run_shard_task, tasks)
            with self._lock:
                info = self._register_training(meta, results, shards, reason, request_id)
            if info is not None:
                info["seconds"] = time.perf_counter() - t0
                return info
            log.info("a deletion reached shards %s while they retrained; planning again", list(shards))
        raise LineageError(f"shards {list(shards)} kept receiving deletions while retraining; try again")

    def _plan_training(self, shards: Sequence[int], reason: str) -> tuple[list[ShardTask], list[tuple]]:
        self._require_store()
        data = self._read_data()
        active = {c.key for c in self.store.checkpoints("active")}
        tasks, meta = [], []
        for shard in shards:
            slices = self.store.refresh_slices(shard) if reason != "fit" else self.store.current_slices(shard)
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
                    seen = sorted(i for sl in prefix for i in members.get(sl, []))
                    parent_seen = sorted(i for sl in prefix[:-1] for i in members.get(sl, []))
                    if d > 1 and seen == parent_seen and self.chain_may_skip:
                        continue  # SISA: a stage with no new data trains nothing
                    seen_hash = ids_hash(seen)
                    key = self._node_key(shard, prefix, seen_hash)
                    node_meta[prefix] = {
                        "key": key,
                        "seen_hash": seen_hash,
                        "seen": len(seen),
                        "rows": [rows[sl] for sl in prefix if sl in rows],
                        "reused": key in active,
                    }
                    if key in active:
                        ancestors[prefix] = self._tensors(key)
                        continue
                    layers, fresh = self._node_layers(d)
                    pos = data.positions(seen) if seen else torch.empty(0, dtype=torch.int64)
                    seed = derive_seed(self.seed, self.kind, shard, ",".join(map(str, prefix)))
                    x = self.transform_(data.x[pos])
                    jobs.append(NodeJob(prefix, x, data.y[pos], layers, fresh, self._node_epochs(), seed))
            tasks.append(
                ShardTask(
                    self.spec_, self.lora_, self.backbone_, self.lr, self.batch_size, self.weight_decay, ancestors, jobs
                )
            )
            meta.append((shard, orders, node_meta))
        return tasks, meta

    def _register_training(
        self, meta: list[tuple], results: list[dict], shards: Sequence[int], reason: str, request_id: str | None
    ) -> dict[str, Any] | None:
        """Write the trained nodes and serve the shards at full depth, in one transaction; ``None`` on conflict."""
        self._require_store()
        trained: list[dict[str, Any]] = []
        new_keys: list[str] = []
        try:
            with self._writer.hold(), self.store.session() as s:
                self.store.lock_writes(s)
                reused = [m["key"] for _, _, nm in meta for m in nm.values() if m["reused"]]
                for (shard, _, node_meta), res in zip(meta, results, strict=True):
                    for prefix, r in res.items():
                        m = node_meta[prefix]
                        sha, nbytes = self.ckpt_.write(m["key"], r.tensors)
                        new_keys.append(m["key"])
                        self.store.add_checkpoint(
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
                self._fault("mid_retrain")  # files written, nothing committed: a crash here leaves orphans
                if self.store.conflicts(new_keys, reused, session=s):
                    raise _TrainingConflict
                serving = [
                    (shard, b, order, len(order), "serving")
                    for shard, orders, _ in meta
                    for b, order in enumerate(orders)
                ]
                version = self.store.record_retrain(
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
            registered = {c.key for c in self.store.checkpoints(None)}
            for key in new_keys:
                if key not in registered:
                    self.ckpt_.remove(key)
            return None
        for (_, _, node_meta), res in zip(meta, results, strict=True):
            for prefix, r in res.items():
                self._tensor_cache[node_meta[prefix]["key"]] = r.tensors
        self._load_serving()
        self._warm()
        return {"shards": list(shards), "nodes": trained, "model_version": version}

    def _tensors(self, key: str) -> Tensors:
        """A node's tensors, read once from its file (whose sha256 must match the store's record)."""
        if key not in self._tensor_cache:
            if key not in self._sha_:
                self._sha_ = {c.key: c.file_sha256 for c in self.store.checkpoints("active")}  # type: ignore[union-attr]
            if key not in self._sha_:
                raise LineageError(f"checkpoint {key[:12]} is not active")
            self._tensor_cache[key] = self.ckpt_.read(key, self._sha_[key])
        return self._tensor_cache[key]

    # ------------------------------------------------------------------------------------------------
    # serving
    def _load_serving(self) -> None:
        """Rebuild the served snapshot from the store's serving rows (refusing tainted checkpoints)."""
        self._require_store()
        with self._swap_lock:
            version, rows, active = self.store.serving_state()  # one consistent read
            self._sha_ = {c.key: c.file_sha256 for c in active}
            nodes = {c.key: (c.shard, c.prefix) for c in active}
            self._apply_rows(rows, nodes, version, check=True)

    def _apply_rows(
        self,
        rows: list[tuple[int, int, Prefix, int, str]],
        nodes: dict[str, tuple[int, Prefix]],
        version: int,
        check: bool,
    ) -> None:
        """Serve ``rows`` from the active ``nodes``: one reference swap, modules from the cache when warm."""
        with self._swap_lock:
            if self._snapshot is not None and version < self._snapshot.version:
                return  # a concurrent reload already serves a newer version
            self._build_snapshot(rows, nodes, version, check)

    def _build_snapshot(self, rows: list, nodes: dict[str, tuple[int, Prefix]], version: int, check: bool) -> None:
        by_prefix = {(sh, prefix): key for key, (sh, prefix) in nodes.items()}
        members, used = [], []
        for shard, seq, order, depth in self._choose_served(rows):
            keys = tuple(by_prefix[(shard, order[:d])] for d in range(1, depth + 1) if (shard, order[:d]) in by_prefix)
            if not keys or (not self.chain_may_skip and len(keys) != depth):
                raise LineageError(f"shard {shard} has no active checkpoint for prefix {order[:depth]}")
            used.extend(keys)
            members.append((shard, seq, order[:depth], keys))
        if check and (used or nodes):
            # every active checkpoint, served or not, must be clean: a resurrected row is refused at load
            self.store.assert_loadable(sorted(set(used) | set(nodes)))  # type: ignore[union-attr]
        built = tuple(_Member(sh, sq, prefix, self._module(keys)) for sh, sq, prefix, keys in members)
        self._rows_, self._nodes_ = rows, nodes
        self._snapshot = _Snapshot(version, built, self.aggregation_)

    def _module(self, keys: tuple[str, ...]) -> nn.Module:
        if keys not in self._module_cache:
            chain = [self._tensors(k) for k in keys]
            self._module_cache[keys] = served_module(self.template_, chain, self.head_init_, self.spec_.num_layers)
        return self._module_cache[keys]

    def _warm(self, max_floats: float = 5e7) -> None:
        """Pre-build the module of every alive prefix so a deactivation is a pointer change."""
        per_model = sum(p.numel() for p in self.template_.parameters())
        by_prefix = {(sh, prefix): key for key, (sh, prefix) in self._nodes_.items()}
        wanted = set()
        for sh, _, order, depth, state in self._rows_:
            for d in range(1, depth + 1 if state == "serving" else 0):
                keys = tuple(by_prefix[(sh, order[:k])] for k in range(1, d + 1) if (sh, order[:k]) in by_prefix)
                if keys:
                    wanted.add(keys)
        if per_model * len(wanted) <= max_floats:
            for keys in sorted(wanted):
                self._module(keys)

    def _choose_served(self, rows: list[tuple[int, int, Prefix, int, str]]) -> list[tuple[int, int, Prefix, int]]:
        """Per shard, the (sequence, order, depth) served; default: the single row if serving at depth > 0."""
        return [(sh, sq, order, d) for sh, sq, order, d, st in rows if st == "serving" and d > 0]

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
        if self.store.current_version() == self._snapshot.version:  # type: ignore[union-attr]
            return False
        with self._swap_lock:
            if self.store.current_version() == self._snapshot.version:  # type: ignore[union-attr]
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
        return {
            f"shard{m.shard}": {k: v.detach().clone() for k, v in m.module.state_dict().items()}
            for m in self._snapshot.members
        }  # type: ignore[union-attr]

    def served_ensemble(self) -> tuple[int, ServedEnsemble]:
        """``(version, module)``: the served model at this instant as one standalone module (for export)."""
        self._check_fitted()
        snap = self._snapshot
        pre = self.transform_.module  # the public-fitted input scaling travels with the exported model
        members = [m.module if isinstance(pre, nn.Identity) else nn.Sequential(pre, m.module) for m in snap.members]  # type: ignore[union-attr]
        how = "values" if self.is_regression_ else self.aggregation_
        return snap.version, ServedEnsemble(members, how)  # type: ignore[union-attr]

    def _as_tensor(self, x: Any) -> torch.Tensor:
        """Inputs encoded for the backbone (numeric rows; texts are tokenised by an HF backbone's tokenizer), then
        the recorded public-split scaling (numeric rows only)."""
        return self.transform_(self.spec_.as_input(x))

    def predict_logits(self, x: Any) -> list[torch.Tensor]:
        self._check_fitted()
        if self.spec_.task == "causal-lm":
            raise ConfigError("a causal-LM model serves text: use unlearnkit.exact.EnsembleLM(model).generate(...)")
        snap = self._snapshot
        if not snap.members:  # type: ignore[union-attr]
            raise RetrainRequiredError(
                "every shard is dead (all its layers saw deleted data): retrain required before serving"
            )
        t = self._as_tensor(x)
        bs = 2048 if isinstance(self.spec_, BuiltinBackbone) else 64
        return [predict_logits(m.module, t, batch_size=bs) for m in snap.members]  # type: ignore[union-attr]

    def predict_proba(self, x: Any) -> np.ndarray:
        """Aggregated class probabilities of the served shards, shape (n, C)."""
        if self.is_regression_:
            raise ConfigError("a regression model has no class probabilities: use predict() for its values")
        return aggregate(self.predict_logits(x), self.aggregation_).numpy()

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
        self._check_fitted()
        snap = self._snapshot
        t = self._as_tensor(x)
        if snap.members:  # type: ignore[union-attr]
            logits = [predict_logits(m.module, t) for m in snap.members]  # type: ignore[union-attr]
            out = aggregate_values(logits) if self.is_regression_ else aggregate(logits, self.aggregation_)
            return out.numpy(), snap.version, "exact:ensemble"  # type: ignore[union-attr]
        model = self.public_fallback_ if fallback else None
        if model is None:
            raise RetrainRequiredError(
                "every shard is dead (all its layers saw deleted data): retrain required before serving"
            )
        out = predict_logits(model, t)
        out = out.reshape(-1) if self.is_regression_ else torch.softmax(out, dim=1)
        return out.numpy(), snap.version, "exact:public-fallback"  # type: ignore[union-attr]

    def predict(self, x: Any) -> np.ndarray:
        """Predicted classes, or for regression the mean of the served shards' outputs (values, shape (n,))."""
        if self.is_regression_:
            return aggregate_values(self.predict_logits(x)).numpy()
        return self.predict_proba(x).argmax(axis=1)

    def predict_labels(self, x: Any) -> list[Any]:
        """Predicted class names when the model records declared label names, else class indices."""
        names = None if self.is_regression_ else self.config_.get("label_names")
        pred = self.predict(x).tolist()
        return [names[i] for i in pred] if names else pred

    def score(self, data: IdDataset) -> float:
        """Accuracy; for regression R² (1 − SSE/SST, scikit-learn's regressor score; 1 is perfect)."""
        if self.is_regression_:
            y = data.y.double().numpy()
            sse = float(((self.predict(data.x) - y) ** 2).sum())
            sst = float(((y - y.mean()) ** 2).sum())
            return 1.0 - sse / sst if sst > 0 else float("nan")
        return float((self.predict(data.x) == data.y.numpy()).mean())

    # ------------------------------------------------------------------------------------------------
    # forgetting
    def _fault(self, step: str) -> None:
        if self.fault_injector is not None:
            self.fault_injector(step)

    def _resolve_ids(self, ids: Iterable[int] | None, owner: str | None) -> list[int]:
        self._require_store()
        if (ids is None) == (owner is None):
            raise ConfigError("give exactly one of ids or owner")
        if owner is not None:
            return self.store.ids_of_owner(owner)
        ids = list(ids)  # type: ignore[arg-type]
        if ids and self.config_.get("external_ids") and all(isinstance(i, str) for i in ids):
            return self.store.ids_of_external(ids)  # external (string) ids, resolved through their keyed hashes
        try:
            wanted = sorted({int(i) for i in ids})
        except (TypeError, ValueError):
            raise DataError(f"sample ids must be integers, got {ids!r}") from None
        if not wanted:
            raise ConfigError("no ids to forget")
        unknown = self.store.unknown_ids(wanted)
        if unknown:
            raise UnknownIdError(unknown)
        return wanted

    def forget(
        self,
        ids: Iterable[int] | None = None,
        owner: str | None = None,
        *,
        request_id: str | None = None,
        external_ref: str | None = None,
        defer_retrain: bool = False,
    ) -> DeletionReceipt:
        """Remove the influence of ``ids`` (or all of ``owner``'s samples) from the served model.

        Steps (each idempotent, so re-running an interrupted request completes it): record the request; plan;
        commit (samples deleted, checkpoints that saw them retired, serving changed, version bumped — one
        transaction); swap the served snapshot; retrain if the strategy does so; purge retired checkpoint files
        and the held rows; complete the request with its receipt.
        """
        self._check_fitted()
        self._require_store()
        with self._lock:
            t0 = time.perf_counter()
            wanted = self._resolve_ids(ids, owner)
            rid, stored, received = self.store.begin_request(
                wanted, request_id=request_id, external_ref=external_ref, owner=owner
            )
            if stored is not None:
                return DeletionReceipt.from_dict(stored)
            try:
                return self._run_request(rid, received, t0, defer_retrain)
            except BaseException as exc:
                self.store.fail_request(rid, f"{type(exc).__name__}: {exc}")
                self._load_serving()  # serve exactly what the store says, whatever step failed
                raise

    def _run_request(self, rid: str, received: Any, t0: float, defer_retrain: bool) -> DeletionReceipt:
        store = self.store
        self._require_store()
        timings: dict[str, float] = {}
        to_delete, already = store.request_ids(rid)
        with self._writer.hold():  # plan → commit → swap: one writer per directory, across processes
            self.reconcile_files()
            plan_dict, committed_here = store.get_plan(rid), None
            if plan_dict is None:
                self._fault("before_commit")
                plan_dict, committed_here = self._plan_and_commit(rid, to_delete, timings)
                self._fault("after_commit")
            t = time.perf_counter()
            if committed_here is not None:
                # the commit transaction verified the lineage invariant; apply the same rows in memory
                plan, version = committed_here
                changed = {(sh, sq): (sh, sq, o, d, st) for sh, sq, o, d, st in plan.serving}
                rows = [changed.get((r[0], r[1]), r) for r in self._rows_]
                nodes = {k: v for k, v in self._nodes_.items() if k not in set(plan.retire)}
                self._apply_rows(rows, nodes, version, check=False)
            else:
                self._load_serving()
            timings["swap_ms"] = (time.perf_counter() - t) * 1e3
        version_before = int(plan_dict["version_before"])
        self._fault("after_swap")
        retrained: list[dict[str, Any]] = []
        pending = sorted(set(plan_dict["pending"]) & set(self.pending_retrain()))
        if pending and not defer_retrain and self._retrain_on_forget():
            info = self._train_shards(pending, reason="deletion", request_id=rid)
            retrained = [{"shard": n["shard"], "prefix": n["prefix"], "seconds": n["seconds"]} for n in info["nodes"]]
            timings["retrain_ms"] = info["seconds"] * 1e3
        self._fault("before_purge")
        t = time.perf_counter()
        with self._writer.hold():
            purged = self._purge_files()
        timings["purge_ms"] = (time.perf_counter() - t) * 1e3
        self._fault("after_purge")
        rows = store.sample_rows(to_delete + already)
        still_pending = self.pending_retrain()
        receipt = DeletionReceipt(
            request_id=rid,
            strategy=self.kind,
            guarantee=("exact-retrain" if retrained else self.guarantee_on_forget)
            if to_delete
            else "none (already forgotten)",
            id_hashes=sorted(store.id_hash(i) for i in to_delete),
            external_id_hashes=store.external_hashes_of(to_delete) if self.config_.get("external_ids") else [],
            content_hashes=sorted(rows[i]["content_hash"] for i in to_delete),
            model_version_before=version_before,
            model_version_after=self._snapshot.version,  # type: ignore[union-attr]
            received_at=iso(received) or "",
            completed_at=iso(utcnow()) or "",
            latency_ms=round((time.perf_counter() - t0) * 1e3, 3),
            already_forgotten=sorted(store.id_hash(i) for i in already),
            deactivated=plan_dict["deactivated"],
            retrained=retrained,
            purged_checkpoints=sorted(plan_dict.get("retire_sha256", [])),
            pending_retrain=[s for s in still_pending if s in set(plan_dict["pending"])],
            levels=["L0", "L1", "L2"] if to_delete else [],
            verification={
                "lineage": "no active checkpoint saw the ids (checked at commit)",
                "timings_ms": {k: round(v, 3) for k, v in timings.items()},
            },
            notes=self._receipt_notes(to_delete, already, still_pending),
            stale_exports=newly_stale(store, self._snapshot.version) if to_delete else [],  # type: ignore[union-attr]
        )
        with self._writer.hold():  # purge recorded and request completed: one transaction
            store.finish(sorted(purged), rid, receipt.to_dict())
            self.checkpoint_head()
        return receipt

    def _plan_and_commit(
        self, rid: str, to_delete: list[int], timings: dict[str, float]
    ) -> tuple[dict[str, Any], tuple[_Plan, int] | None]:
        """Plan against the store's newest version and commit; re-plan if another writer moved it meanwhile."""
        store = self.store
        for _attempt in range(10):
            if store.current_version() != self._snapshot.version:  # type: ignore[union-attr]
                self._load_serving()  # another process changed the model: plan against what it left
            version_before = self._snapshot.version  # type: ignore[union-attr]
            t = time.perf_counter()
            plan = self._plan_deletion(to_delete, self.assignment_) if to_delete else _Plan([], [])
            timings["plan_ms"] = (time.perf_counter() - t) * 1e3
            retire_sha = {k: self._sha_[k] for k in plan.retire if k in self._sha_}
            plan_dict = {
                "deactivated": plan.deactivated,
                "pending": plan.pending,
                "retire": plan.retire,
                "retire_sha256": [retire_sha[k] for k in plan.retire],
                "version_before": version_before,
            }
            if not to_delete:
                return plan_dict, None
            self._fault("after_plan")
            t = time.perf_counter()
            try:
                version = store.commit_deletion(  # type: ignore[union-attr]
                    rid,
                    to_delete,
                    retire=plan.retire,
                    serving=plan.serving,
                    plan=plan_dict,
                    expected_version=version_before,
                )
            except StalePlanError as exc:
                log.info("%s; planning again", exc)
                self._load_serving()
                continue
            timings["commit_ms"] = (time.perf_counter() - t) * 1e3
            return plan_dict, (plan, version)
        raise LineageError("other writers kept changing the model while this deletion was planned; try again")

    def _receipt_notes(self, deleted: list[int], already: list[int], pending: list[int]) -> list[str]:
        notes = []
        if already:
            notes.append(f"{len(already)} id(s) were already forgotten: nothing to do for them")
        if pending:
            notes.append(f"shard(s) {pending} serve nothing until retrained (retrain required)")
        return notes

    def _retrain_on_forget(self) -> bool:
        return True

    def _purge_files(self) -> dict[str, str]:
        """Delete retired checkpoint files and the held rows of deleted samples (idempotent).

        Returns ``{key: file sha256}`` of the purged checkpoints; the caller records them with
        :meth:`LineageStore.finish`.
        """
        self._require_store()
        retired = {c.key: c.file_sha256 for c in self.store.checkpoints("retired")}
        for key in retired:
            self.ckpt_.remove(key)
            self._tensor_cache.pop(key, None)
        if retired:
            self._module_cache = {k: v for k, v in self._module_cache.items() if retired.keys().isdisjoint(k)}
        self._purge_data(self.store.deleted_ids())
        return retired

    def pending_retrain(self) -> list[int]:
        """Shards that serve nothing until retrained."""
        self._check_fitted()
        return sorted(
            {sh for sh, _, _, d, st in self._rows_ if st == "excluded" or d == 0}
            - {sh for sh, _, _, d, st in self._rows_ if st == "serving" and d > 0}
        )

    def retrain(self, shards: Sequence[int] | None = None) -> dict[str, Any]:
        """Rebuild ``shards`` (default: those pending) without any deleted id, swap them in, purge what they replace.

        Deletions are served while it trains (only planning and the final swap take the strategy lock).
        """
        self._check_fitted()
        with self._lock:
            targets = sorted(set(shards) if shards is not None else set(self.pending_retrain()))
        bad = [s for s in targets if not 0 <= s < self.shards]
        if bad:
            raise ConfigError(f"no shard {bad[0]} (the model has {self.shards})")
        if not targets:
            return {"shards": [], "seconds": 0.0, "model_version": self.model_version, "purged": []}
        info = self._train_shards(targets, reason="retrain")
        with self._lock, self._writer.hold():
            purged = self._purge_files()
            self.store.finish(sorted(purged), None, None)  # type: ignore[union-attr]
            self.checkpoint_head()
        return {
            "shards": targets,
            "seconds": info["seconds"],
            "model_version": info["model_version"],
            "nodes": len(info["nodes"]),
            "purged": sorted(purged.values()),
        }

    def verify(self) -> AuditReport:
        """The store's hash chain and lineage invariant, plus: no held data row was deleted."""
        self._check_fitted()
        report = self.store.verify()  # type: ignore[union-attr]
        held = set(self._read_data().id_list()) & self.store.deleted_ids()  # type: ignore[union-attr]
        if held:
            report.problems.append(f"{len(held)} deleted sample(s) still held in {DATA_FILE} (purge incomplete)")
        report.problems += self.directory_problems()
        report.ok = not report.problems
        return report

    def storage_bytes(self) -> int:
        self._check_fitted()
        return sum(c.nbytes for c in self.store.checkpoints("active"))  # type: ignore[union-attr]

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if k in ("shards", "slices", "budget", "selection", "mode", "epochs")
        )
        return f"{type(self).__name__}({shown})"
