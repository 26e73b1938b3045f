"""Service commands: ``serve``, ``worker``, ``verify-receipt``, ``tokens create|revoke``, ``bench service``."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import app, bench_app, fail
from unlearnkit.errors import UnlearnkitError

tokens_app = typer.Typer(no_args_is_help=True, help="API tokens of the deletion service (stored hashed).")
app.add_typer(tokens_app, name="tokens")

DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (default: sqlite file in the model dir)")]
KeyOpt = Annotated[Path | None, typer.Option("--key", help="Ed25519 signing key (default DIR/signing/ed25519.pem)")]


def _settings(directory: Path, **kwargs: object) -> Any:
    from pydantic import ValidationError

    from unlearnkit.service.settings import Settings

    try:
        return Settings(model_dir=directory, **kwargs)
    except ValidationError as exc:
        raise fail(str(exc).replace("\n", "; ")) from None


@app.command()
def serve(
    directory: Annotated[Path, typer.Argument(help="model directory (exact strategy or standard model)")],
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    tokens: Annotated[Path | None, typer.Option(help="tokens file: lines `role:token` or JSON")] = None,
    key: KeyOpt = None,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="run the job worker in this process")] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    log_format: Annotated[str, typer.Option(help="json (one event per line) or text")] = "json",
    metrics_port: Annotated[
        int | None, typer.Option(help="serve Prometheus metrics on this loopback port instead of /metrics")
    ] = None,
) -> None:
    """Serve predictions and deletion requests over HTTP (FastAPI under uvicorn; OpenAPI at /docs)."""
    import uvicorn

    from unlearnkit.service.app import create_app
    from unlearnkit.service.auth import parse_tokens_file
    from unlearnkit.service.logs import logging_config

    settings = _settings(
        directory,
        db_url=db,
        tokens_file=tokens,
        key_path=key,
        run_worker=worker,
        log_format=log_format,
        metrics_port=metrics_port,
    )
    if not directory.is_dir():
        raise fail(f"{directory}: no such model directory")
    if tokens is not None:
        try:
            parse_tokens_file(tokens)
        except UnlearnkitError as exc:
            raise fail(str(exc)) from None
    try:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level=log_level,
            log_config=logging_config(settings.log_format, log_level),
        )
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None


@app.command("worker")
def worker_cmd(
    directory: Annotated[Path, typer.Argument(help="model directory")],
    db: DbOpt = None,
    key: KeyOpt = None,
    once: Annotated[bool, typer.Option(help="run the queued jobs, then exit")] = False,
) -> None:
    """Run the deletion job worker in this process (restartable; one worker holds the lease at a time)."""
    from unlearnkit.service.core import open_service
    from unlearnkit.service.logs import configure_logging
    from unlearnkit.service.worker import Worker

    settings = _settings(directory, db_url=db, key_path=key, run_worker=False)
    configure_logging(settings.log_format, "info")
    try:
        svc = open_service(settings)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    w = Worker(svc)
    try:
        if once:
            typer.echo(f"ran {w.drain()} job(s)")
            return
        stop = threading.Event()

        def _stop(_sig: int, _frame: object) -> None:
            stop.set()
            w.wake.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        w.run(stop)
    finally:
        svc.close()


@app.command("verify-receipt")
def verify_receipt(
    receipt: Annotated[Path, typer.Argument(help="a receipt JSON as served by GET /v1/deletion-requests/{id}/receipt")],
    key: Annotated[Path | None, typer.Option(help="public key file (PEM, base64 raw, or JSON from /v1/keys)")] = None,
    url: Annotated[str | None, typer.Option(help="service base URL: fetch the key from URL/v1/keys")] = None,
) -> None:
    """Check a receipt's Ed25519 signature, offline with a key file or against the service's published key."""
    from unlearnkit.lineage.signing import load_public_key, parse_envelope, verify_envelope

    if (key is None) == (url is None):
        raise fail("give exactly one of --key or --url")
    try:
        envelope = parse_envelope(receipt.read_bytes())  # duplicate keys are refused
    except OSError as exc:
        raise fail(f"{receipt}: cannot read a JSON receipt ({exc})") from None
    except UnlearnkitError as exc:
        raise fail(f"INVALID: {receipt}: {exc}") from None
    try:
        if key is not None:
            public = load_public_key(key.read_bytes())
        else:
            import httpx

            kid = (envelope.get("signature") or {}).get("key_id")
            keys = httpx.get(f"{url.rstrip('/')}/v1/keys", timeout=10).raise_for_status().json()["keys"]
            match = [k for k in keys if k["key_id"] == kid]
            if not match:
                raise fail(f"the service at {url} publishes no key {kid!r}")
            public = load_public_key(match[0]["public_key_pem"])
        verify_envelope(envelope, public)
    except OSError as exc:
        raise fail(f"cannot read the key: {exc}") from None
    except UnlearnkitError as exc:
        raise fail(f"INVALID: {exc}") from None
    except Exception as exc:  # httpx errors, malformed key JSON
        raise fail(f"cannot verify: {type(exc).__name__}: {exc}") from None
    body = envelope["receipt"]
    typer.echo(
        f"valid: receipt for request {body.get('request', {}).get('id')} (revision {body.get('revision')}, "
        f"guarantee {body.get('guarantee', {}).get('class')}) signed by key {envelope['signature']['key_id']}"
    )


@tokens_app.command("create")
def tokens_create(
    directory: Annotated[Path, typer.Argument(help="model directory")],
    role: Annotated[str, typer.Option(help="predict | delete | admin")],
    name: Annotated[str | None, typer.Option(help="a unique name (identifies the submitter)")] = None,
    db: DbOpt = None,
) -> None:
    """Create a bearer token; prints it once (only its sha256 is stored)."""
    from unlearnkit.service.auth import create_token
    from unlearnkit.service.core import open_store

    settings = _settings(directory, db_url=db)
    try:
        store = open_store(settings)
        try:
            token, principal = create_token(store, role, name)
        finally:
            store.close()
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    typer.echo(token)
    typer.echo(f"created {principal.role} token {principal.name!r} (shown once; store it safely)", err=True)


@tokens_app.command("revoke")
def tokens_revoke(
    directory: Annotated[Path, typer.Argument(help="model directory")],
    name: Annotated[str, typer.Option(help="the token's name")],
    db: DbOpt = None,
) -> None:
    """Revoke a stored token (servers stop accepting it within `token_cache_seconds`)."""
    from unlearnkit.service.auth import revoke_token
    from unlearnkit.service.core import open_store

    settings = _settings(directory, db_url=db)
    try:
        store = open_store(settings)
        try:
            done = revoke_token(store, name)
        finally:
            store.close()
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if not done:
        raise fail(f"no active token named {name!r}")
    typer.echo(f"revoked {name!r}")


@bench_app.command("service")
def bench_service(
    out: Annotated[Path, typer.Option("--out", help="output directory")] = Path("runs/bench-service"),
    clients: Annotated[int, typer.Option(help="concurrent predict clients")] = 4,
    predictions: Annotated[int, typer.Option(help="predict calls per client and phase")] = 500,
    deletions: Annotated[int, typer.Option(help="deletion requests during the storm")] = 200,
    strategy: Annotated[str, typer.Option(help="s3t | sisa | standard")] = "s3t",
    model_dir: Annotated[Path | None, typer.Option(help="use this model dir (copied) instead of training one")] = None,
    worker_process: Annotated[
        bool, typer.Option(help="run the worker as its own process (not a server thread)")
    ] = False,
    batch: Annotated[int, typer.Option(help="instances per predict call")] = 1,
) -> None:
    """Load test on loopback: predict latency idle vs during a storm of deletion requests (p50/p99, ratio)."""
    from unlearnkit.service.loadtest import LoadConfig, run_load_test

    cfg = LoadConfig(
        clients=clients,
        predictions=predictions,
        deletions=deletions,
        strategy=strategy,
        worker_process=worker_process,
        batch=batch,
    )
    try:
        result = run_load_test(out, cfg, model_dir=model_dir, echo=lambda m: typer.echo(m, err=True))
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    typer.echo(result["markdown"])
    typer.echo(f"results written to {out}/results.json")
