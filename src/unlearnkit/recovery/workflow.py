"""What ``unlearnkit recover`` and ``unlearnkit recovery prune`` call: directories and files in, a model
directory and a JSON-ready receipt out.

The receipt and the saved model's metadata carry the selection record (per-cluster sizes, CDS, allocations;
per-filter rejection counts), the guard's decision and the manifest of keyed id hashes — never raw ids or
content. A recovery the guard rejects writes nothing and raises :class:`GuardRejectedError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from unlearnkit.approx._common import config_from_dict
from unlearnkit.errors import ConfigError, DataError, UnlearnkitError
from unlearnkit.recovery.candidates import Candidates, read_row_candidates, read_text_candidates
from unlearnkit.recovery.guard import GuardConfig
from unlearnkit.recovery.io import RECOVERY_KEY, ModelDir, load_model_dir, save_model_dir
from unlearnkit.recovery.run import recover, set_hash
from unlearnkit.recovery.select import SelectConfig
from unlearnkit.recovery.subject import RecoveryTrainConfig, subject_for

SECTIONS = {"select": SelectConfig, "train": RecoveryTrainConfig, "guard": GuardConfig}


class GuardRejectedError(UnlearnkitError, RuntimeError):
    """The recovered model re-taught forget data beyond the guard's tolerance; nothing was written."""


def split_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """``{"within": "top", "lr": 1e-3}`` → one config per section; a key belongs to the section that has it."""
    import dataclasses

    parts: dict[str, dict[str, Any]] = {k: {} for k in SECTIONS}
    for key, value in values.items():
        owners = [s for s, cls in SECTIONS.items() if key in {f.name for f in dataclasses.fields(cls)}]
        if not owners or key == "max_steps":
            valid = sorted({f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)} - {"max_steps"})
            raise ConfigError(f"unknown recovery setting {key!r}; valid keys are: {', '.join(valid)}")
        parts[owners[0]][key] = value
    return {s: config_from_dict(cls, parts[s]) for s, cls in SECTIONS.items()}


def _read(path: Path, src: ModelDir) -> Candidates:
    if src.kind == "lm":
        if path.suffix.lower() != ".jsonl":
            raise DataError(f"{path}: a language model's candidates are a .jsonl file")
        return read_text_candidates(path)
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise DataError(f"{path}: a classifier's candidates are a CSV or Parquet file")
    return read_row_candidates(path, src.spec.num_classes, src.spec.in_features)


def _keep_classes(src: ModelDir, forget_classes: tuple[int, ...]) -> list[int] | None:
    classes = set(forget_classes)
    forget = src.meta.get("forget") or {}
    if isinstance(forget, dict) and forget.get("kind") == "class" and forget.get("value") is not None:
        classes.add(int(forget["value"]))
    if src.kind != "classifier" or not classes:
        return None
    bad = [c for c in classes if not 0 <= c < src.spec.num_classes]
    if bad:
        raise ConfigError(f"forget class {bad[0]} is outside the model's {src.spec.num_classes} classes")
    return [c for c in range(src.spec.num_classes) if c not in classes]


def recover_dir(
    model_dir: Path,
    reference_dir: Path,
    candidates_path: Path,
    budget: float,
    out: Path,
    *,
    forget_path: Path | None = None,
    forget_classes: tuple[int, ...] = (),
    deny: tuple[str, ...] = (),
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Recover the model in ``model_dir`` towards ``reference_dir`` and write it to ``out`` (see the module)."""
    torch.set_num_threads(1)
    if out.exists():
        raise DataError(f"{out}: already exists (choose another --out or remove it)")
    cfgs = split_overrides(overrides or {})
    src, ref = load_model_dir(model_dir), load_model_dir(reference_dir)
    if src.meta.get("task") == "regression" or ref.meta.get("task") == "regression":
        raise DataError("recovery works on classifiers and causal language models, not regression models")
    if src.kind != ref.kind:
        raise DataError(f"{reference_dir}: a {ref.kind} cannot be the reference of a {src.kind}")
    if src.kind == "classifier" and src.spec != ref.spec:
        raise DataError(f"{reference_dir}: the reference's architecture differs from the model's")
    cands = _read(candidates_path, src)
    forget = _read(forget_path, src) if forget_path is not None else None
    subject = subject_for(
        cands, tokenizer=src.tokenizer, keep_classes=_keep_classes(src, forget_classes), model=src.model
    )
    result = recover(
        subject, src.model, ref.model, cands, budget,
        forget=forget, select_config=cfgs["select"], train_config=cfgs["train"], guard_config=cfgs["guard"],
        deny=deny, key=src.key, seed=seed,
    )  # fmt: skip
    if not result.accepted:
        reasons = "; ".join(result.guard.reasons) if result.guard else "rejected"
        raise GuardRejectedError(f"guard: {reasons}; recovery rolled back, nothing written")
    source_guarantee = str(src.meta.get("guarantee") or "")
    guarantee = f"{source_guarantee}+recovery" if source_guarantee.startswith("approximate") else "approximate:recovery"
    section = {
        **result.record,
        "manifest": result.manifest,
        "reference_kind": ref.kind,
        "forget_records": len(forget) if forget is not None else 0,
    }
    meta = {k: v for k, v in src.meta.items() if k not in ("kind", "spec")}
    meta.update({"guarantee": guarantee, RECOVERY_KEY: section})
    save_model_dir(out, src, result.model, meta)
    return {
        "guarantee": guarantee,
        "accepted": True,
        "kind": src.kind,
        "budget": result.selection.budget,
        "selected": len(result.selection.ids),
        "candidates": len(cands),
        "filters": {k: v["rejected"] for k, v in result.selection.filters.items()},
        "guard": result.guard.record() if result.guard else None,
        "manifest": result.manifest,
        "sparsity": result.record["sparsity"],
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
        "out": str(out),
    }


def prune_dir(
    model_dir: Path, out: Path, *, pruner: str, calibration: Path | None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Prune a model directory (calibration = a retain-only candidates-format file) into ``out``."""
    from unlearnkit.recovery.prune import get_pruner
    from unlearnkit.recovery.subject import subject_for

    torch.set_num_threads(1)
    if out.exists():
        raise DataError(f"{out}: already exists (choose another --out or remove it)")
    cls = get_pruner(pruner)
    p = cls(config_from_dict(cls.config_cls, overrides or {}))
    src = load_model_dir(model_dir)
    batches, calib_hash = None, None
    if calibration is not None:
        cands = _read(calibration, src)
        calib_hash = set_hash(cands.ids, src.key)
        if cands.kind == "rows":
            x = cands.data.x  # type: ignore[union-attr]
            batches = [x[i : i + 256] for i in range(0, len(x), 256)]
        else:
            enc = subject_for(cands, tokenizer=src.tokenizer, model=src.model).encode(cands)  # type: ignore[attr-defined]
            batches = [enc.take(range(i, min(i + 64, len(enc)))).inputs() for i in range(0, len(enc), 64)]
    res = p.prune(src.model, batches, calibration_hash=calib_hash)
    meta = {k: v for k, v in src.meta.items() if k not in ("kind", "spec")}
    meta["pruning"] = res.record
    save_model_dir(out, src, res.model, meta)
    return {**res.record, "out": str(out)}


__all__ = ["GuardRejectedError", "prune_dir", "recover_dir", "split_overrides"]
