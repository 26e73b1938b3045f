"""``unlearnkit llm``: language-model unlearning (world, train, unlearn, eval, bench).

The embedded default needs no download: ``llm world`` writes a generated people-and-facts world, ``llm train``
trains the tiny GPT-2 on it (``--exclude-folds 0`` trains the retrained reference), ``llm unlearn`` runs a
registered LM method and prints a receipt (APPROXIMATE with the method and measured metrics; EXACT for
``retrain``), ``llm eval`` prints MUSE's and TOFU's metrics against a reference. Any HF causal LM works with
``--model hf:NAME_OR_PATH`` and a user's corpora (``--forget/--retain/--holdout`` ``.txt``/``.jsonl``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import app, fail, run_bench
from unlearnkit.errors import UnlearnkitError

llm_app = typer.Typer(no_args_is_help=True, help="Language-model unlearning: world, train, unlearn, eval, bench.")
app.add_typer(llm_app, name="llm")
QUICK = ("verbmem_f", "knowmem_f", "knowmem_r", "mia_min_k")


def _folds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise fail(f"--folds expects comma-separated integers, got {text!r}") from None


def _load_world(directory: Path) -> Any:
    from unlearnkit.llm.world import World

    path = Path(directory) / "world.json"
    if not path.is_file():
        raise fail(f"{directory}: not a world directory (make one with: unlearnkit llm world --out DIR)")
    return World.from_dict(json.loads(path.read_text()))


def _load_model(spec: str) -> tuple[Any, Any, dict[str, Any]]:
    from unlearnkit.llm.hf import load_causal_lm, load_lm

    try:
        if spec.startswith("hf:"):
            model, tok = load_causal_lm(spec)
            return model, tok, {"source": spec}
        return load_lm(Path(spec))
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None


def _split_and_eval(
    meta: dict[str, Any],
    tokenizer: Any,
    world: Path | None,
    folds: str,
    forget: Path | None,
    retain: Path | None,
    holdout: Path | None,
) -> tuple[Any, Any, dict[str, Any]]:
    """The split and evaluation items from a world (given or recorded with the model) or from files."""
    from unlearnkit.llm.data import LMEvalSet, corpus_split, verbmem_items

    if forget is not None:
        try:
            split = corpus_split(forget, retain, holdout)
        except UnlearnkitError as exc:
            raise fail(str(exc)) from None
        split.tokenizer = tokenizer
        ev = LMEvalSet(
            verbmem=verbmem_items(split.forget, tokenizer), privleak_forget=split.forget, privleak_holdout=split.holdout
        )
        return (
            split,
            ev,
            {"kind": "files", "forget": str(forget), "retain": str(retain or ""), "holdout": str(holdout or "")},
        )
    world_dir = world or (Path(meta["world_dir"]) if meta.get("world_dir") else None)
    if world_dir is None:
        raise fail("give --world DIR or --forget FILE (the model records no world)")
    w = _load_world(world_dir)
    fs = _folds(folds)
    try:
        return (
            w.split(fs, tokenizer=tokenizer),
            w.eval_set(fs),
            {"kind": "world", "world_dir": str(world_dir), "folds": list(fs)},
        )
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None


@llm_app.command("world")
def world_cmd(
    out: Annotated[Path, typer.Option("--out", help="directory to create")],
    seed: Annotated[int, typer.Option(help="the world's seed")] = 0,
    fold_size: Annotated[int, typer.Option(help="people per forget fold")] = 10,
    retain1: Annotated[int, typer.Option(help="retain people with bridge sentences (methods may use)")] = 30,
    retain2: Annotated[int, typer.Option(help="retain people measuring utility")] = 30,
    holdout: Annotated[int, typer.Option(help="never-trained people")] = 10,
) -> None:
    """Write a generated people-and-facts world (world.json, corpora and QA as JSONL)."""
    from unlearnkit.llm.data import write_jsonl
    from unlearnkit.llm.world import WorldConfig, make_world

    if out.exists():
        raise fail(f"{out}: already exists")
    try:
        w = make_world(WorldConfig(fold_size=fold_size, retain1=retain1, retain2=retain2, holdout=holdout, seed=seed))
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    out.mkdir(parents=True)
    (out / "world.json").write_text(json.dumps(w.to_dict(), indent=1))
    split, ev = w.split((0,)), w.eval_set((0,))
    for name in ("forget", "retain", "holdout", "train"):
        write_jsonl(out / f"{name}.jsonl", [{"text": t} for t in getattr(split, name)])
    for name in ("knowmem_forget", "knowmem_retain"):
        write_jsonl(
            out / f"{name}.jsonl",
            [{"question": q.question, "answer": q.answer, "perturbed": list(q.perturbed)} for q in getattr(ev, name)],
        )
    typer.echo(f"world with {len(w.people)} people ({w.config.folds} forget folds of {w.config.fold_size}) → {out}")


@llm_app.command("train")
def train_cmd(
    out: Annotated[Path, typer.Option("--out", help="model directory to create")],
    world: Annotated[Path | None, typer.Option(help="a world directory: train the tiny GPT-2 on it")] = None,
    exclude_folds: Annotated[str, typer.Option(help="folds left out (0: the retrained reference)")] = "",
    model: Annotated[str | None, typer.Option(help="hf:NAME_OR_PATH to fine-tune instead")] = None,
    corpus: Annotated[Path | None, typer.Option(help=".txt/.jsonl texts to fine-tune --model on")] = None,
    steps: Annotated[int, typer.Option(help="optimiser steps")] = 1000,
    lr: Annotated[float, typer.Option(help="peak AdamW learning rate (one-cycle)")] = 3e-3,
    layers: Annotated[int, typer.Option(help="blocks of the world's tiny GPT-2 (6 for extraction attacks)")] = 4,
    seed: Annotated[int, typer.Option(help="seed")] = 0,
) -> None:
    """Train the world's tiny GPT-2 (target, or reference with --exclude-folds) or fine-tune an HF model."""
    import dataclasses

    from unlearnkit.context import RunContext
    from unlearnkit.llm.data import read_texts
    from unlearnkit.llm.hf import save_lm
    from unlearnkit.llm.training import LMTrainConfig, train_lm
    from unlearnkit.llm.world import TinyGPT2Config, tiny_gpt2, world_tokenizer

    RunContext(seed=seed)
    if out.exists():
        raise fail(f"{out}: already exists")
    if (world is None) == (model is None):
        raise fail("give exactly one of --world DIR or --model hf:NAME (with --corpus FILE)")
    meta: dict[str, Any] = {"kind": "llm"}
    try:
        if world is not None:
            w = _load_world(world)
            excluded = _folds(exclude_folds)
            texts = w.training_texts(exclude_folds=excluded)
            tokenizer = world_tokenizer()
            if layers < 1:
                raise fail(f"--layers must be >= 1, got {layers}")
            arch = TinyGPT2Config(n_layer=layers)
            net = tiny_gpt2(tokenizer, arch, seed)
            cfg = LMTrainConfig(steps=steps, lr=lr, max_length=arch.n_positions)
            meta |= {
                "world_dir": str(world.resolve()),
                "excluded_folds": list(excluded),
                "model": dataclasses.asdict(arch),
            }
        else:
            if corpus is None:
                raise fail("--model needs --corpus FILE")
            net, tokenizer, _ = _load_model(model)
            texts = read_texts(corpus)
            cfg = LMTrainConfig(steps=steps, lr=lr)
            meta |= {"source": model, "corpus": str(corpus)}
        history = train_lm(net, tokenizer, texts, cfg, seed=seed)
        save_lm(out, net, tokenizer, {**meta, "train": dataclasses.asdict(cfg), "seed": seed, "texts": len(texts)})
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"trained on {len(texts)} texts, final loss {history[-1]['loss']:.4f} → {out}")


