"""Commands for exact unlearning and model directories: demo, train, forget, predict, audit."""

from __future__ import annotations

import csv
import json
import random
import statistics
import time
from pathlib import Path
from typing import Annotated

import typer

from unlearnkit.cli import app, fail
from unlearnkit.errors import UnlearnkitError

STRATEGY_CHOICES = ("s3t", "sisa", "retrain", "standard")


def _parse_ids(text: str) -> list[int] | list[str]:
    """Integer sample ids, or external string ids (UUIDs, emails) when any id is not an integer."""
    parts = [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
    if not parts:
        raise fail("no ids given")
    if all(p.lstrip("-").isdigit() for p in parts):
        return [int(p) for p in parts]
    return parts


@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", help="model directory to create (must not exist)")],
    strategy: Annotated[
        str, typer.Option(help="s3t | sisa | retrain | standard (monolithic, for approximate)")
    ] = "s3t",
    data: Annotated[str, typer.Option(help="digits | mnist1d | synthetic | a CSV/Parquet file")] = "digits",
    public: Annotated[str | None, typer.Option(help="CSV/Parquet of public (never deletable) samples")] = None,
    public_fraction: Annotated[float | None, typer.Option(help="public share of a built-in dataset")] = None,
    shards: Annotated[int, typer.Option(help="m: number of shards")] = 3,
    slices: Annotated[int, typer.Option(help="L: slices per shard (= LoRA blocks)")] = 4,
    budget: Annotated[int, typer.Option(help="B: S3T slice orders per shard")] = 4,
    selection: Annotated[str, typer.Option(help="S3T order selection: cyclic | bms | random")] = "cyclic",
    prior: Annotated[str | None, typer.Option(help="BMS deletion prior per slice, e.g. 0.1,0.2,0.3,0.4")] = None,
    mode: Annotated[str, typer.Option(help="SISA serving after a deletion: retrain | rollback")] = "retrain",
    aggregation: Annotated[str | None, typer.Option(help="mean (logit average) | vote")] = None,
    arch: Annotated[str, typer.Option(help="resmlp | transformer")] = "resmlp",
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
    epochs: Annotated[int | None, typer.Option(help="epochs per stage (standard: total epochs)")] = None,
    lr: Annotated[float | None, typer.Option(help="learning rate")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    db: Annotated[
        str | None, typer.Option(help="lineage database URL (default: SQLite in the model directory)")
    ] = None,
    executor: Annotated[str, typer.Option(help="shard training: local | process:N | ray[:ADDRESS]")] = "local",
    progress: Annotated[bool, typer.Option(help="show progress")] = True,
) -> None:
    """Train a model whose deletions are exact (s3t, sisa, retrain) or a monolithic one (standard)."""
    from unlearnkit.data import resolve_data

    if strategy not in STRATEGY_CHOICES:
        raise fail(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGY_CHOICES)}")
    if out.exists():
        raise fail(f"{out}: already exists (choose another --out or remove it)")
    bb = None
    if backbone is not None and backbone not in ("resmlp", "transformer"):
        if strategy == "standard":
            raise fail("--backbone applies to exact strategies (s3t, sisa, retrain)")
        bb, bundle = _backbone_data(backbone, data, task, labels, lora_layers, max_length, pooling)
    else:
        arch = backbone or arch
        bundle = resolve_data(data, seed=seed, public=public, public_fraction=public_fraction)
    t0 = time.perf_counter()
    if strategy == "standard":
        _train_standard(bundle, out, arch, epochs, lr, seed, data, public, public_fraction)
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
    with _status(progress, f"training {strategy} on {bundle.name} ({len(bundle.train)} deletable samples)"):
        model.fit(bundle.train, bundle.public, directory=out, db_url=db)
    acc = f", test accuracy {model.score(bundle.test):.3f}" if bundle.test is not None else ""
    typer.echo(f"{strategy} model written to {out} in {time.perf_counter() - t0:.1f}s{acc}")
    typer.echo(f"backbone: {model.backbone_description_}")
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
) -> None:
    from unlearnkit.context import RunContext
    from unlearnkit.models import ModelSpec
    from unlearnkit.models.io import save_model
    from unlearnkit.models.standard import fit_standard

    spec = ModelSpec(arch=arch, in_features=bundle.num_features, num_classes=bundle.num_classes)
    kwargs = {k: v for k, v in {"epochs": epochs, "lr": lr}.items() if v is not None}
    model, hyper = fit_standard(bundle, spec, ctx=RunContext(seed=seed), **kwargs)
    meta = {"data": {"spec": data, "seed": seed, "public": public, "public_fraction": public_fraction}, "train": hyper}
    save_model(out, model, spec, meta=meta)
    typer.echo(f"standard model written to {out} ({json.dumps({k: v for k, v in hyper.items() if 'acc' in k})})")


