"""What the service serves and changes: an exact strategy, or a monolithic model behind approximate unlearning.

Both backends expose one small surface (predict, validate ids/owner against the store, forget, retrain,
refresh, verify) over a :class:`~unlearnkit.lineage.LineageStore`, so the API and the worker never branch on
the model family.

- :class:`ExactBackend` wraps S3T / SISA / Retrain. ``forget(..., defer_retrain=True)`` makes the served model
  compliant at the commit (S3T deactivates layers, SISA drops shards from the vote); dead shards are rebuilt
  by a later ``retrain`` job and swapped in atomically.
- :class:`StandardBackend` serves a ``standard`` model directory (``models.io``). A deletion runs a registered
  approximate method on ``ForgetSplit(forget=ids, retain=train minus every deleted id, test=held-out)`` and
  swaps the result in only if it passes two checks: held-out accuracy within ``approx_max_utility_drop`` of the
  served model, and the loss-attack AUC of forget vs held-out samples (Yeom et al., "Privacy Risk in Machine
  Learning", CSF 2018, arXiv 1709.01604) within ``max(approx_mia_tolerance, 2 standard errors)`` of 0.5 (the
  Hanley–McNeil standard error of an AUC under the null). Until then the old version keeps serving. The
  receipt says ``approximate:<method>`` with the metrics; it can reach L0 and L3, never L1.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import math
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sqlalchemy import select
from torch import nn

from unlearnkit.context import RunContext, derive_seed
from unlearnkit.errors import ConfigError, DataError, LineageError, UnknownIdError
from unlearnkit.lineage import AuditReport, LineageStore
from unlearnkit.lineage.exports import newly_stale
from unlearnkit.lineage.schema import DeletionRequest, ModelVersion
from unlearnkit.lineage.store import iso, utcnow
from unlearnkit.models.export import ServedEnsemble
from unlearnkit.types import DeletionReceipt, ForgetSplit

log = logging.getLogger(__name__)

SECRET_FILE = "secret.key"
STAGING_DIR = "versions"


@dataclass
class ForgetOutcome:
    """A finished deletion: the strategy's receipt, shards left to retrain, approximate-method evidence."""

    receipt: DeletionReceipt
    pending_retrain: list[int] = field(default_factory=list)
    method: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ForgetCall:
    """One queued deletion request handed to :meth:`ExactBackend.forget_many`."""

    request_id: str
    ids: list[int] | None
    owner: str | None
    attempt: int = 1
    external_ref: str | None = None


def forget_each(backend: Any, calls: list[ForgetCall]) -> list[ForgetOutcome | Exception]:
    """``backend.forget`` per call (one commit each); a failing call is returned as its exception."""
    out: list[ForgetOutcome | Exception] = []
    for c in calls:
        try:
            out.append(
                backend.forget(c.ids, c.owner, request_id=c.request_id, external_ref=c.external_ref, attempt=c.attempt)
            )
        except Exception as exc:
            out.append(exc)
    return out


class ChecksFailedError(RuntimeError):
    """The approximately unlearned model did not pass its checks; the old version keeps serving."""


class Backend(Protocol):
    kind: str
    exact: bool
    store: LineageStore
    num_features: int
    num_classes: int

    @property
    def model_version(self) -> int: ...
    def predict_proba(self, x: np.ndarray) -> np.ndarray: ...
    def served_ensemble(self) -> tuple[int, ServedEnsemble]: ...
    def predict_served(self, x: np.ndarray) -> tuple[np.ndarray, int, str]: ...
    def unknown_ids(self, ids: list[int]) -> list[int]: ...
    def owner_known(self, owner: str) -> bool: ...
    def forget(
        self, ids: list[int] | None, owner: str | None, *, request_id: str, external_ref: str | None, attempt: int
    ) -> ForgetOutcome: ...
    def pending_retrain(self) -> list[int]: ...
    def retrain(self, shards: list[int]) -> dict[str, Any]: ...
    def refresh(self) -> bool: ...
    def verify(self) -> AuditReport: ...
    def set_fault_injector(self, fn: Any) -> None: ...
    def close(self) -> None: ...


