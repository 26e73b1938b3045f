"""The report of ``unlearnkit bench scale``: targets judged, the Markdown table, the log-log figure.

Pure functions of the results dict that :mod:`unlearnkit.bench.scale` writes (``results.json``), so a saved run
can be re-rendered and the verdicts are tested on made-up numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

TARGETS = (
    ("s3t_p50", "S3T in-process forget p50 ≤ 2 ms at every N"),
    ("s3t_flat", "S3T forget p50 at the largest N ≤ 2× at the smallest"),
    ("cli", "`unlearnkit forget` process < 2 s at the largest N"),
    ("ingest", "lineage ingest ≥ 50k samples/s"),
    ("rss", "training RSS growth ≤ 2× the float32 data"),
    ("predict", "S3T predict ≤ 1.2× the plain ensemble"),
)


def _get(results: dict, n: int, part: str, key: str) -> Any:
    """One measurement of one size: ``part`` is a strategy's own process, or ``"interleaved"`` (the S3T forgets
    made with every size's model open, the sizes alternating)."""
    if part == "interleaved":
        inter = results.get("interleaved")
        v = inter.get("sizes", {}).get(str(n), {}) if isinstance(inter, dict) else {}
    else:
        v = results["sizes"].get(str(n), {}).get(part, {})
    return v.get(key) if isinstance(v, dict) else None