@app.command()
def forget(
    directory: Annotated[Path, typer.Argument(help="an exact model directory")],
    ids: Annotated[str | None, typer.Option(help="comma-separated sample ids")] = None,
    ids_file: Annotated[Path | None, typer.Option(help="file of ids, one per line or comma-separated")] = None,
    owner: Annotated[str | None, typer.Option(help="forget every sample of this owner")] = None,
    request_id: Annotated[str | None, typer.Option(help="idempotency key: re-running completes the request")] = None,
    defer_retrain: Annotated[bool, typer.Option(help="deactivate/roll back now, retrain later")] = False,
    db: Annotated[str | None, typer.Option(help="lineage database URL")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the signed receipt as JSON")] = False,
) -> None:
    """Forget samples (by id) or a data subject (by owner); prints the deletion receipt (signed with the model's
    key and kept in DIR/receipts)."""
    from unlearnkit.cli.receipts import sign_cli_receipt
    from unlearnkit.exact import load_strategy
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
    try:
        model = load_strategy(directory, db)
        if wanted and isinstance(wanted[0], str) and not model.config_.get("external_ids"):
            model.close()
            raise fail(f"sample ids must be integers (this model has no external string ids), got {wanted[0]!r}")
        model.fault_injector = fault_injector_from_env()  # testing only; inert unless UNLEARNKIT_FAULT is set
        try:
            receipt = model.forget(wanted, owner, request_id=request_id, defer_retrain=defer_retrain)
            int_ids = wanted if wanted is not None and all(isinstance(i, int) for i in wanted) else None
            envelope = sign_cli_receipt(model, receipt, int_ids, "owner" if owner is not None else "ids")
        finally:
            model.close()
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(envelope, indent=2, sort_keys=True))
        return
    if wanted is not None and all(isinstance(i, int) for i in wanted):
        done = set(receipt.already_forgotten)
        model = load_strategy(directory, db)
        noop = [i for i in wanted if model.store.id_hash(i) in done]
        model.close()
        for i in noop:
            typer.echo(f"id {i} was already forgotten: nothing to do")
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
        typer.echo(f"  request {receipt.request_id}")


@app.command()
def predict(
    directory: Annotated[Path, typer.Argument(help="a model directory (exact or standard)")],
    data: Annotated[Path, typer.Option(help="CSV/Parquet with an id column and the feature columns")],
    out: Annotated[Path, typer.Option(help="where to write predictions (CSV)")],
    db: Annotated[str | None, typer.Option(help="lineage database URL")] = None,
) -> None:
    """Write ``id, prediction, p_0 … p_{C-1}`` for every row of ``--data`` (text files for HF text models)."""
    import numpy as np
    import torch

    from unlearnkit.data import load_table

    names = None
    if (directory / "backbone").is_dir():  # a Hugging Face backbone: rows are texts (or an image folder)
        from unlearnkit.exact import load_strategy

        strategy = load_strategy(directory, db)
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
        except UnlearnkitError as exc:
            raise fail(str(exc)) from None
        finally:
            strategy.close()
    elif (directory / "model.json").is_file():
        rows = load_table(data, require_label=False)
        from unlearnkit.models.io import load_model
        from unlearnkit.models.train import predict_logits

        model, spec, _ = load_model(directory)
        if rows.num_features != spec.in_features:
            raise fail(f"{data}: {rows.num_features} features, the model expects {spec.in_features}")
        proba = torch.softmax(predict_logits(model, rows.x), dim=1).numpy()
    else:
        from unlearnkit.exact import load_strategy

        rows = load_table(data, require_label=False)
        strategy = load_strategy(directory, db)
        try:
            proba = strategy.predict_proba(rows.x)
        except UnlearnkitError as exc:
            raise fail(str(exc)) from None
        finally:
            strategy.close()
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "prediction", *[f"p_{c}" for c in range(proba.shape[1])]])
        for i, p in zip(rows.external_ids or rows.id_list(), proba, strict=True):
            k = int(np.argmax(p))
            w.writerow([i, names[k] if names else k, *[f"{v:.6f}" for v in p]])
    tmp.replace(out)
    typer.echo(f"wrote {len(rows)} predictions to {out}")


@app.command()
def audit(
    directory: Annotated[Path, typer.Argument(help="an exact model directory")],
    db: Annotated[str | None, typer.Option(help="lineage database URL")] = None,
    head: Annotated[
        list[Path] | None,
        typer.Option(help="a signed audit head or receipt kept off the machine; the store must still extend it"),
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="the model's public key as kept off the machine (pins the signer)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-verify the keyed audit chain, the lineage invariant, the signed file manifest and audit head, and the
    checkpoint files against the store; exit 1 if anything is broken."""
    from unlearnkit.cli.receipts import audit_against
    from unlearnkit.exact import load_strategy

    try:
        model = load_strategy(directory, db)
    except UnlearnkitError as exc:
        raise fail(f"cannot load {directory}: {exc}") from None
    try:
        report = model.verify()
        report.problems += audit_against(model, head or [], public_key)
        report.ok = not report.problems
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
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
) -> None:
    """S3T and SISA on digits under a stream of deletion requests: a table and a PNG of accuracy vs deletions."""
    import tempfile

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from unlearnkit.data import load_digits
    from unlearnkit.errors import RetrainRequiredError
    from unlearnkit.exact import S3T, SISA

    console = Console()
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