class ExactBackend:
    """An exact strategy (anything following the ``unlearnkit.exact`` protocol)."""

    exact = True

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy
        self.store: LineageStore = strategy.store
        if hasattr(strategy, "reconcile_files"):
            strategy.reconcile_files()  # checkpoint files a crash left unregistered never outlive a restart
        self.kind: str = strategy.kind
        self.num_features = int(strategy.num_features)
        self.num_classes = int(strategy.num_classes)

    @property
    def model_version(self) -> int:
        return int(self.strategy.model_version)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.strategy.predict_proba(x))

    def served_ensemble(self) -> tuple[int, ServedEnsemble]:
        return self.strategy.served_ensemble()

    def predict_served(self, x: np.ndarray) -> tuple[np.ndarray, int, str]:
        """Probabilities, version and guarantee of one snapshot; the public-data fallback while all shards wait."""
        proba, version, guarantee = self.strategy.predict_served(x)
        return np.asarray(proba), int(version), guarantee

    def unknown_ids(self, ids: list[int]) -> list[int]:
        return self.store.unknown_ids(ids)

    def owner_known(self, owner: str) -> bool:
        return self.store.owner_known(owner)

    def forget(
        self, ids: list[int] | None, owner: str | None, *, request_id: str, external_ref: str | None, attempt: int
    ) -> ForgetOutcome:
        receipt = self.strategy.forget(
            ids=ids, owner=owner, request_id=request_id, external_ref=external_ref, defer_retrain=True
        )
        return ForgetOutcome(receipt=receipt, pending_retrain=list(receipt.pending_retrain))

    def forget_many(self, calls: list[ForgetCall]) -> list[ForgetOutcome | Exception]:
        """Group commit: every call's deletion in one lineage transaction (the strategy's ``forget_many``), one
        outcome per call in order; a call that cannot be done is its exception, the others still commit.

        A strategy without ``forget_many`` forgets the calls one by one (same results, one commit each)."""
        many = getattr(self.strategy, "forget_many", None)
        if many is None:
            return forget_each(self, calls)
        from unlearnkit.exact import ForgetRequest

        requests = [
            ForgetRequest(ids=c.ids, owner=c.owner, request_id=c.request_id, external_ref=c.external_ref) for c in calls
        ]
        out = many(requests, defer_retrain=True, on_error="return")
        return [
            o if isinstance(o, Exception) else ForgetOutcome(receipt=o, pending_retrain=list(o.pending_retrain))
            for o in out
        ]

    def pending_retrain(self) -> list[int]:
        return list(self.strategy.pending_retrain())

    def retrain(self, shards: list[int]) -> dict[str, Any]:
        return dict(self.strategy.retrain(shards))

    def refresh(self) -> bool:
        return bool(self.strategy.refresh())

    def verify(self) -> AuditReport:
        return self.strategy.verify()

    def set_fault_injector(self, fn: Any) -> None:
        self.strategy.fault_injector = fn

    def close(self) -> None:
        self.strategy.close()


