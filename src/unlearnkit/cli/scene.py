"""Scene commands: ``scene edit``, ``scene demo``, ``scene show``, ``scene bench`` (needs the ``scene`` extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from unlearnkit.cli import app, fail
from unlearnkit.errors import UnlearnkitError

scene_app = typer.Typer(no_args_is_help=True, help="Edit 3-D mesh scenes from a prompt: insert, replace, delete.")
app.add_typer(scene_app, name="scene")

SceneArg = Annotated[str, typer.Argument(help="scene file (.glb .obj .ply) or 'demo' for the generated room")]


def _scene_module() -> Any:
    try:
        import unlearnkit.scene as scene
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    return scene


def _load(sc: Any, source: str, up: str) -> Any:
    if source == "demo" and not Path(source).exists():
        return sc.demo_scene()
    return sc.load_scene(source, up=up)


@scene_app.command("edit")
def edit(
    scene: SceneArg,
    prompt: Annotated[str, typer.Argument(help="e.g. 'put a mug on the table', 'replace the lamp with a vase'")],
    out: Annotated[Path, typer.Option("--out", "-o", help="edited scene (.glb .obj .ply)")],
    picture: Annotated[Path | None, typer.Option(help="before/after picture (default: OUT with .png)")] = None,
    no_picture: Annotated[bool, typer.Option("--no-picture", help="skip the picture")] = False,
    cascade: Annotated[str, typer.Option(help="objects on a deleted one: delete | drop")] = "delete",
    replace_scale: Annotated[str, typer.Option(help="new object's size: prior | match (FreeEdit)")] = "prior",
    strategy: Annotated[str, typer.Option(help="placement: hierarchical (FreeEdit) | max_clearance")] = "hierarchical",
    up: Annotated[str, typer.Option(help="up axis of the input file: z | y")] = "z",
    mesh: Annotated[Path | None, typer.Option(help="mesh file for the new object instead of the library")] = None,
    packaged_assets: Annotated[
        bool, typer.Option("--packaged-assets", help="use pybullet_data's meshes where it has one (scene-assets extra)")
    ] = False,
    llm: Annotated[str | None, typer.Option(help="local instruction model to parse the prompt")] = None,
    clip: Annotated[str | None, typer.Option(help="local CLIP model to ground object names")] = None,
    shap_e: Annotated[str | None, typer.Option("--shap-e", help="local Shap-E to make the new object")] = None,
) -> None:
    """Apply one edit; write the scene, a JSON record of the edit beside it, and a before/after picture."""
    sc = _scene_module()
    try:
        from unlearnkit.scene.placement import PlacementConfig

        config = sc.EditorConfig(PlacementConfig(strategy=strategy), cascade, replace_scale)  # type: ignore[arg-type]
        parser = sc.LLMParser.from_pretrained(llm, fallback=sc.RuleParser()) if llm else None
        source = sc.MeshFileSource(mesh) if mesh else (sc.ShapESource(shap_e) if shap_e else None)
        if source is None and packaged_assets:
            source = sc.MeshLibrary(use_packaged=True)
        grounder = sc.ClipGrounder.from_pretrained(clip) if clip else None
        editor = sc.SceneEditor(parser=parser, source=source, grounder=grounder, config=config)
        result = editor.edit(_load(sc, scene, up), prompt)
        sc.save_scene(result.after, out)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    summary = result.summary()
    record = out.with_name(out.stem + ".edit.json")
    record.write_text(json.dumps(summary, indent=1))
    if not no_picture:
        from unlearnkit.scene.render import render_edit

        picture = picture or out.with_suffix(".png")
        render_edit(result, picture)
    cmd = result.command
    typer.echo(f"{cmd.task}: {cmd.primary or ''}{' → ' if cmd.primary else ''}{cmd.grounding}")
    for name in result.added:
        obj = result.after[name]
        typer.echo(
            f"  added   {name:<16} base z {obj.base_z:.3f}  centre ({obj.centre_xy[0]:.3f}, {obj.centre_xy[1]:.3f})"
        )
    if result.placement is not None:
        p = result.placement
        typer.echo(
            f"  on {p.support} surface z {p.surface_z:.3f}: level {p.level}, yaw {p.yaw * 57.2958:.0f}°, "
            f"clearance {p.clearance:.3f} m, penetration {p.penetration:.1f}%"
        )
    for name in result.removed:
        typer.echo(f"  removed {name}")
    for name in result.moved:
        typer.echo(f"  moved   {name}")
    for note in result.notes:
        typer.echo(f"  note: {note}")
    typer.echo(
        f"wrote {out}, {record}" + ("" if no_picture else f", {picture}") + f" ({summary['timings_s']['total']:.2f} s)"
    )


@scene_app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the demo room (.glb .obj .ply)")] = Path(
        "demo_scene.glb"
    ),
) -> None:
    """Write the generated demo room (a table, a shelf, a sofa, … with things on them)."""
    sc = _scene_module()
    try:
        sc.save_scene(sc.demo_scene(), out)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"wrote {out}")


@scene_app.command("show")
def show(scene: SceneArg, up: Annotated[str, typer.Option(help="up axis of the file: z | y")] = "z") -> None:
    """List the objects of a scene and what rests on what."""
    sc = _scene_module()
    try:
        s = _load(sc, scene, up)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    graph = s.support_graph()
    for o in s:
        on = ", ".join(graph[o.name]) or "-"
        typer.echo(f"{o.name:<18} {o.label:<14} z {o.base_z:6.3f}–{o.top_z:6.3f}  carries: {on}")


@scene_app.command("bench")
def bench(
    out: Annotated[Path, typer.Option(help="report folder")] = Path("docs/benchmarks/scene"),
    scenes: Annotated[int, typer.Option(help="generated scenes (seeds 0..N-1)")] = 40,
    prompts: Annotated[int, typer.Option(help="insertion prompts per scene")] = 3,
) -> None:
    """FreeEdit placement against the naive baseline (centre of the support's bounding box)."""
    _scene_module()
    from unlearnkit.scene.bench import run_benchmark, write_report

    try:
        report = run_benchmark(n_scenes=scenes, prompts_per_scene=prompts)
    except UnlearnkitError as exc:
        raise fail(str(exc)) from None
    paths = write_report(report, out)
    for method, row in report["summary"].items():
        typer.echo(
            f"{method:<14} success {row['success_rate']:.3f}  penetration {row['penetration_mean']:.2f}%  "
            f"clearance {row['clearance_mean']:.3f} m  {row['ms_per_edit_median']:.1f} ms/edit"
        )
    typer.echo("wrote " + ", ".join(str(p) for p in paths))
