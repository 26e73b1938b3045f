"""Operations commands: ``export`` (the served model as ONNX / TorchScript / safetensors) and ``exports``
(every recorded copy, and which ones a later deletion made stale: GDPR Art. 19)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import app, fail
from unlearnkit.errors import UnlearnkitError

DirArg = Annotated[Path, typer.Argument(help="model directory (exact strategy or standard model)")]
DbOpt = Annotated[str | None, typer.Option("--db", help="lineage database URL (default: the model dir's)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


@contextmanager
def _served(directory: Path, db: str | None) -> Iterator[tuple[Any, int, Any, int, str]]:
    """``(store, version, ensemble, num_features, kind)`` of a model directory, closed afterwards."""
    if (directory / "strategy.json").is_file():
        from unlearnkit.exact import load_strategy

        model = load_strategy(directory, db)
        try:
            version, ensemble = model.served_ensemble()
            yield model.store, version, ensemble, model.num_features, model.kind
        finally:
            model.close()
        return
    if not (directory / "model.json").is_file():
        raise fail(f"{directory}: not a model directory (no strategy.json or model.json)")
    try:
        from unlearnkit.service.backends import open_backend
        from unlearnkit.service.settings import Settings
    except ImportError:
        raise fail(
            "exporting a standard model reads its lineage through the service: pip install 'unlearnkit[service]'"
        ) from None
    backend = open_backend(Settings(model_dir=directory, db_url=db))
    try:
        version, ensemble = backend.served_ensemble()
        yield backend.store, version, ensemble, backend.num_features, backend.kind
    finally:
        backend.close()


@app.command("export")
def export_cmd(
    directory: DirArg,
    recipient: Annotated[str, typer.Option("--recipient", help="who receives the copy (told of later deletions)")],
    fmt: Annotated[str, typer.Option("--format", help="onnx, torchscript or safetensors")] = "onnx",
    out: Annotated[
        Path | None, typer.Option("--out", help="file to write (default DIR/exports/v<version>.<ext>)")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the served model for inference elsewhere and record the export (version, file hash, recipient)."""
    from unlearnkit.models.export import FORMATS, SUFFIX, export_served

    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not directory.is_dir():
        raise fail(f"{directory}: no such model directory")
    try:
        with _served(directory, db) as (store, version, ensemble, num_features, kind):
            path = out or directory / "exports" / f"v{version}-{recipient_slug(recipient)}{SUFFIX[fmt]}"
            record = export_served(
                store,
                version,
                ensemble,
                fmt=fmt,
                out=path,
                recipient=recipient,
                num_features=num_features,
                metadata={"kind": kind},
            )
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    record["path"] = str(path)
    if as_json:
        typer.echo(json.dumps(record, indent=2, sort_keys=True))
        return
    typer.echo(
        f"exported model version {version} as {fmt} to {path} for {record['recipient']} "
        f"(export {record['export_id']}, sha256 {record['file_sha256'][:16]}…)"
    )


def recipient_slug(recipient: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in recipient.strip().lower()).strip("-")
    return (slug or "recipient")[:40]


@app.command("exports")
def exports_cmd(
    directory: DirArg,
    stale: Annotated[bool, typer.Option("--stale", help="only copies a later deletion made stale")] = False,
    replaced: Annotated[
        list[int] | None, typer.Option("--replaced", help="record that this export's recipient replaced it")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the recorded exports; with --stale, the recipients who must replace their copy (GDPR Art. 19)."""
    from unlearnkit.lineage import LineageStore
    from unlearnkit.lineage.exports import list_exports, mark_replaced

    if not directory.is_dir():
        raise fail(f"{directory}: no such model directory")
    url = db or f"sqlite:///{(directory / 'lineage.db').resolve()}"
    if db is None and not (directory / "lineage.db").is_file():
        raise fail(f"{directory}: no lineage database (lineage.db)")
    if not (directory / "secret.key").is_file():
        raise fail(f"{directory}: no secret.key (not a model directory?)")
    store = LineageStore(url, (directory / "secret.key").read_bytes())
    try:
        if replaced:
            mark_replaced(store, list(replaced))
        rows = list_exports(store, stale=True if stale else None)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    if not rows:
        typer.echo("no stale exports" if stale else "no exports recorded")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "version", "format", "recipient", "exported at", "stale", "file sha256")
    for r in rows:
        why = f"yes (deletion → v{r['stale_since_version']})" if r["stale"] else "no"
        if r["replaced_at"]:
            why = f"replaced {r['replaced_at']}"
        table.add_row(
            str(r["export_id"]),
            str(r["model_version"]),
            r["format"],
            r["recipient"],
            r["exported_at"] or "",
            why,
            r["file_sha256"][:16] + "…",
        )
    Console().print(table)