@llm_app.command("unlearn")
def unlearn_cmd(
    model_dir: Annotated[str, typer.Argument(help="a model directory (llm train) or hf:NAME_OR_PATH")],
    method: Annotated[
        str,
        typer.Option(
            "--method", "-m", help="ga, ga_gdr, ga_klr, npo, npo_gdr, npo_klr, simnpo, task_vector, whp, rmu, retrain"
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="model directory to create")],
    world: Annotated[Path | None, typer.Option(help="world directory (default: the model's)")] = None,
    folds: Annotated[str, typer.Option(help="world folds to forget")] = "0",
    forget: Annotated[Path | None, typer.Option(help=".txt/.jsonl forget texts (instead of a world)")] = None,
    retain: Annotated[Path | None, typer.Option(help=".txt/.jsonl retain texts")] = None,
    holdout: Annotated[Path | None, typer.Option(help=".txt/.jsonl never-trained texts (for the MIA check)")] = None,
    toy: Annotated[bool, typer.Option(help="the method's CPU-scale settings for the tiny world")] = True,
    set_: Annotated[list[str] | None, typer.Option("--set", help="config override key=value (repeatable)")] = None,
    seed: Annotated[int, typer.Option(help="run seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the receipt as JSON")] = False,
) -> None:
    """Unlearn from a language model and save the result; prints a receipt with measured evidence."""
    from unlearnkit.approx._common import config_from_dict, config_to_dict
    from unlearnkit.cli.approx import parse_set_values
    from unlearnkit.context import RunContext
    from unlearnkit.llm.eval import evaluate_lm
    from unlearnkit.llm.hf import save_lm
    from unlearnkit.registry import get_method

    if out.exists():
        raise fail(f"{out}: already exists (choose another --out or remove it)")
    name = method if method.startswith("llm_") else f"llm_{method}"
    try:
        info = get_method(name)
        if getattr(info, "family", "llm") != "llm":
            raise fail(f"method {method!r} is not a language-model method (see: unlearnkit methods)")
        cfg = config_from_dict(info.cls.config_cls, {**(info.cls.toy if toy else {}), **parse_set_values(set_)})
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    model, tokenizer, meta = _load_model(model_dir)
    split, ev, source = _split_and_eval(meta, tokenizer, world, folds, forget, retain, holdout)
    try:
        result = info.cls(cfg).unlearn(model, split, ctx=RunContext(seed=seed, progress=sys.stderr.isatty()))
        metrics = [m for m in QUICK if source["kind"] == "world" or m in ("verbmem_f", "mia_min_k")]
        if not split.holdout:
            metrics = [m for m in metrics if m != "mia_min_k"]
        quick = evaluate_lm(result.model, tokenizer, ev, metrics=metrics)
        before = evaluate_lm(model, tokenizer, ev, metrics=metrics)
        guarantee = "exact-retrain" if name == "llm_retrain" else result.guarantee
        save_lm(
            out,
            result.model,
            tokenizer,
            {
                **{k: v for k, v in meta.items() if k in ("world_dir", "model")},
                "kind": "llm",
                "source": model_dir,
                "method": name,
                "config": config_to_dict(cfg),
                "data": source,
                "guarantee": guarantee,
                "unlearn": {"seconds": result.seconds, "steps": result.steps, "seed": seed},
                "verification": quick,
                "verification_before": before,
                **({"composite": "whp"} if name == "llm_whp" else {}),
            },
        )
    except UnlearnkitError as exc:
        raise fail(f"{name}: {exc}") from None
    receipt = {
        "method": name,
        "guarantee": guarantee,
        "forgotten_texts": len(split.forget),
        "data": source,
        "seconds": round(result.seconds, 4),
        "steps": result.steps,
        "verification": {k: {"before": round(before[k], 3), "after": round(quick[k], 3)} for k in quick},
        "out": str(out),
    }
    if as_json:
        typer.echo(json.dumps(receipt, indent=2))
        return
    from rich.console import Console
    from rich.panel import Panel

    head = (
        "[bold]guarantee:[/] [green]EXACT[/] (exact-retrain) — retrained from scratch without the forget texts"
        if name == "llm_retrain"
        else f"[bold]guarantee:[/] [yellow]APPROXIMATE[/] ({guarantee}) — the model was edited, not retrained; "
        "the evidence below is measured, not proven"
    )
    lines = [
        head,
        f"method: {info.cls.display or name}   forgotten texts: {len(split.forget)}",
        f"runtime: {result.seconds:.3f} s, {result.steps} update steps",
        "verification (before → after): " + ", ".join(f"{k} {before[k]:.3g} → {quick[k]:.3g}" for k in quick),
        f"saved to {out}   (full table: unlearnkit llm eval {out} --retrain DIR)",
    ]
    Console().print(Panel("\n".join(lines), title="LM unlearning receipt", expand=False))


