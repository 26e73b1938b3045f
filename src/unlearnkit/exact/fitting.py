"""Fitting an exact strategy: the public-fitted label set and scaling, the frozen backbone, the held data and the
lineage store written into a temporary directory, every shard trained, then the directory renamed into place."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from unlearnkit.context import RunContext, derive_seed
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.exact._engine import pretrain_backbone
from unlearnkit.exact.held import HeldData, HeldSpec, held_key
from unlearnkit.exact.placement import assign_arrays
from unlearnkit.exact.training import executor_spec
from unlearnkit.lineage.store import iso, utcnow
from unlearnkit.models.backbones import BuiltinBackbone, resolve_backbone
from unlearnkit.models.backbones.card import write_model_card
from unlearnkit.models.lora import LoraSpec, layer_blocks
from unlearnkit.runtime.memory import release_free_memory

if TYPE_CHECKING:
    from unlearnkit.data.dataset import IdDataset

log = logging.getLogger(__name__)

STRATEGY_FILE = "strategy.json"
BACKBONE_FILE = "backbone.safetensors"
SECRET_FILE = "secret.key"
DB_FILE = "lineage.db"


class FittingMixin:
    """``fit`` for the host strategy (its hyper-parameters, ``_validate``, ``_open``, ``_train_shards``)."""

    def fit(
        self,
        data: IdDataset,
        public: IdDataset | None = None,
        *,
        directory: str | Path | None = None,
        db_url: str | None = None,
    ) -> Self:
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

    def _public_fit(self, data: IdDataset, public: IdDataset | None, numeric: bool = True) -> dict[str, Any]:
        """Label set and input scaling from declarations and the public split only (never ``data``'s rows).

        ``numeric``: the backbone reads numeric feature rows (texts and images are encoded by the backbone's own
        pretrained tokenizer or image processor, and are not rescaled).
        """
        from unlearnkit.data.public_fit import fit_public

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
        from safetensors.torch import save_file

        from unlearnkit.data.public_fit import FeatureTransform

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
        pepper = secrets.token_bytes(32)
        (work / SECRET_FILE).write_bytes(pepper)
        os.chmod(work / SECRET_FILE, 0o600)
        save_file(backbone, str(work / BACKBONE_FILE))
        spec.save_assets(work)
        shard, sl = assign_arrays(data, salt, self.shards, self.slices, sharding)
        held = HeldSpec(data.num_features, "<f4" if data.is_regression else "<i8", held_key(pepper))
        HeldData(work, held).write(data.ids.numpy(), data.y.numpy(), data.x.numpy(), shard, sl)
        release_free_memory()  # the cells' record buffers, freed: not under the ingest and the training
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
            "held": held.config(),
            "executor": executor_spec(self.executor),
        }
        (work / STRATEGY_FILE).write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
        write_model_card(work, config, spec)
        self._open(work, db_url, fresh=True)
        self._require_store()
        self.store.ingest(data, (shard, sl))
        del shard, sl
        release_free_memory()  # the ingest's batches, likewise
        self.store.set_meta("strategy", self.kind)
        self._train_shards(list(range(self.shards)), reason="fit")
        self._sign_files(work)
        self.checkpoint_head()
        self.store.checkpoint_wal()  # the ingest's WAL folded into the database: the next open reads no O(N) log
        self.fit_seconds_ = time.perf_counter() - t0
