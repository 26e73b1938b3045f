"""Commands for exact unlearning and model directories: train, forget, retrain, status, predict, audit, demo."""

from __future__ import annotations

import csv
import json
import random
import statistics
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import ModelDir, app, fail
from unlearnkit.errors import UnlearnkitError

STRATEGY_CHOICES = ("s3t", "sisa", "retrain", "standard")
INT64 = (-(2**63), 2**63 - 1)

JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON")]
DbOpt = Annotated[str | None, typer.Option("--db", help="lineage database URL (default: SQLite in DIR)")]


def _parse_ids(text: str) -> list[int] | list[str]:
    """Integer sample ids, or external string ids (UUIDs, emails) when any id is not an integer."""
    parts = [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
    if not parts:
        raise fail("no ids given")
    if not all(p.lstrip("-").isdigit() for p in parts):
        return parts
    out = [int(p) for p in parts]
    bad = next((p for p, v in zip(parts, out, strict=True) if not INT64[0] <= v <= INT64[1]), None)
    if bad is not None:
        raise fail(f"sample id {bad} does not fit in a signed 64-bit integer")
    return out


def _parse_classes(text: str | None) -> tuple[int | None, list[str] | None]:
    """``--classes 10`` (a count) or ``--classes cat,dog,bird`` (names of classes 0, 1, 2)."""
    if text is None:
        return None, None
    text = text.strip()
    if text.isdigit():
        n = int(text)
        if n < 1:
            raise fail("--classes must be a positive count or comma-separated label names")
        return n, None
    names = [p.strip() for p in text.split(",") if p.strip()]
    if len(names) < 2 or len(set(names)) != len(names):
        raise fail("--classes: give a class count or at least two distinct comma-separated label names")
    return len(names), names


def _read_salt(salt: str | None, salt_file: Path | None) -> str | None:
    if salt is not None and salt_file is not None:
        raise fail("give at most one of --salt and --salt-file")
    if salt_file is not None:
        if not salt_file.is_file():
            raise fail(f"{salt_file}: no such file")
        salt = salt_file.read_text(encoding="utf-8").strip()
        if not salt:
            raise fail(f"{salt_file}: the salt file is empty")
    if salt is not None and not salt.strip():
        raise fail("--salt must not be empty")
    return salt


def _emit(as_json: bool, payload: dict[str, Any], lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        for line in lines:
            typer.echo(line)


@app.command()
def train(
    directory: Annotated[
        Path | None,
        typer.Argument(metavar="DIR", help="model directory to create (must not exist)", show_default=False),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="same as DIR (kept for older scripts)")] = None,
    strategy: Annotated[
        str, typer.Option(help="s3t | sisa | retrain | standard (monolithic, for approximate)")
    ] = "s3t",
    data: Annotated[
        str,
        typer.Option(
            help="digits | mnist1d | synthetic | a CSV/Parquet file; regression: digits_reg | diabetes | friedman | "
            "timeseries"
        ),
    ] = "digits",
    public: Annotated[str | None, typer.Option(help="CSV/Parquet of public (never deletable) samples")] = None,
    public_fraction: Annotated[float | None, typer.Option(help="public share of a built-in dataset")] = None,
    classes: Annotated[
        str | None,
        typer.Option(help="the label set: a class count or comma-separated label names (default: the public split's)"),
    ] = None,
    shards: Annotated[int, typer.Option(help="m: number of shards")] = 3,
    slices: Annotated[int, typer.Option(help="L: slices per shard (= LoRA blocks)")] = 4,
    budget: Annotated[int, typer.Option(help="B: S3T slice orders per shard")] = 4,
    selection: Annotated[str, typer.Option(help="S3T order selection: cyclic | bms | random")] = "cyclic",
    prior: Annotated[str | None, typer.Option(help="BMS deletion prior per slice, e.g. 0.1,0.2,0.3,0.4")] = None,
    mode: Annotated[str, typer.Option(help="SISA serving after a deletion: retrain | rollback")] = "retrain",
    aggregation: Annotated[str | None, typer.Option(help="mean (logit average) | vote")] = None,
    arch: Annotated[str, typer.Option(help="resmlp | transformer (standard regression: mlp | cnn)")] = "resmlp",
    epochs: Annotated[int | None, typer.Option(help="epochs per stage (standard: total epochs)")] = None,
    lr: Annotated[float | None, typer.Option(help="learning rate")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    salt: Annotated[
        str | None, typer.Option(help="placement salt (default: secret and random; see README, Reproducibility)")
    ] = None,
    salt_file: Annotated[Path | None, typer.Option(help="read the placement salt from this file")] = None,
    sharding: Annotated[str, typer.Option(help="auto (by owner when samples have one) | owner | id")] = "auto",
    preprocess: Annotated[str, typer.Option(help="standardize (with public-split statistics) | none")] = "standardize",
    backbone: Annotated[
        str | None,
        typer.Option(help="hf:NAME_OR_PATH (a local Hugging Face model; --data is then a text file or image folder)"),
    ] = None,
    task: Annotated[str, typer.Option(help="with --backbone hf: classification | causal-lm")] = "classification",
    labels: Annotated[str | None, typer.Option(help="declared label names, comma-separated (string labels)")] = None,
    lora_layers: Annotated[
        str | None, typer.Option(help="transformer layers that get LoRA, e.g. 6,7,8,9,10,11")
    ] = None,
    max_length: Annotated[int, typer.Option(help="with --backbone hf: tokens per text")] = 64,
    pooling: Annotated[str, typer.Option(help="with --backbone hf: model (its own head) | mean")] = "model",
    db: DbOpt = None,
    executor: Annotated[str, typer.Option(help="shard training: local | process:N | ray[:ADDRESS]")] = "local",
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Train a model whose deletions are exact (s3t, sisa, retrain) or a monolithic one (standard)."""
    from unlearnkit.data import resolve_data

    if (directory is None) == (out is None):
        raise fail("give the model directory once: unlearnkit train DIR (or --out DIR)")
    target: Path = directory if directory is not None else out  # type: ignore[assignment]
    if strategy not in STRATEGY_CHOICES:
        raise fail(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGY_CHOICES)}")
    if target.exists():
        raise fail(f"{target}: already exists (choose another directory or remove it)")
    num_classes, label_names = _parse_classes(classes)
    placement_salt = _read_salt(salt, salt_file)
    bb = None
    if backbone is not None and backbone not in ("resmlp", "transformer"):
        if strategy == "standard":
            raise fail("--backbone applies to exact strategies (s3t, sisa, retrain)")
        if labels is None and label_names is not None:
            labels = ",".join(label_names)
        bb, bundle = _backbone_data(backbone, data, task, labels, lora_layers, max_length, pooling)
    else:
        arch = backbone or arch
        bundle = resolve_data(data, seed=seed, public=public, public_fraction=public_fraction, num_classes=num_classes)
    t0 = time.perf_counter()
    if strategy == "standard":
        _train_standard(bundle, target, arch, epochs, lr, seed, data, public, public_fraction, num_classes, as_json)
        return
    from unlearnkit.exact import STRATEGIES
    from unlearnkit.runtime import make_executor

    kwargs: dict = {
        "shards": shards,
        "slices": slices,
        "arch": arch,
        "seed": seed,
        "aggregation": aggregation,
        "executor": make_executor(executor),
        "salt": placement_salt,
        "sharding": sharding,
        "preprocess": preprocess,
        "num_classes": num_classes,
        "label_names": label_names,
        "backbone": bb,
    }
    if epochs is not None:
        kwargs["epochs"] = epochs
    if lr is not None:
        kwargs["lr"] = lr
    if strategy == "s3t":
        kwargs.update(budget=budget, selection=selection, prior=[float(p) for p in prior.split(",")] if prior else None)
    elif strategy == "sisa":
        kwargs["mode"] = mode
    else:
        kwargs.update(shards=1, slices=1)
    model = STRATEGIES[strategy](**kwargs)
    with _status(
        progress and not as_json, f"training {strategy} on {bundle.name} ({len(bundle.train)} deletable samples)"
    ):
        model.fit(bundle.train, bundle.public, directory=target, db_url=db)
    acc = model.score(bundle.test) if bundle.test is not None else None
    score_name = "test R²" if model.is_regression_ else "test accuracy"
    fitted = model.public_fit_
    payload = {
        "directory": str(target),
        "strategy": strategy,
        "seconds": round(time.perf_counter() - t0, 3),
        "test_r2" if model.is_regression_ else "test_accuracy": acc,
        "backbone": model.backbone_description_,
        "label_set": fitted["label_set"],
        "scaling": {k: v for k, v in fitted["scaling"].items() if k not in ("mean", "std")},
        "sharding": model.config_["sharding"],
        "salt": "given" if placement_salt is not None else "secret (random)",
    }
    scaling = fitted["scaling"]
    _emit(
        as_json,
        payload,
        [
            f"{strategy} model written to {target} in {payload['seconds']:.1f}s"
            + (f", {score_name} {acc:.3f}" if acc is not None else ""),
            f"backbone: {model.backbone_description_}",
            "targets: regression (one output, the mean of the shards'; no label set)"
            if model.is_regression_
            else f"label set: {fitted['label_set']['num_classes']} classes ({fitted['label_set']['source']})",
            "inputs: "
            + (
                f"standardised with {scaling['fitted_on']} statistics"
                if scaling["kind"] == "standardize"
                else scaling["why"]
            ),
        ],
    )
    model.close()


def _backbone_data(
    spec: str, data: str, task: str, labels: str | None, lora_layers: str | None, max_length: int, pooling: str
):
    """An HF backbone and the user's data encoded by it: a text file (CSV/Parquet/JSONL) or an image folder."""
    from unlearnkit.data import DataBundle
    from unlearnkit.models.backbones import resolve_backbone
    from unlearnkit.models.backbones.hf import HFBackbone

    if not spec.startswith("hf:"):
        resolve_backbone(spec)  # raises the one-line error naming the accepted forms
    try:
        layers = [int(i) for i in lora_layers.split(",")] if lora_layers else None
    except ValueError:
        raise fail(f"--lora-layers must be comma-separated integers, got {lora_layers!r}") from None
    names = [n.strip() for n in labels.split(",") if n.strip()] if labels else None
    bb = HFBackbone(spec, task=task, layers=layers, max_length=max_length, pooling=pooling)
    path = Path(data)
    if bb.modality == "image":
        from unlearnkit.data.images import load_image_folder

        train = load_image_folder(path, bb, label_names=names)
    else:
        from unlearnkit.data.text import load_text

        train = load_text(path, bb, label_names=names, require_label=task != "causal-lm")
    return bb, DataBundle(train=train, test=None, public=None, name=train.name)


def _status(progress: bool, message: str):
    import contextlib

    if not progress:
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)


def _train_standard(
    bundle,
    out: Path,
    arch: str,
    epochs: int | None,
    lr: float | None,
    seed: int,
    data: str,
    public: str | None,
    public_fraction: float | None,
    num_classes: int | None,
    as_json: bool,
) -> None:
    from unlearnkit.context import RunContext
    from unlearnkit.models import ModelSpec
    from unlearnkit.models.io import save_model
    from unlearnkit.models.regression import REGRESSION_ARCHS, RegressorSpec, fit_regressor
    from unlearnkit.models.regression import predict as predict_values
    from unlearnkit.models.standard import fit_standard

    kwargs = {k: v for k, v in {"epochs": epochs, "lr": lr}.items() if v is not None}
    if bundle.train.is_regression:  # Blindspot / Gaussian FT's models: an MLP, or the CNN for image rows
        spec: Any = RegressorSpec(arch=arch if arch in REGRESSION_ARCHS else "mlp", in_features=bundle.num_features)
        model, hyper = fit_regressor(bundle.train, spec, seed=seed, **kwargs)
        if bundle.test is not None:
            hyper["test_mae"] = float((predict_values(model, bundle.test.x) - bundle.test.y).abs().mean())
    else:
        spec = ModelSpec(arch=arch, in_features=bundle.num_features, num_classes=bundle.num_classes)
        model, hyper = fit_standard(bundle, spec, ctx=RunContext(seed=seed), **kwargs)
    data_meta: dict[str, Any] = {"spec": data, "seed": seed, "public": public, "public_fraction": public_fraction}
    if num_classes is not None:
        data_meta["num_classes"] = num_classes
    save_model(out, model, spec, meta={"data": data_meta, "train": hyper})
    accs = {k: v for k, v in hyper.items() if "acc" in k or k.endswith("_mae")}
    _emit(
        as_json,
        {"directory": str(out), "strategy": "standard", **accs},
        [f"standard model written to {out} ({json.dumps(accs)})"],
    )


def _load(directory: Path, db: str | None):
    from unlearnkit.exact import load_strategy

    if not directory.exists():
        raise fail(f"{directory}: no such model directory")
    return load_strategy(directory, db)


@app.command()
def forget(
    directory: ModelDir,
    ids: Annotated[str | None, typer.Option(help="comma-separated sample ids")] = None,
    ids_file: Annotated[Path | None, typer.Option(help="file of ids, one per line or comma-separated")] = None,
    owner: Annotated[str | None, typer.Option(help="forget every sample of this owner")] = None,
    request_id: Annotated[str | None, typer.Option(help="idempotency key: re-running completes the request")] = None,
    defer_retrain: Annotated[bool, typer.Option(help="deactivate/roll back now, retrain later")] = False,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the signed receipt as JSON")] = False,
) -> None:
    """Forget samples (by id) or a data subject (by owner); prints the deletion receipt (signed with the model's
    key and kept in DIR/receipts).

    Warns on stderr (not with --json) when the expected remaining deletion capacity is nearly gone.
    """
    from unlearnkit.cli.receipts import sign_cli_receipt
    from unlearnkit.faults import fault_injector_from_env

    given = [x is not None for x in (ids, ids_file, owner)]
    if sum(given) != 1:
        raise fail("give exactly one of --ids, --ids-file or --owner")
    wanted = None
    if ids is not None:
        wanted = _parse_ids(ids)
    elif ids_file is not None:
        if not ids_file.is_file():
            raise fail(f"{ids_file}: no such file")
        wanted = _parse_ids(ids_file.read_text())
    model = _load(directory, db)
    if wanted and isinstance(wanted[0], str) and not model.config_.get("external_ids"):
        model.close()
        raise fail(f"sample ids must be integers (this model has no external string ids), got {wanted[0]!r}")
    model.fault_injector = fault_injector_from_env()  # testing only; inert unless UNLEARNKIT_FAULT is set
    try:
        receipt = model.forget(wanted, owner, request_id=request_id, defer_retrain=defer_retrain)
        int_ids = wanted if wanted is not None and all(isinstance(i, int) for i in wanted) else None
        envelope = sign_cli_receipt(model, receipt, int_ids, "owner" if owner is not None else "ids")
        done = set(receipt.already_forgotten)
        noop = (
            [i for i in wanted if model.store.id_hash(i) in done]
            if wanted is not None and all(isinstance(i, int) for i in wanted)
            else []
        )
        warning = None
        if receipt.count and not as_json:  # the capacity simulation is for the human output only
            from unlearnkit.exact.status import capacity_warning, model_status

            warning = capacity_warning(model_status(model, streams=200))
    finally:
        model.close()
    if warning and not as_json:  # with --json the output is the receipt alone; `status --json` has the capacity
        typer.echo(f"warning: {warning}", err=True)
    if as_json:
        typer.echo(json.dumps(envelope, indent=2, sort_keys=True))
        return
    for i in noop:
        typer.echo(f"id {i} was already forgotten: nothing to do")
    if owner is not None and not receipt.count:
        typer.echo(f"owner {owner!r} was already forgotten: nothing to do")
    if receipt.count:
        typer.echo(
            f"forgot {receipt.count} sample(s): {receipt.guarantee}, model version "
            f"{receipt.model_version_before} → {receipt.model_version_after}, {receipt.latency_ms:.1f} ms"
        )
        typer.echo(
            f"  deactivated/rolled back: {len(receipt.deactivated)} sequence(s); retrained: "
            f"{len(receipt.retrained)} node(s); purged checkpoints: {len(receipt.purged_checkpoints)}"
        )
        for note in receipt.notes:
            typer.echo(f"  note: {note}")
        for e in receipt.stale_exports:  # GDPR Art. 19: recipients of copies must be told
            typer.echo(
                f"  stale export {e['export_id']}: {e['format']} of version {e['model_version']} held by "
                f"{e['recipient']} — tell them to replace it (`unlearnkit exports DIR --stale`)"
            )
        typer.echo(f"  request {receipt.request_id}")


@app.command()
def retrain(
    directory: ModelDir,
    shards: Annotated[
        str | None, typer.Option(help="comma-separated shards to rebuild (default: the dead or excluded ones)")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild dead or excluded shards (or the given ones) without any deleted sample, then serve them."""
    targets = None
    if shards is not None:
        try:
            targets = sorted({int(p) for p in shards.split(",") if p.strip()})
        except ValueError:
            raise fail(f"--shards must be comma-separated integers, got {shards!r}") from None
        if not targets:
            raise fail("--shards: no shards given")
    model = _load(directory, db)
    try:
        before = model.model_version
        info = model.retrain(targets)
    finally:
        model.close()
    payload = {**info, "model_version_before": before}
    if not info["shards"]:
        lines = ["nothing to retrain: every shard serves (name shards with --shards to rebuild them anyway)"]
    else:
        lines = [
            f"retrained shard(s) {info['shards']} in {info['seconds']:.1f}s ({info.get('nodes', 0)} node(s)); "
            f"model version {before} → {info['model_version']}; purged {len(info['purged'])} checkpoint(s)"
        ]
    _emit(as_json, payload, lines)


@app.command()
def status(
    directory: ModelDir,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Model version, alive depth per shard and sequence, pending retrains, deletions, remaining capacity.

    Alive depths reveal which slices were hit: keep this output with the operator.
    """
    from unlearnkit.exact.status import capacity_warning, model_status

    model = _load(directory, db)
    try:
        st = model_status(model)
    finally:
        model.close()
    if as_json:
        typer.echo(json.dumps(st, indent=2, default=str))
        return
    cap = st["capacity"]
    typer.echo(
        f"{st['strategy']} model {directory}: version {st['model_version']}, {st['shards']} shard(s) × "
        f"{st['slices']} slice(s), sharding by {st['sharding']}, {st['label_set']['num_classes']} classes"
    )
    for row in st["sequences"]:
        typer.echo(
            f"  shard {row['shard']} sequence {row['sequence']} order {row['order']}: alive depth "
            f"{row['alive_depth']}/{st['slices']} ({row['state']})"
        )
    d = st["deletions"]
    typer.echo(
        f"deletions: {d['samples_deleted']} sample(s) in {d['requests_completed']} request(s); "
        f"{d['samples_held']} held; pending retrain: {st['pending_retrain'] or 'none'}"
    )
    if cap["bounded"]:
        typer.echo(
            f"capacity: about {cap['expected_requests']:.1f} ± {cap['std']:.1f} more random deletions before every "
            f"shard is dead ({cap['fraction_left']:.0%} of {cap['at_fit']:.1f} at fit)"
        )
    else:
        typer.echo(f"capacity: unbounded ({cap['why']})")
    warning = capacity_warning(st)
    if warning:
        typer.echo(f"warning: {warning}")


@app.command()
def predict(
    directory: ModelDir,
    data: Annotated[Path, typer.Option(help="CSV/Parquet with an id column and the feature columns")],
    out: Annotated[Path, typer.Option(help="where to write predictions (CSV)")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write ``id, prediction, p_0 … p_{C-1}`` for every row of ``--data`` (text files for HF text models); a
    regression model writes ``id, prediction`` (the predicted value)."""
    import numpy as np
    import torch

    from unlearnkit.data import load_table

    names = None
    version = None
    values = None  # regression: predicted values instead of class probabilities
    if (directory / "backbone").is_dir():  # a Hugging Face backbone: rows are texts (or an image folder)
        strategy = _load(directory, db)
        try:
            bb = strategy.spec_
            if bb.modality == "image":
                from unlearnkit.data.images import load_image_folder

                rows = load_image_folder(data, bb, label_names=strategy.config_.get("label_names"))
            else:
                from unlearnkit.data.text import load_text

                rows = load_text(data, bb, label_names=strategy.config_.get("label_names"), require_label=False)
            proba = strategy.predict_proba(rows.x)
            names = strategy.config_.get("label_names")
            version = strategy.model_version
        finally:
            strategy.close()
    elif (directory / "model.json").is_file():
        from unlearnkit.models.io import load_model
        from unlearnkit.models.train import predict_logits

        rows = load_table(data, require_label=False)
        model, spec, meta = load_model(directory)
        if rows.num_features != spec.in_features:
            raise fail(f"{data}: {rows.num_features} features, the model expects {spec.in_features}")
        if meta.get("task") == "regression":
            values = predict_logits(model, rows.x).reshape(-1).numpy()
        else:
            proba = torch.softmax(predict_logits(model, rows.x), dim=1).numpy()
    else:
        rows = load_table(data, require_label=False)
        strategy = _load(directory, db)
        try:
            if strategy.is_regression_:
                values = strategy.predict(rows.x)
            else:
                proba = strategy.predict_proba(rows.x)
            version = strategy.model_version
        finally:
            strategy.close()
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        ids = rows.external_ids or rows.id_list()
        if values is not None:
            w.writerow(["id", "prediction"])
            w.writerows([i, f"{float(v):.6f}"] for i, v in zip(ids, values, strict=True))
        else:
            w.writerow(["id", "prediction", *[f"p_{c}" for c in range(proba.shape[1])]])
            for i, p in zip(ids, proba, strict=True):
                k = int(np.argmax(p))
                w.writerow([i, names[k] if names else k, *[f"{v:.6f}" for v in p]])
    tmp.replace(out)
    _emit(
        as_json,
        {"predictions": len(rows), "out": str(out), "model_version": version},
        [f"wrote {len(rows)} predictions to {out}"],
    )


@app.command()
def audit(
    directory: ModelDir,
    db: DbOpt = None,
    head: Annotated[
        list[Path] | None,
        typer.Option(help="a signed audit head or receipt kept off the machine; the store must still extend it"),
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="the model's public key as kept off the machine (pins the signer)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-verify the keyed audit chain, the lineage invariant, the signed file manifest and audit head, and the
    checkpoint files against the store; exit 1 if anything is broken."""
    from unlearnkit.cli.receipts import audit_against

    try:
        model = _load(directory, db)
    except UnlearnkitError as exc:
        raise fail(f"cannot load {directory}: {exc}") from None
    try:
        report = model.verify()
        report.problems += audit_against(model, head or [], public_key)
        report.ok = not report.problems
    finally:
        model.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif report.ok:
        typer.echo(f"ok: {report.events} audit events chain correctly; no served or stored checkpoint saw a deleted id")
    else:
        for p in report.problems:
            typer.echo(f"problem: {p}", err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="where to write the plot and results")] = Path("demo-out"),
    deletions: Annotated[int, typer.Option(help="length of the deletion stream")] = 24,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON instead of a table")] = False,
) -> None:
    """S3T and SISA on digits under a stream of deletion requests: a table and a PNG of accuracy vs deletions."""
    import tempfile

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from unlearnkit.data import load_digits
    from unlearnkit.errors import RetrainRequiredError
    from unlearnkit.exact import S3T, SISA

    console = Console(quiet=as_json)
    bundle = load_digits(seed=seed)
    runs = {
        "S3T (B=4)": lambda: S3T(shards=3, slices=4, budget=4, seed=seed),
        "S3T (B=1)": lambda: S3T(shards=3, slices=4, budget=1, seed=seed),
        "SISA-rollback": lambda: SISA(shards=3, slices=4, mode="rollback", seed=seed),
        "SISA-retrain": lambda: SISA(shards=3, slices=4, mode="retrain", seed=seed),
    }
    stream = random.Random(seed).sample(bundle.train.id_list(), deletions)
    every = max(1, deletions // 8)
    curves: dict[str, list[tuple[int, float | None]]] = {}
    rows = []
    out.mkdir(parents=True, exist_ok=True)
    console.print(
        f"[bold]unlearnkit demo[/]: digits, {len(bundle.train)} deletable samples, "
        f"{len(bundle.public)} public, m=3 shards × L=4 slices; {deletions} deletion requests"
    )
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console, transient=True) as bar:
        task = bar.add_task("training and forgetting", total=len(runs) * (deletions + 1))
        for name, make in runs.items():
            t0 = time.perf_counter()
            model = make().fit(bundle.train, bundle.public, directory=Path(tmp) / name.replace(" ", "_"))
            fit_s = time.perf_counter() - t0
            bar.advance(task)

            def acc() -> float | None:
                try:
                    return model.score(bundle.test)  # noqa: B023
                except RetrainRequiredError:
                    return None

            curve, latencies = [(0, acc())], []
            for k, sample in enumerate(stream, start=1):
                latencies.append(model.forget([sample]).latency_ms)
                if k % every == 0 or k == deletions:
                    curve.append((k, acc()))
                bar.advance(task)
            curves[name] = curve
            ok = model.verify().ok
            rows.append(
                (name, fit_s, curve[0][1], curve[-1][1], statistics.median(latencies), model.pending_retrain(), ok)
            )
            model.close()
    table = Table(title=f"accuracy on {len(bundle.test)} test digits after {deletions} deletions")
    for col in ("strategy", "train s", "acc @0", f"acc @{deletions}", "p50 forget ms", "dead shards", "audit"):
        table.add_column(col, justify="right" if col != "strategy" else "left")
    for name, fit_s, a0, a1, p50, dead, ok in rows:
        table.add_row(
            name, f"{fit_s:.1f}", _fmt(a0), _fmt(a1), f"{p50:.1f}", str(dead or "-"), "ok" if ok else "BROKEN"
        )
    console.print(table)
    png = out / "accuracy_vs_deletions.png"
    _plot(curves, png, deletions)
    (out / "demo.json").write_text(json.dumps({"curves": curves, "rows": rows}, indent=2, default=str))
    if as_json:
        typer.echo((out / "demo.json").read_text())
    console.print(
        f"plot: {png}\nS3T forgets by switching LoRA layers off (exact, no retraining); SISA-retrain "
        "retrains from the last clean checkpoint; SISA-rollback serves it without retraining."
    )


def _fmt(v: float | None) -> str:
    return "dead" if v is None else f"{v:.3f}"


def _plot(curves: dict[str, list[tuple[int, float | None]]], path: Path, deletions: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, curve in curves.items():
        xs = [k for k, a in curve if a is not None]
        ys = [a for _, a in curve if a is not None]
        (line,) = ax.plot(xs, ys, marker="o", ms=3, label=name)
        dead = next((k for k, a in curve if a is None), None)
        if dead is not None and xs:  # every shard dead: nothing exact can be served until a retrain
            ax.plot([dead], [ys[-1]], marker="x", ms=9, mew=2, color=line.get_color())
            ax.annotate(
                "all shards dead",
                (dead, ys[-1]),
                textcoords="offset points",
                xytext=(4, -12),
                fontsize=8,
                color=line.get_color(),
            )
    ax.set_xlabel("deletion requests served")
    ax.set_ylabel("test accuracy")
    ax.set_title("Exact unlearning on digits: accuracy vs deletions (m=3, L=4)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