@llm_app.command("eval")
def eval_cmd(
    model_dir: Annotated[str, typer.Argument(help="a model directory or hf:NAME_OR_PATH")],
    retrain: Annotated[str | None, typer.Option(help="the retrained reference (llm train --exclude-folds 0)")] = None,
    original: Annotated[str | None, typer.Option(help="the model before unlearning")] = None,
    world: Annotated[Path | None, typer.Option(help="world directory (default: the model's)")] = None,
    folds: Annotated[str | None, typer.Option(help="forgotten folds (default: the model's, else 0)")] = None,
    forget: Annotated[Path | None, typer.Option(help=".txt/.jsonl forget texts (instead of a world)")] = None,
    holdout: Annotated[Path | None, typer.Option(help=".txt/.jsonl never-trained texts")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """MUSE (VerbMem, KnowMem, PrivLeak, utility) and TOFU metrics, plus the MIAs."""
    from unlearnkit.llm.eval import LM_METRICS, evaluate_lm

    model, tokenizer, meta = _load_model(model_dir)
    recorded = (meta.get("data") or {}).get("folds")
    fold_text = folds or ",".join(str(f) for f in (recorded or [0]))
    _, ev, _ = _split_and_eval(meta, tokenizer, world, fold_text, forget, None, holdout)
    ref = _load_model(retrain)[0] if retrain else None
    orig = _load_model(original)[0] if original else None
    try:
        rows = {"model": evaluate_lm(model, tokenizer, ev, reference=ref, original=orig)}
        if ref is not None:
            rows["retrain"] = evaluate_lm(ref, tokenizer, ev, reference=ref, original=orig)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"method": meta.get("method"), "guarantee": meta.get("guarantee"), **rows}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    arrows = {"higher": "↑", "lower": "↓", "zero": "→0", "reference": "→Retrain"}
    table = Table(title=f"{meta.get('method', 'model')} ({meta.get('guarantee', 'no unlearning recorded')})")
    for col in ("metric", "dir", *rows):
        table.add_column(col, justify="right" if col in rows else "left")
    for name in sorted({k for r in rows.values() for k in r}):
        table.add_row(
            name, arrows[LM_METRICS[name].direction], *(f"{r[name]:.4g}" if name in r else "–" for r in rows.values())
        )
    Console().print(table)
    if ref is None:
        typer.echo("(no --retrain given: PrivLeak and forget quality need the retrained reference)")


@llm_app.command("bench")
def bench_cmd(
    suite: Annotated[
        str, typer.Argument(help="muse (the MUSE table) or extraction (the edit × attack matrix)")
    ] = "muse",
    out: Annotated[Path | None, typer.Option("--out", help="output directory")] = None,
    seeds: Annotated[str, typer.Option(help="comma-separated seeds")] = "0,1,2",
    methods: Annotated[str | None, typer.Option(help="comma-separated LM methods (default all)")] = None,
    quick: Annotated[bool, typer.Option(help="1 seed, GA/NPO/GA_GDR, no scalability/sustainability")] = False,
    every: Annotated[int, typer.Option(help="steps between checkpoints")] = 10,
) -> None:
    """MUSE table on the generated world (≥ 3 seeds), step curves, scalability and sustainability figures;
    ``extraction``: the Patil et al. attack × objective matrix for ROME and constrained FT."""

    if suite == "extraction":
        from unlearnkit.cli.llm_edit import bench_extraction

        bench_extraction(out or Path("runs/bench-extraction"), seeds, quick)
        return
    if suite != "muse":
        raise fail(f"unknown benchmark {suite!r}; choose muse or extraction")
    out = out or Path("runs/bench-llm")

    from unlearnkit.bench.llm import LMBenchConfig, run_benchmark

    cfg = LMBenchConfig.quick() if quick else LMBenchConfig()
    if not quick:
        try:
            cfg.seeds = tuple(int(s) for s in seeds.split(",") if s.strip())
        except ValueError:
            raise fail(f"--seeds must be comma-separated integers, got {seeds!r}") from None
        cfg.methods = tuple(m.strip() for m in methods.split(",")) if methods else None
    cfg.every = every
    run_bench(run_benchmark, out, cfg)