# -- monolithic models ----------------------------------------------------------------------------------
def _sha256_file(path: Path) -> str | None:
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_atomic(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    save_file(tensors, str(tmp))
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def model_secret(directory: Path) -> bytes:
    """The model's pepper (``secret.key``), created with mode 0600 when missing (standard models)."""
    path = directory / SECRET_FILE
    if not path.exists():
        tmp = path.with_name(f".{SECRET_FILE}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        try:
            with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()


def loss_attack_check(
    forget_logits: torch.Tensor,
    forget_y: torch.Tensor,
    heldout_logits: torch.Tensor,
    heldout_y: torch.Tensor,
    tolerance: float,
) -> dict[str, float | bool]:
    """Loss-attack AUC (forget = members vs held-out) and whether it is within tolerance of 0.5.

    The allowed gap is ``max(tolerance, 2·SE)`` with the Hanley–McNeil null standard error
    ``SE = sqrt((n1 + n0 + 1) / (12 n1 n0))``: a forget set of a few samples cannot show an AUC near 0.5 with
    precision, and the check must not fail on noise alone.
    """
    from unlearnkit.eval.mia import loss_mia

    auc, tpr = loss_mia(forget_logits, forget_y, heldout_logits, heldout_y)
    n1, n0 = len(forget_y), len(heldout_y)
    se = math.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0))
    allowed = max(tolerance, 2 * se)
    return {
        "mia_auc": auc,
        "mia_tpr_at_1fpr": tpr,
        "mia_se": se,
        "mia_allowed_gap": allowed,
        "mia_ok": abs(auc - 0.5) <= allowed,
    }


@dataclass(frozen=True)
class _Served:
    version: int
    model: nn.Module
    sha256: str