def fit_exponent(ns: list[int], values: list[float | None]) -> float | None:
    """Slope of log(value) against log(N) (least squares), or None with fewer than two points."""
    pts = [(math.log(n), math.log(v)) for n, v in zip(ns, values, strict=True) if v is not None and v > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def verdicts(results: dict) -> list[dict[str, Any]]:
    ns = sorted(int(n) for n in results["sizes"])
    if not ns:
        return []
    lo, hi = ns[0], ns[-1]
    out = []

    def add(key: str, ok: bool | None, shown: str) -> None:
        desc = dict(TARGETS)[key]
        out.append({"target": key, "description": desc, "pass": ok, "measured": shown})

    # judged on the interleaved rounds when every size has them (each size met the same host), else on each
    # size's own part (one size after another)
    inter = all(_get(results, n, "interleaved", "forget_p50_ms") is not None for n in ns)
    part = "interleaved" if inter else "s3t"
    p50 = {n: _get(results, n, part, "forget_p50_ms") for n in ns}
    cpu = {n: _get(results, n, part, "forget_cpu_p50_ms") for n in ns}
    have = [v for v in p50.values() if v is not None]
    shown = ", ".join(f"{_n(n)}: {_f(p50[n])} ms ({_f(cpu[n])} ms CPU)" for n in ns)
    how = "one size after another"
    if inter:  # the other measurement, shown beside the judged one
        shown += f"; {how}: " + ", ".join(f"{_n(n)}: {_f(_get(results, n, 's3t', 'forget_p50_ms'))} ms" for n in ns)
        rounds = results["interleaved"]
        how = f"sizes interleaved, {rounds['rounds']} rounds × {rounds['round_forgets']} forgets"
    add("s3t_p50", all(v <= 2.0 for v in have) if have else None, f"{how}: {shown}")
    ratio = p50[hi] / p50[lo] if p50[hi] and p50[lo] else None
    add("s3t_flat", ratio <= 2.0 if ratio is not None else None, f"{_f(ratio)}× ({_n(hi)} vs {_n(lo)}, {how})")
    cli = _get(results, hi, "s3t", "cli_forget_median_s")
    cli_cpu = _get(results, hi, "s3t", "cli_forget_cpu_median_s")
    add("cli", cli < 2.0 if cli is not None else None, f"{_f(cli)} s at {_n(hi)} ({_f(cli_cpu)} s CPU)")
    rates = {n: _get(results, n, "s3t", "ingest_rows_per_s") for n in ns}
    have = [v for v in rates.values() if v is not None]
    add(
        "ingest",
        min(have) >= 50_000 if have else None,
        ", ".join(f"{_n(n)}: {_f(rates[n], 0)}/s" for n in ns),
    )
    rss = _get(results, hi, "s3t", "rss_growth_over_data")
    add(
        "rss",
        rss <= 2.0 if rss is not None else None,
        f"{_f(rss)}× at {_n(hi)} (peak − RSS after a 300-sample warm-up fit, over x bytes)",
    )
    pr = {n: _get(results, n, "s3t", "predict_batch_ratio") for n in ns}
    one = {n: _get(results, n, "s3t", "predict_one_row_ratio") for n in ns}
    worst = [v for v in [*pr.values(), *one.values()] if v is not None]
    add(
        "predict",
        max(worst) <= 1.2 if worst else None,
        ", ".join(f"{_n(n)}: {_f(pr[n])}× ({_f(one[n])}× one row)" for n in ns),
    )
    return out


def _span(values: list[float] | None) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if values else "—"


def _n(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k" if n >= 1000 else str(n)


def _f(v: Any, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and digits == 0:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


SERIES = (
    ("S3T forget p50, in-process (ms)", "s3t", "forget_p50_ms", 1.0),
    ("S3T forget p50, sizes interleaved (ms)", "interleaved", "forget_p50_ms", 1.0),
    ("`unlearnkit forget` process (ms)", "s3t", "cli_forget_median_s", 1000.0),
    ("S3T forget p50, CPU (ms)", "s3t", "forget_cpu_p50_ms", 1.0),
    ("SISA forget (ms)", "sisa", "forget_median_s", 1000.0),
    ("Retrain forget (ms)", "retrain", "forget_median_s", 1000.0),
    ("S3T load (ms)", "s3t", "load_s", 1000.0),
    ("S3T fit (ms)", "s3t", "fit_s", 1000.0),
)


def markdown(results: dict) -> str:
    ns = sorted(int(n) for n in results["sizes"])
    cfg = results["config"]
    head = "| | " + " | ".join(_n(n) for n in ns) + " |"
    sep = "|---|" + "---|" * len(ns)

    def row(label: str, part: str, key: str, scale: float = 1.0, digits: int = 2) -> str:
        vals = []
        for n in ns:
            v = _get(results, n, part, key)
            vals.append(_f(v * scale if isinstance(v, int | float) else v, digits))
        return f"| {label} | " + " | ".join(vals) + " |"

    lines = [
        "# Scale: deletion cost against training-set size",
        "",
        f"Synthetic data ({cfg['features']} float32 features, {cfg['classes']} classes, seed {cfg['seed']}); "
        f"S3T and SISA with {cfg['shards']} shards × {cfg['slices']} slices (S3T budget {cfg['budget']}), "
        f"{cfg['epochs']} epoch per stage; each strategy and size in its own process. Machine: "
        f"{results['machine']['cpus']} CPUs, load average at start {results['machine']['load_at_start']}.",
        "",
        head,
        sep,
        row("S3T `forget` 1 id, in-process p50 (ms)", "s3t", "forget_p50_ms"),
        row("S3T `forget` 1 id, in-process p90 (ms)", "s3t", "forget_p90_ms"),
        row("S3T `forget` 1 id, in-process CPU p50 (ms)", "s3t", "forget_cpu_p50_ms"),
        row("…of those, commits that grew the write-ahead log (count)", "s3t", "forget_wal_grew", digits=0),
        row("…their p50 (ms)", "s3t", "forget_wal_grew_p50_ms"),
        row("…commits that reused it (count)", "s3t", "forget_wal_reused", digits=0),
        row("…their p50 (ms)", "s3t", "forget_wal_reused_p50_ms"),
        row("one durable SQLite commit, same disk, p50 (ms)", "s3t", "durable_commit_ms", digits=3),
        row("…just before the forgets", "s3t", "durable_commit_before_ms", digits=3),
        row("…just after them", "s3t", "durable_commit_after_ms", digits=3),
        row("host CPU steal during the forgets (% of the machine)", "s3t", "host_steal_pct", digits=1),
        row("fixed reference workload around the forgets, CPU (ms; higher = slower host)", "s3t", "host_reference_ms"),
        row("S3T `forget` 1 id, sizes interleaved in rounds: p50 (ms)", "interleaved", "forget_p50_ms"),
        row("…p90 (ms)", "interleaved", "forget_p90_ms"),
        row("…CPU p50 (ms)", "interleaved", "forget_cpu_p50_ms"),
        "| …the rounds' own p50s (ms) | "
        + " | ".join(_span(_get(results, n, "interleaved", "round_p50_ms")) for n in ns)
        + " |",
        row("S3T `forget` ÷ one durable commit", "s3t", "forget_over_commit", digits=1),
        row("`unlearnkit forget` as a process (s)", "s3t", "cli_forget_median_s"),
        row("`unlearnkit forget` process CPU (s)", "s3t", "cli_forget_cpu_median_s"),
        row("SISA `forget` 1 id (s)", "sisa", "forget_median_s"),
        row("Retrain `forget` 1 id (s)", "retrain", "forget_median_s"),
        row("lineage ingest (samples/s)", "s3t", "ingest_rows_per_s", digits=0),
        row("Parquet read, streamed (samples/s)", "s3t", "file_read_rows_per_s", digits=0),
        row("S3T fit (s)", "s3t", "fit_s"),
        row("S3T load (s)", "s3t", "load_s"),
        row("S3T peak RSS (MiB)", "s3t", "peak_rss_mib", digits=0),
        row("one-time imports before the baseline (MiB, not counted)", "s3t", "import_rss_mib", digits=0),
        row("float32 data (MiB)", "s3t", "data_mib", digits=0),
        row("S3T RSS growth ÷ data", "s3t", "rss_growth_over_data"),
        row("SISA peak RSS (MiB)", "sisa", "peak_rss_mib", digits=0),
        row("S3T disk (MiB)", "s3t", "disk_bytes", scale=1 / 2**20, digits=1),
        row("service deletions/s, group commit", "s3t", "service_group_deletions_per_s", digits=1),
        row("service deletions/s, one by one", "s3t", "service_single_deletions_per_s", digits=1),
        row("group-commit speed-up", "s3t", "service_group_speedup"),
        row(f"S3T predict {cfg['predict_rows']} rows (ms)", "s3t", "predict_batch_ms"),
        row("plain ensemble, same modules (ms)", "s3t", "plain_batch_ms"),
        row("predict ÷ plain, batch", "s3t", "predict_batch_ratio"),
        row("predict ÷ plain, one row", "s3t", "predict_one_row_ratio"),
    ]
    ratios = []
    for n in ns:
        rt = _get(results, n, "retrain", "forget_median_s")
        s3 = _get(results, n, "s3t", "forget_p50_ms")
        ratios.append(_f(rt / (s3 / 1000), 0) if rt and s3 else "—")
    lines.append("| Retrain ÷ S3T deletion time | " + " | ".join(ratios) + " |")
    errors = [
        f"- N={n} {part}: {v['error'][:300]}"
        for n in ns
        for part, v in results["sizes"][str(n)].items()
        if isinstance(v, dict) and "error" in v
    ]
    inter = results.get("interleaved")
    if isinstance(inter, dict) and "error" in inter:
        errors.append(f"- interleaved forgets: {inter['error'][:300]}")
    if errors:
        lines += ["", "Failed parts:", *errors]
    if isinstance(inter, dict) and inter.get("host_reference_ms"):
        lines += [
            "",
            f"Interleaved: every size's S3T model open in one process, {inter['rounds']} rounds of "
            f"{inter['round_forgets']} forgets per size (order rotated each round); the reference workload before "
            f"each round: {_span(inter['host_reference_ms'])} ms CPU.",
        ]
    lines += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for v in verdicts(results):
        verdict = "n/a" if v["pass"] is None else ("pass" if v["pass"] else "**miss**")
        lines.append(f"| {v['description']} | {v['measured']} | {verdict} |")
    lines += ["", "## Fitted exponents (cost ∝ N^k)", "", "| cost | k |", "|---|---|"]
    for label, part, key, _scale in SERIES:
        k = fit_exponent(ns, [_get(results, n, part, key) for n in ns])
        lines.append(f"| {label} | {_f(k)} |")
    lines += ["", "Figure: `scale.png` / `scale.pdf` (log-log, fitted exponent in the legend)."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> Path | None:
    from unlearnkit.eval.plots import _plt, _save, style

    ns = sorted(int(n) for n in results["sizes"])
    if len(ns) < 1:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, (label, part, key, scale) in enumerate(SERIES):
        pts = [(n, _get(results, n, part, key)) for n in ns]
        pts = [(n, v * scale) for n, v in pts if isinstance(v, int | float) and v > 0]
        if not pts:
            continue
        exp = fit_exponent([p[0] for p in pts], [p[1] for p in pts])
        tag = f" (∝ N^{exp:.2f})" if exp is not None else ""
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label + tag, linewidth=1.5, **style(k))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training samples N")
    ax.set_ylabel("milliseconds")
    ax.set_title("Cost against training-set size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    cfg = results["config"]
    caption = (
        f"synthetic, {cfg['features']} features, seed {cfg['seed']}; {cfg['shards']}×{cfg['slices']} "
        f"(B={cfg['budget']}), {cfg['epochs']} epoch/stage"
    )
    return _save(fig, path, caption)
