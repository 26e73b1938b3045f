"""``unlearnkit llm edit`` and ``unlearnkit llm attack``: delete facts by editing, and attack the deletion.

``llm edit`` deletes facts (from the model's world, or a user's JSONL of prompt/answer/paraphrases) with a
registered editor (``rome``, ``memit``, ``constrained_ft``) and objective (``fact_erasure``, ``empty_response``,
``error_injection``, ``head_projection_defense``, ``max_entropy_defense``, ``input_rephrasing_defense``), writes
the edited model atomically and prints an APPROXIMATE receipt with the attacks' results (Patil et al.: an edit
hides the answer from the output, it does not remove it). ``llm attack`` runs the attacks on any model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import fail, run_bench
from unlearnkit.cli.llm import _load_model, _load_world, llm_app
from unlearnkit.errors import UnlearnkitError

ATTACK_NAMES = "head_projection,probability_delta,input_rephrasing"


def _facts(
    meta: dict[str, Any], facts: Path | None, world: Path | None, folds: str, attributes: str, index: str
) -> Any:
    from unlearnkit.llm.facts import FactSet, read_facts, world_facts

    try:
        if facts is not None:
            fs = read_facts(facts)
        else:
            world_dir = world or (Path(meta["world_dir"]) if meta.get("world_dir") else None)
            if world_dir is None:
                raise fail("give --facts FILE.jsonl or --world DIR (the model records no world)")
            w = _load_world(world_dir)
            roles = [f"fold{int(f)}" for f in folds.split(",") if f.strip()]
            fs = world_facts(w, roles, [a.strip() for a in attributes.split(",") if a.strip()])
            fs.meta["world_dir"] = str(world_dir)
        if index.strip():
            picked = [int(i) for i in index.split(",") if i.strip()]
            bad = [i for i in picked if not 0 <= i < len(fs.facts)]
            if bad:
                raise fail(f"--index {bad[0]} is out of range (there are {len(fs.facts)} facts)")
            fs = FactSet([fs.facts[i] for i in picked], fs.retain, {**fs.meta, "index": picked})
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    except ValueError:
        raise fail(f"--folds and --index expect comma-separated integers, got {folds!r} / {index!r}") from None
    return fs


def _attacks(names: str, k: int, layers: str) -> list[Any]:
    from unlearnkit.llm.attacks import ATTACKS

    lens = {"k": k, **({"layers": layers} if layers.strip() else {})}
    out = []
    for name in [n.strip() for n in names.split(",") if n.strip()]:
        cls = ATTACKS.get(name)
        keys = set(cls.config_cls.__dataclass_fields__)
        out.append(ATTACKS.build(name, {key: v for key, v in lens.items() if key in keys}))
    return out


def _render_attacks(rows: dict[str, Any]) -> list[str]:
    lines = []
    for name, r in rows.items():
        floor = f", floor {r['floor']:.2f} → leak {r['leak']:+.2f}" if "floor" in r else ""
        lines.append(f"  {name}@B={r['budget']}: success {r['success']:.2f}{floor}")
    return lines


@llm_app.command("edit")
def edit_cmd(
    model_dir: Annotated[str, typer.Argument(help="a model directory or hf:NAME_OR_PATH")],
    out: Annotated[Path, typer.Option("--out", help="model directory to create")],
    editor_name: Annotated[str, typer.Option("--editor", "-e", help="rome | memit | constrained_ft")] = "rome",
    objective_name: Annotated[
        str,
        typer.Option(
            "--objective",
            "-o",
            help="fact_erasure | empty_response | error_injection | head_projection_defense | max_entropy_defense "
            "| input_rephrasing_defense",
        ),
    ] = "fact_erasure",
    facts: Annotated[
        Path | None, typer.Option(help="JSONL of facts (prompt, answer, subject, paraphrases, ...)")
    ] = None,
    world: Annotated[Path | None, typer.Option(help="world directory (default: the model's)")] = None,
    folds: Annotated[str, typer.Option(help="world folds whose people's facts are deleted")] = "0",
    attributes: Annotated[str, typer.Option(help="world attributes: city, job, code")] = "city",
    index: Annotated[str, typer.Option(help="only these facts (comma-separated indices)")] = "",
    retain_text: Annotated[Path | None, typer.Option(help=".txt/.jsonl text for ROME's covariance")] = None,
    retrain: Annotated[str | None, typer.Option(help="a model never trained on the facts (the attacks' floor)")] = None,
    attacks: Annotated[str, typer.Option(help="attacks run on the edited model")] = ATTACK_NAMES,
    k: Annotated[int, typer.Option(help="top-k/bottom-k per attacked layer")] = 4,
    attack_layers: Annotated[str, typer.Option(help="attacked lens layers (default: edit+2 .. n_layer−1)")] = "",
    toy: Annotated[bool, typer.Option(help="the editor's CPU-scale settings for the tiny world")] = True,
    set_: Annotated[list[str] | None, typer.Option("--set", help="editor config key=value (repeatable)")] = None,
    objective_set: Annotated[list[str] | None, typer.Option("--objective-set", help="objective key=value")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="greedy tokens for accuracy (the paper: 36)")] = 36,
    seed: Annotated[int, typer.Option(help="run seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print the receipt as JSON")] = False,
) -> None:
    """Delete facts from a language model by editing; save it with an APPROXIMATE receipt and attack results."""
    from unlearnkit.approx._common import config_to_dict
    from unlearnkit.cli.approx import parse_set_values
    from unlearnkit.context import RunContext
    from unlearnkit.llm.data import read_texts
    from unlearnkit.llm.editing import OBJECTIVES, editor
    from unlearnkit.llm.editing.workflow import delete_facts
    from unlearnkit.llm.hf import save_lm

    if out.exists():
        raise fail(f"{out}: already exists (choose another --out or remove it)")
    try:
        ed = editor(editor_name, toy=toy, **parse_set_values(set_))
        objective = OBJECTIVES.build(objective_name, parse_set_values(objective_set))
        chosen = _attacks(attacks, k, attack_layers)
        cov = read_texts(retain_text) if retain_text is not None else []
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    model, tokenizer, meta = _load_model(model_dir)
    fs = _facts(meta, facts, world, folds, attributes, index)
    if not cov and fs.meta.get("source") == "world":
        cov = _load_world(Path(fs.meta["world_dir"])).split().retain
    reference = _load_model(retrain)[0] if retrain else None
    try:
        edited, report = delete_facts(
            model,
            tokenizer,
            fs,
            ed,
            objective,
            chosen,
            cov_texts=cov,
            reference=reference,
            max_new_tokens=max_new_tokens,
            ctx=RunContext(seed=seed, progress=sys.stderr.isatty()),
        )
        guarantee = f"approximate:{ed.name}"
        save_lm(
            out,
            edited,
            tokenizer,
            {
                **{key: v for key, v in meta.items() if key in ("world_dir", "model")},
                "kind": "llm",
                "source": model_dir,
                "method": ed.name,
                "config": config_to_dict(ed.config),
                "objective": objective.record(),
                "edit_layer": ed.config.layer,
                "data": {key: v for key, v in fs.meta.items()} | {"facts": [f.to_dict() for f in fs.facts]},
                "guarantee": guarantee,
                "edits": report["edits"],
                "verification": report["summary"],
            },
        )
    except UnlearnkitError as exc:
        raise fail(f"{ed.name}: {exc}") from None
    s = report["summary"]
    receipt = {
        "editor": ed.name,
        "objective": objective.name,
        "guarantee": guarantee,
        "layer": ed.config.layer,
        "facts": s["facts"],
        "rewrite_score": round(s["rewrite_score"], 4),
        "recall": {"before": s["recall_before"], "after": s["recall_after"]},
        **{key: round(s[key], 4) for key in ("delta_acc_neighbourhood", "delta_acc_random") if key in s},
        "attacks": s["attacks"],
        "out": str(out),
    }
    if as_json:
        typer.echo(json.dumps(receipt, indent=2))
        return
    from rich.console import Console
    from rich.panel import Panel

    lines = [
        f"[bold]guarantee:[/] [yellow]APPROXIMATE[/] ({guarantee}) — the model was edited, not retrained; attacks "
        "may still extract the facts",
        f"editor: {ed.display} (layer {ed.config.layer})   objective: {objective.display}   facts: {s['facts']}",
        f"rewrite score {s['rewrite_score']:.3f}; answer recall {s['recall_before']:.2f} → {s['recall_after']:.2f}",
        *(f"{key} {s[key]:+.3f}" for key in ("delta_acc_neighbourhood", "delta_acc_random") if key in s),
        "attacks (Attack-Success@B on the edited model):",
        *_render_attacks(s["attacks"]),
        f"saved to {out}   (re-check: unlearnkit llm attack {out} --retrain DIR)",
    ]
    Console().print(Panel("\n".join(lines), title="LM fact-deletion receipt", expand=False))


@llm_app.command("attack")
def attack_cmd(
    model_dir: Annotated[str, typer.Argument(help="a model directory or hf:NAME_OR_PATH")],
    facts: Annotated[
        Path | None, typer.Option(help="JSONL of facts (default: the ones the model's edit recorded)")
    ] = None,
    world: Annotated[Path | None, typer.Option(help="world directory (default: the model's)")] = None,
    folds: Annotated[str, typer.Option(help="world folds whose people's facts are attacked")] = "0",
    attributes: Annotated[str, typer.Option(help="world attributes: city, job, code")] = "city",
    index: Annotated[str, typer.Option(help="only these facts (comma-separated indices)")] = "",
    retrain: Annotated[str | None, typer.Option(help="a model never trained on the facts (the floor)")] = None,
    attacks: Annotated[str, typer.Option(help="comma-separated attacks (or union)")] = ATTACK_NAMES,
    k: Annotated[int, typer.Option(help="top-k/bottom-k per attacked layer")] = 4,
    attack_layers: Annotated[str, typer.Option(help="attacked lens layers (default: edit+2 .. n_layer−1)")] = "",
    edit_layer: Annotated[
        int | None, typer.Option(help="the edited block (default: the model's recorded edit)")
    ] = None,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Attack-Success@B of the extraction attacks on facts (and their floor on a model never trained on them)."""
    from unlearnkit.llm.editing.workflow import attack_report
    from unlearnkit.llm.facts import FactSet, fact_from_dict

    model, tokenizer, meta = _load_model(model_dir)
    recorded = (meta.get("data") or {}).get("facts")
    if facts is None and world is None and recorded:
        fs = FactSet([fact_from_dict(f, "recorded fact") for f in recorded], [], {"source": "recorded"})
    else:
        fs = _facts(meta, facts, world, folds, attributes, index)
    layer = edit_layer if edit_layer is not None else meta.get("edit_layer")
    if layer is None and attack_layers.strip():
        layer = 0  # explicit attacked layers do not depend on the edit
    if layer is None:
        raise fail("give --edit-layer N (the model records no edit) or --attack-layers")
    try:
        chosen = _attacks(attacks, k, attack_layers)
        reference = _load_model(retrain)[0] if retrain else None
        rows = attack_report(model, tokenizer, fs, chosen, edit_layer=int(layer), reference=reference, seed=seed)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"facts": len(fs.facts), "edit_layer": layer, "attacks": rows}, indent=2))
        return
    typer.echo(f"{len(fs.facts)} facts, edit layer {layer}")
    for line in _render_attacks(rows):
        typer.echo(line)


def bench_extraction(out: Path, seeds: str, quick: bool) -> None:
    """``unlearnkit llm bench extraction``: the attack × objective matrix per editor, ≥ 3 seeds."""

    from unlearnkit.bench.llm_extraction import ExtractionBenchConfig, run_benchmark

    cfg = ExtractionBenchConfig.quick() if quick else ExtractionBenchConfig()
    if not quick:
        try:
            cfg.seeds = tuple(int(s) for s in seeds.split(",") if s.strip())
        except ValueError:
            raise fail(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    run_bench(run_benchmark, out, cfg)