class StandardBackend:
    """A ``standard`` model directory served as one model; deletions go through an approximate method.

    Directory additions: ``secret.key`` (the pepper, 0600), ``lineage.db`` (unless another URL is given) and
    ``versions/<request>.safetensors`` (a staged candidate, promoted onto ``model.safetensors`` by
    ``os.replace`` once the deletion is committed). The served weights' sha256 is recorded in the deletion's
    plan, so a crash between commit and promotion is finished on the next start.
    """

    exact = False
    kind = "standard"

    def __init__(
        self,
        directory: str | Path,
        db_url: str | None,
        *,
        method: str = "ft",
        method_config: dict[str, Any] | None = None,
        max_utility_drop: float = 0.05,
        mia_tolerance: float = 0.1,
    ) -> None:
        from unlearnkit.data import resolve_data
        from unlearnkit.models.io import META_FILE, MODEL_FILE, load_model
        from unlearnkit.registry import get_method

        self.directory = Path(directory)
        self.model_file = self.directory / MODEL_FILE
        _, spec, meta = load_model(self.directory)
        if meta.get("kind") != "standard" or "data" not in meta:
            raise ConfigError(f"{self.directory / META_FILE}: needs kind 'standard' and a 'data' section")
        self.spec = spec
        self.bundle = resolve_data(**meta["data"])
        if self.bundle.test is None or len(self.bundle.test) == 0:
            raise ConfigError(f"{self.directory}: the training data has no held-out split for the unlearning checks")
        self.num_features = spec.in_features
        self.num_classes = spec.num_classes
        self.method_info = get_method(method)
        unsupported = set(self.method_info.needs) - {"forget", "retain", "test", "val"}
        if unsupported:
            raise ConfigError(f"method {method!r} needs {sorted(unsupported)}, which the service cannot provide")
        self.method_config = dict(method_config or {})
        self.method_info.cls(self.method_config)  # validate the config now, not at the first deletion
        self.max_utility_drop = max_utility_drop
        self.mia_tolerance = mia_tolerance
        self.fault_injector: Any = None
        self._lock = threading.RLock()
        url = db_url or f"sqlite:///{(self.directory / 'lineage.db').resolve()}"
        self.store = LineageStore(url, model_secret(self.directory))
        self._ingest()
        (self.directory / STAGING_DIR).mkdir(exist_ok=True)
        self._served: _Served = self._load_served()

    # -- state ----------------------------------------------------------------------------------------
    def _ingest(self) -> None:
        if self.store.get_meta("strategy") is not None:
            if self.store.get_meta("strategy") != "standard":
                raise LineageError(f"{self.store.url} holds a {self.store.get_meta('strategy')} model, not standard")
            return
        try:
            self.store.ingest(self.bundle.train, dict.fromkeys(self.bundle.train.id_list(), (0, 0)))
            self.store.set_meta("strategy", "standard")
        except LineageError:
            if self.store.get_meta("strategy") is None:  # another process is ingesting right now
                time.sleep(0.5)
            if self.store.get_meta("strategy") != "standard":
                raise

    def _committed(self) -> tuple[int, str | None]:
        """``(model version, sha256 of the weights it serves)`` as the store says (None: the original)."""
        with self.store.session() as s:
            rows = s.execute(
                select(ModelVersion.version, DeletionRequest.plan_json)
                .outerjoin(DeletionRequest, DeletionRequest.id == ModelVersion.request_id)
                .order_by(ModelVersion.version.desc())
            ).all()
        version = int(rows[0][0]) if rows else 0
        for _, plan_json in rows:
            sha = json.loads(plan_json).get("file_sha256") if plan_json else None
            if sha:
                return version, sha
        return version, None

    def _promote(self, sha: str | None) -> str:
        """Make ``model.safetensors`` hold the committed weights (a staged candidate renamed into place)."""
        current = _sha256_file(self.model_file)
        if sha is None or current == sha:
            return current or ""
        for p in sorted((self.directory / STAGING_DIR).glob("*.safetensors")):
            if _sha256_file(p) == sha:
                with contextlib.suppress(FileNotFoundError):  # another process may have promoted it first
                    os.replace(p, self.model_file)
                break
        if _sha256_file(self.model_file) != sha:
            raise LineageError(f"{self.directory}: the committed weights ({sha[:12]}) are missing")
        return sha

    def _build(self, path: Path) -> nn.Module:
        from unlearnkit.models.zoo import build_model

        model = build_model(self.spec)
        model.load_state_dict(load_file(str(path)))
        return model.eval()

    def _load_served(self) -> _Served:
        """Load what the store says is served, promoting a staged file a crash left behind."""
        version, sha = self._committed()
        current = self._promote(sha)
        return _Served(version, self._build(self.model_file), current)

    @property
    def model_version(self) -> int:
        return self._served.version

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self._predict(self._served, x)

    def _predict(self, served: _Served, x: np.ndarray) -> np.ndarray:
        from unlearnkit.models.train import predict_logits

        t = torch.as_tensor(np.asarray(x, dtype=np.float32))
        if t.ndim != 2 or t.shape[1] != self.num_features:
            raise DataError(f"expected inputs of shape (n, {self.num_features}), got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise DataError("inputs contain NaN or infinite values")
        return torch.softmax(predict_logits(served.model, t), dim=1).numpy()

    def served_ensemble(self) -> tuple[int, ServedEnsemble]:
        served = self._served
        return served.version, ServedEnsemble([served.model], "mean")

    def predict_served(self, x: np.ndarray) -> tuple[np.ndarray, int, str]:
        served = self._served
        proba = self._predict(served, x)
        return proba, served.version, "original (no deletion yet)" if served.version == 0 else self.guarantee

    @property
    def guarantee(self) -> str:
        return f"approximate:{self.method_info.name}"

    def unknown_ids(self, ids: list[int]) -> list[int]:
        return self.store.unknown_ids(ids)

    def owner_known(self, owner: str) -> bool:
        return self.store.owner_known(owner)

    def pending_retrain(self) -> list[int]:
        return []

    def retrain(self, shards: list[int]) -> dict[str, Any]:
        return {"shards": [], "seconds": 0.0, "model_version": self.model_version, "purged": []}

    def refresh(self) -> bool:
        """Serve what the store says is committed, promoting the staged weights if their writer has not yet
        (never keep serving the weights a committed deletion replaced)."""
        if self.store.current_version() == self._served.version:
            return False
        with self._lock:
            if self.store.current_version() == self._served.version:
                return False
            self._served = self._load_served()
            return True

    def set_fault_injector(self, fn: Any) -> None:
        self.fault_injector = fn

    def _fault(self, step: str) -> None:
        if self.fault_injector is not None:
            self.fault_injector(step)

    def verify(self) -> AuditReport:
        report = self.store.verify()
        _, sha = self._committed()
        if sha is not None and _sha256_file(self.model_file) != sha:
            report.problems.append("the served weights file differs from the committed one")
            report.ok = False
        return report

    def close(self) -> None:
        self.store.close()

    # -- forgetting -------------------------------------------------------------------------------------
    def _evaluate(self, model: nn.Module, forget: Any) -> dict[str, Any]:
        from unlearnkit.models.train import accuracy, predict_logits

        test = self.bundle.test
        test_logits = predict_logits(model, test.x)
        forget_logits = predict_logits(model, forget.x) if len(forget) else None
        finite = bool(torch.isfinite(test_logits).all()) and (
            forget_logits is None or bool(torch.isfinite(forget_logits).all())
        )
        out: dict[str, Any] = {"finite_outputs": finite}
        if not finite:  # a diverged model: no metric is meaningful, and it must not be served
            return {**out, "heldout_accuracy": 0.0, "mia_ok": False}
        out["heldout_accuracy"] = accuracy(test_logits, test.y)
        if forget_logits is not None:
            out["forget_accuracy"] = accuracy(forget_logits, forget.y)
            out.update(loss_attack_check(forget_logits, forget.y, test_logits, test.y, self.mia_tolerance))
        return out

    def forget(
        self, ids: list[int] | None, owner: str | None, *, request_id: str, external_ref: str | None, attempt: int
    ) -> ForgetOutcome:
        """Unlearn approximately, check, commit, promote, complete; each step idempotent by ``request_id``."""
        store = self.store
        with self._lock:
            t0 = time.perf_counter()
            if (ids is None) == (owner is None):
                raise ConfigError("give exactly one of ids or owner")
            wanted = store.ids_of_owner(owner) if owner is not None else sorted({int(i) for i in ids or []})
            unknown = store.unknown_ids(wanted)
            if unknown:
                raise UnknownIdError(unknown)
            rid, stored, received = store.begin_request(
                wanted, request_id=request_id, external_ref=external_ref, owner=owner
            )
            if stored is not None:
                meta = stored.get("verification", {})
                return ForgetOutcome(DeletionReceipt.from_dict(stored), [], meta.get("method"), meta.get("metrics", {}))
            try:
                return self._run_request(rid, received, owner, attempt, t0)
            except BaseException as exc:
                store.fail_request(rid, f"{type(exc).__name__}: {exc}")
                raise

    def _run_request(self, rid: str, received: Any, owner: str | None, attempt: int, t0: float) -> ForgetOutcome:
        store = self.store
        to_delete, already = store.request_ids(rid)
        before = self._served
        plan = store.get_plan(rid)
        name = self.method_info.name
        if plan is None:
            self._fault("before_commit")
            staged = self.directory / STAGING_DIR / f"{rid}.safetensors"
            for p in (self.directory / STAGING_DIR).glob("*.safetensors"):
                p.unlink(missing_ok=True)  # candidates of attempts that never committed
            if to_delete:
                deleted = store.deleted_ids() | set(to_delete)
                train = self.bundle.train
                forget_ds = train.subset(to_delete)
                metrics_before = self._evaluate(before.model, forget_ds)
                split = ForgetSplit(
                    forget=forget_ds,
                    retain=train.without(sorted(deleted & set(train.id_list()))),
                    test=self.bundle.test,
                    scenario="owner" if owner is not None else "random",
                )
                ctx = RunContext(seed=derive_seed("service", rid, attempt) % (2**31))
                result = self.method_info.cls(self.method_config).unlearn(before.model, split, ctx=ctx)
                metrics = self._evaluate(result.model, forget_ds)
                metrics["heldout_accuracy_before"] = metrics_before["heldout_accuracy"]
                metrics["mia_auc_before"] = metrics_before.get("mia_auc")
                metrics["seconds"] = round(result.seconds, 3)
                metrics["utility_ok"] = (
                    metrics["heldout_accuracy"] >= metrics_before["heldout_accuracy"] - self.max_utility_drop
                )
                if not metrics["finite_outputs"]:
                    raise ChecksFailedError(f"{name} did not pass its checks: the model's outputs are not finite")
                if not (metrics["utility_ok"] and metrics["mia_ok"]):
                    raise ChecksFailedError(
                        f"{name} did not pass its checks (held-out accuracy "
                        f"{metrics['heldout_accuracy']:.3f} vs {metrics_before['heldout_accuracy']:.3f}, "
                        f"loss-attack AUC {metrics['mia_auc']:.3f} allowed 0.5±{metrics['mia_allowed_gap']:.3f})"
                    )
                state = {k: v.detach().contiguous() for k, v in result.model.state_dict().items()}
                _write_atomic(staged, state)
                sha = _sha256_file(staged)
            else:
                metrics, sha = {}, before.sha256
            plan = {
                "method": name,
                "config": self.method_config,
                "metrics": metrics,
                "file_sha256": sha,
                "replaced_sha256": before.sha256,
                "version_before": before.version,
            }
            if to_delete:
                store.commit_deletion(rid, to_delete, retire=[], serving=[], plan=plan)
            self._fault("after_commit")
        # promote (idempotent): the committed weights become model.safetensors and are served
        served = self._load_served() if to_delete else self._served
        self._served = served
        self._fault("after_swap")
        rows = store.sample_rows(to_delete + already)
        receipt = DeletionReceipt(
            request_id=rid,
            strategy=self.kind,
            guarantee=f"approximate:{name}" if to_delete else "none (already forgotten)",
            id_hashes=sorted(store.id_hash(i) for i in to_delete),
            content_hashes=sorted(rows[i]["content_hash"] for i in to_delete),
            model_version_before=int(plan.get("version_before", before.version)),
            model_version_after=served.version,
            received_at=iso(received) or "",
            completed_at=iso(utcnow()) or "",
            latency_ms=round((time.perf_counter() - t0) * 1e3, 3),
            already_forgotten=sorted(store.id_hash(i) for i in already),
            purged_checkpoints=[plan["replaced_sha256"]] if to_delete and plan.get("replaced_sha256") else [],
            levels=["L0", "L3"] if to_delete else [],
            verification={"method": name, "config": plan.get("config", {}), "metrics": plan.get("metrics", {})},
            notes=[
                "approximate unlearning: the served weights were edited, not retrained without the data; "
                "the evidence is the checks in `verification`"
            ]
            if to_delete
            else [f"{len(already)} id(s) were already forgotten: nothing to do for them"],
            stale_exports=newly_stale(store, served.version) if to_delete else [],
        )
        store.complete_request(rid, receipt.to_dict())
        return ForgetOutcome(receipt, [], name, plan.get("metrics", {}))


# -- opening ------------------------------------------------------------------------------------------------
def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise ConfigError(f"strategy loader must look like `module:function`, got {path!r}")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import strategy loader {path!r}: {exc}") from exc


def open_backend(settings: Any) -> Backend:
    """The backend for ``settings.model_dir``: ``standard`` model directories get :class:`StandardBackend`."""
    from unlearnkit.models.io import META_FILE

    d = Path(settings.model_dir)
    if not d.is_dir():
        raise ConfigError(f"{d}: no such model directory")
    meta = d / META_FILE
    if meta.is_file() and json.loads(meta.read_text()).get("kind") == "standard":
        return StandardBackend(
            d,
            settings.db_url,
            method=settings.approx_method,
            method_config=settings.approx_config,
            max_utility_drop=settings.approx_max_utility_drop,
            mia_tolerance=settings.approx_mia_tolerance,
        )
    extra = {"signing_key": settings.key_path} if settings.key_path else {}
    strategy = _import(settings.strategy_loader)(d, db_url=settings.db_url, **extra)
    return ExactBackend(strategy)
