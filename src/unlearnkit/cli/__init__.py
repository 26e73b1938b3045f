"""The ``unlearnkit`` command line. Each module in this package adds its commands to :data:`app`.

Conventions every command follows:

- a model directory is the positional argument ``DIR`` (:data:`ModelDir`); sample ids are ``--ids``;
- a command that prints a result takes ``--json`` and then prints only JSON on stdout;
- errors the user can fix are one line on stderr (``error: …``), never a traceback; exit codes:
  0 success, 1 an error or a failed check (:data:`EXIT_ERROR`), 2 a command-line usage error (click's);
- a missing optional extra (``serve`` without ``[service]``) is a one-line install hint;
- ``-h``/``--help`` and ``--version`` work everywhere.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from unlearnkit.errors import UnlearnkitError

EXIT_ERROR = 1

#: the model-directory argument, spelled the same by every command
ModelDir = Annotated[Path, typer.Argument(metavar="DIR", help="a model directory")]


def missing_extra_hint(module: str | None) -> str | None:
    """``pip install 'unlearnkit[EXTRA]'`` for a module an optional extra provides (read from the metadata)."""
    if not module:
        return None
    top = module.split(".")[0].lower()
    try:
        from importlib.metadata import requires

        reqs = requires("unlearnkit") or []
    except Exception:  # not installed as a distribution
        return None
    for req in reqs:
        m = re.match(r"\s*([A-Za-z0-9_.\-]+).*extra\s*==\s*['\"]([^'\"]+)['\"]", req)
        if m and m.group(2) != "dev" and m.group(1).lower().replace("-", "_") == top:
            extra = m.group(2)
            return f"this command needs the '{extra}' extra ({top} is missing): pip install 'unlearnkit[{extra}]'"
    return None


#: parameter names that mean "a model directory"; every command shows them as ``DIR``
MODEL_DIR_PARAMS = ("directory", "model_dir")


def _name_model_dirs(command: Any) -> None:
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument" and param.name in MODEL_DIR_PARAMS:
            param.metavar = "DIR"
    for sub in getattr(command, "commands", {}).values():
        _name_model_dirs(sub)


class _Group(TyperGroup):
    """Turns library errors and missing extras into one line on stderr and exit code 1, for every command;
    names every model-directory argument ``DIR``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _name_model_dirs(self)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UnlearnkitError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        except ModuleNotFoundError as exc:
            hint = missing_extra_hint(exc.name)
            if hint is None:
                raise
            typer.echo(f"error: {hint}", err=True)
            raise typer.Exit(EXIT_ERROR) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Machine unlearning: train, forget, predict, audit, evaluate, benchmark, serve.",
)


def _version(value: bool) -> None:
    if value:
        from unlearnkit import __version__

        typer.echo(f"unlearnkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Machine unlearning: train, forget, predict, audit, evaluate, benchmark, serve."""


bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (results as JSON, Markdown and PNG).")
app.add_typer(bench_app, name="bench")

_loaded = False


def _load_commands() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``error: message`` on stderr; ``raise fail(...)`` exits with ``code``."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def run_bench(run: Any, out: Path, cfg: Any, written: str = "") -> None:
    """Run a family's ``run_benchmark(out, cfg, echo=...)`` with progress on stderr, print its Markdown and where
    the results went (``written``: what lies there, e.g. `` (results.json, results.md, PNGs)``)."""
    from rich.console import Console

    console = Console(stderr=True)
    try:
        summary = run(out, cfg, echo=lambda msg: console.print(msg, highlight=False))
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    typer.echo(summary["markdown"])
    typer.echo(f"results written to {out}/{written} in {summary['elapsed_seconds']:.0f} s")


def main() -> None:
    _load_commands()
    try:
        app()
    except UnlearnkitError as exc:  # raised outside a command (while loading the commands)
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
