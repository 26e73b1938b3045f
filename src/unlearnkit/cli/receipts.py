"""Signed receipts outside the service: ``forget`` signs them with the model's key, ``receipts DIR`` lists them.

A receipt of ``unlearnkit forget`` is the same signed document the service issues (checked by
``unlearnkit verify-receipt --key DIR/signing/ed25519.pub.pem``) and is kept in ``DIR/receipts/<request>.json``.
``receipts DIR`` lists those and, when the directory is served, the service's receipts in the same database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import app, fail
from unlearnkit.errors import ConfigError, UnlearnkitError


def sign_cli_receipt(model: Any, receipt: Any, named_ids: list[int] | None, kind: str) -> dict[str, Any]:
    """Build, sign and keep the public receipt of a finished ``forget`` (idempotent per request id)."""
    from unlearnkit.lineage.audit import chain_head
    from unlearnkit.lineage.receipts import public_receipt, save_receipt

    store = model.store
    stored = Path(model.directory) / "receipts" / f"{receipt.request_id}.json"
    if stored.is_file():
        return json.loads(stored.read_text())
    head = chain_head(store)
    named = (
        [store.id_hash(i) for i in named_ids]
        if named_ids is not None
        else [*receipt.id_hashes, *receipt.already_forgotten]
    )
    body = public_receipt(
        receipt,
        request={
            "id": receipt.request_id,
            "kind": kind,
            "received_at": receipt.received_at,
            "completed_at": receipt.completed_at,
        },
        named_id_hashes=named,
        backend_kind=model.kind,
        exact=True,
        audit_head={k: head[k] for k in ("seq", "hash", "model_version", "chain")},
    )
    envelope = model.signer().sign(body, kind="receipt")
    save_receipt(Path(model.directory), envelope)
    return envelope


def audit_against(model: Any, heads: list[Path], public_key: Path | None) -> list[str]:
    """Problems found checking the model against signed heads/receipts kept elsewhere and a pinned key."""
    from unlearnkit.lineage.audit import head_problems, load_head
    from unlearnkit.lineage.signing import key_id, load_public_key

    problems: list[str] = []
    key = model.public_key()
    if public_key is not None:
        try:
            pinned = load_public_key(public_key.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{public_key}: not a public key ({exc})") from None
        if key_id(pinned) != key_id(key):
            problems.append(
                f"the model directory's key {key_id(key)} is not the pinned key {key_id(pinned)}: its files and "
                "head were re-signed by someone else"
            )
        key = pinned
    for path in heads:
        try:
            signed = load_head(path.read_bytes(), key)
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        problems += head_problems(model.store, signed, str(path))
    return problems


def _service_receipts(model: Any) -> list[dict[str, Any]]:
    """Receipts the service stored in the same database (none when it never ran there)."""
    from sqlalchemy import inspect, text

    store = model.store
    if "svc_requests" not in inspect(store.engine).get_table_names():
        return []
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT receipt_json FROM svc_requests WHERE receipt_json IS NOT NULL ORDER BY completed_at")
        ).all()
    return [json.loads(r[0]) for r in rows]


@app.command()
def receipts(
    directory: Annotated[Path, typer.Argument(help="a model directory")],
    db: Annotated[str | None, typer.Option(help="lineage database URL")] = None,
    show: Annotated[str | None, typer.Option(help="print this request's signed receipt (JSON)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print every receipt as a JSON list")] = False,
) -> None:
    """List the signed deletion receipts of a model (CLI and service), or print one with --show."""
    from unlearnkit.exact import load_strategy
    from unlearnkit.lineage.receipts import stored_receipts

    try:
        model = load_strategy(directory, db)
    except UnlearnkitError as exc:
        raise fail(f"cannot load {directory}: {exc}") from None
    try:
        found = [("cli", e) for e in stored_receipts(directory)] + [("service", e) for e in _service_receipts(model)]
    finally:
        model.close()
    if show is not None:
        match = [e for _, e in found if e.get("receipt", {}).get("request", {}).get("id") == show]
        if not match:
            raise fail(f"no receipt for request {show!r}")
        typer.echo(json.dumps(match[-1], indent=2, sort_keys=True))
        return
    if as_json:
        typer.echo(json.dumps([e for _, e in found], indent=2, sort_keys=True))
        return
    if not found:
        typer.echo("no receipts")
        return
    for source, env in found:
        r = env.get("receipt", {})
        typer.echo(
            f"{r.get('request', {}).get('id')}  {r.get('issued_at')}  {source:7s}  "
            f"{r.get('guarantee', {}).get('class')}  {r.get('erased', {}).get('count')} record(s)  "
            f"v{r.get('model', {}).get('version_before')}→v{r.get('model', {}).get('version_after')}  "
            f"key {env.get('signature', {}).get('key_id')}"
        )
