"""Requests until an exact model is dead under data-subject (owner) deletions: owner-aware vs id-hash placement.

Bookkeeping only (no training): the same :class:`~unlearnkit.exact.sequences.SequenceBook` code S3T serves
from (Alg. 4, S3T arXiv 2406.16257). Each request forgets one owner (every owner at most once, in random
order); it cuts every slice holding one of the owner's samples. With id-hash placement an owner's samples are
scattered over several (shard, slice) cells; with owner-aware placement (keyed hash of the owner with the
secret salt, :func:`~unlearnkit.exact.base.owner_shard_slice_of`) they share one, so a request costs at most
one slice. B = 1 is SISA served by rollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unlearnkit.context import derive_seed
from unlearnkit.data import IdDataset, load_digits
from unlearnkit.exact.base import assign_cells
from unlearnkit.exact.sequences import (
    SequenceBook,
    owner_requests_until_dead,
    select_sequences,
    theoretical_deletion_rate,
)


@dataclass(frozen=True)
class OwnerStudyConfig:
    shards: int = 3
    slices: int = 4
    budgets: tuple[int, ...] = (1, 2, 4)
    placements: int = 20  # secret salts (random placements) per population
    orders: int = 50  # random owner-deletion orders per placement
    seed: int = 0


def populations(seed: int = 0) -> dict[str, IdDataset]:
    """Two owner populations over digits' 1200 deletable samples.

    ``digits-owners``: the loader's data subjects (1–4 samples each, ≈2.7 in the train split);
    ``heavy-owners``: the same samples over 100 owners with Zipf-like sizes (1 to ≈100 samples each).
    """
    train = load_digits(seed=seed).train
    rng = np.random.default_rng(derive_seed("heavy-owners", seed))
    weights = 1.0 / np.arange(1, 101) ** 1.1
    heavy = rng.choice(100, size=len(train), p=weights / weights.sum())
    return {
        "digits-owners": train,
        "heavy-owners": IdDataset.create(
            train.x, train.y, train.ids, owners=[f"subject-{k:03d}" for k in heavy], num_classes=train.num_classes
        ),
    }


def _owner_cells(data: IdDataset, assignment: dict[int, tuple[int, int]]) -> list[list[tuple[int, int]]]:
    cells: dict[str, set[tuple[int, int]]] = {}
    for i, o in zip(data.id_list(), data.owners or (), strict=True):
        cells.setdefault(o, set()).add(assignment[i])
    return [sorted(c) for _, c in sorted(cells.items())]


def owner_study(cfg: OwnerStudyConfig | None = None) -> dict[str, Any]:
    """Mean requests until every shard is dead, per population × budget × placement (owner / id)."""
    cfg = cfg or OwnerStudyConfig()
    rows = []
    for pop_name, data in populations(cfg.seed).items():
        sizes = np.bincount(np.unique(np.asarray(data.owners), return_inverse=True)[1])
        for budget in cfg.budgets:
            books = [SequenceBook(select_sequences("cyclic", cfg.slices, budget)) for _ in range(cfg.shards)]
            row: dict[str, Any] = {
                "population": pop_name,
                "owners": len(sizes),
                "samples_per_owner_mean": float(sizes.mean()),
                "samples_per_owner_max": int(sizes.max()),
                "budget": budget,
                "lemma1_delta": theoretical_deletion_rate(cfg.shards, cfg.slices, budget),
            }
            for placement in ("owner", "id"):
                counts, cells_per_owner, censored = [], [], 0
                for p in range(cfg.placements):
                    salt = f"owner-study-{cfg.seed}-{p}"
                    cells = _owner_cells(data, assign_cells(data, salt, cfg.shards, cfg.slices, placement))
                    cells_per_owner.extend(len(c) for c in cells)
                    mean, _std, cens = owner_requests_until_dead(
                        books, cells, streams=cfg.orders, seed=derive_seed(cfg.seed, pop_name, budget, p)
                    )
                    counts.append(mean)
                    censored += cens
                arr = np.asarray(counts)
                row[placement] = {
                    "requests_until_dead": float(arr.mean()),
                    "stderr": float(arr.std(ddof=1) / np.sqrt(len(arr))) if len(arr) > 1 else 0.0,
                    "cells_per_owner": float(np.mean(cells_per_owner)),
                    "censored_streams": censored,
                }
            row["ratio_owner_vs_id"] = row["owner"]["requests_until_dead"] / row["id"]["requests_until_dead"]
            rows.append(row)
    return {
        "config": {
            "shards": cfg.shards,
            "slices": cfg.slices,
            "budgets": list(cfg.budgets),
            "placements": cfg.placements,
            "orders_per_placement": cfg.orders,
            "seed": cfg.seed,
            "selection": "cyclic",
        },
        "definition": "owner-deletion requests (each owner once, random order) until every shard is dead; "
        "mean over placements (secret salts) × orders; Lemma 1 δ is for single-sample requests",
        "rows": rows,
    }


def render_owner_markdown(study: dict[str, Any]) -> str:
    c = study["config"]
    lines = [
        f"### Owner deletions: requests until every shard is dead (m={c['shards']}, L={c['slices']}, cyclic; "
        f"{c['placements']} placements × {c['orders_per_placement']} orders, seed {c['seed']})",
        "",
        "| population | owners | samples/owner (mean, max) | B | owner-aware | id-hash | owner ÷ id | "
        "slices cut per request (owner / id) | Lemma 1 δ (single samples) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in study["rows"]:
        o, i = r["owner"], r["id"]
        lines.append(
            f"| {r['population']} | {r['owners']} | {r['samples_per_owner_mean']:.1f}, {r['samples_per_owner_max']} "
            f"| {r['budget']} | {o['requests_until_dead']:.1f} ± {o['stderr']:.1f} | "
            f"{i['requests_until_dead']:.1f} ± {i['stderr']:.1f} | {r['ratio_owner_vs_id']:.2f}× | "
            f"{o['cells_per_owner']:.2f} / {i['cells_per_owner']:.2f} | {r['lemma1_delta']:.1f} |"
        )
    censored = sum(r[p]["censored_streams"] for r in study["rows"] for p in ("owner", "id"))
    lines += [
        "",
        "B = 1 is SISA served by rollback. A request forgets every sample of one owner; with id-hash placement "
        "those samples sit in several slices and each is cut. "
        + (
            f"{censored} stream(s) ran out of owners before the model died (counted at the number of owners)."
            if censored
            else "No stream ran out of owners."
        ),
    ]
    return "\n".join(lines)


def plot_owner_study(study: dict[str, Any], path: Path) -> list[Path]:
    """Requests until dead vs B, owner-aware vs id-hash, one panel per population (PNG and PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pops = list(dict.fromkeys(r["population"] for r in study["rows"]))
    fig, axes = plt.subplots(1, len(pops), figsize=(5.2 * len(pops), 3.8), dpi=120, squeeze=False)
    styles = {"owner": ("tab:blue", "o", "owner-aware"), "id": ("tab:orange", "s", "id-hash")}
    for ax, pop in zip(axes[0], pops, strict=True):
        rows = [r for r in study["rows"] if r["population"] == pop]
        bs = [r["budget"] for r in rows]
        for key, (color, marker, label) in styles.items():
            ys = [r[key]["requests_until_dead"] for r in rows]
            es = [r[key]["stderr"] for r in rows]
            ax.errorbar(bs, ys, yerr=es, color=color, marker=marker, capsize=3, label=label)
        ax.plot(bs, [r["lemma1_delta"] for r in rows], color="tab:gray", marker="^", ls="--", label="Lemma 1 δ")
        ax.set_title(pop)
        ax.set_xlabel("B (sequences per shard)")
        ax.set_ylabel("owner requests until every shard is dead")
        ax.set_xticks(bs)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    c = study["config"]
    fig.suptitle(f"Owner deletions, m={c['shards']}, L={c['slices']} (seed {c['seed']})", fontsize=10)
    fig.tight_layout()
    out = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    for p in out:
        fig.savefig(p)
    plt.close(fig)
    return out


def run_owner_bench(out_dir: str | Path, cfg: OwnerStudyConfig | None = None) -> dict[str, Any]:
    """Write ``owner_deletions.json``, ``.md``, ``.png`` and ``.pdf`` into ``out_dir``; return the study."""
    import json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    study = owner_study(cfg)
    markdown = render_owner_markdown(study)
    (out / "owner_deletions.json").write_text(json.dumps(study, indent=2))
    (out / "owner_deletions.md").write_text(markdown + "\n")
    files = [
        out / "owner_deletions.json",
        out / "owner_deletions.md",
        *plot_owner_study(study, out / "owner_deletions"),
    ]
    return {**study, "markdown": markdown, "files": [str(f) for f in files]}


__all__ = [
    "OwnerStudyConfig",
    "owner_study",
    "plot_owner_study",
    "populations",
    "render_owner_markdown",
    "run_owner_bench",
]
