"""PASER selection (He et al., "Post-Training Data Selection for Efficient Pruned Large Language Model
Recovery", arXiv 2502.12594; ICLR 2026), with the forget-aware changes for recovery after unlearning.

Stages, in order::

    0. filters   keep = ∧_f filter_f(candidates, D_f)            (forget-aware; before clustering)
    1. S2RIC     e_i = embed(x_i);  c_i = spectral cluster of e   (sklearn: kNN spectral embedding + k-means/NMF)
    2. CDAIS     JSD_i = JSD(M_ref(x_i) ‖ M_cur(x_i));  CDS_k = mean_{i ∈ c_k, kept} JSD_i
                 n_k = largest-remainder(B · CDS_k / Σ CDS, capacity_k = |kept ∩ c_k|)        (Eq. 6)
                 within c_k: random | weighted (∝ JSD) | top (IES_i = JSD_i / log Cost_i, Eq. 7)
    3. NTEM      optional Concept Consistency Graph: candidates are tried in order and rejected when
                 inconsistent; the unfilled budget is re-allocated over what remains (refill passes)

Strategies: ``paser`` (the above), ``uniform`` (equal scores: the ablation without S2RIC's weighting) and
``random`` (B uniformly from the kept candidates). Deviations from the paper, all from the notes' evidence:
the within-cluster default is ``random`` (top-JSD lost to random on digits: degraded samples are atypical);
Eq. 6 rounds by largest remainder, caps at capacity and hands the excess back (the code truncates); the
JSD is response-token averaged (the code sums over the instruction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from unlearnkit.approx._common import MethodConfig, require
from unlearnkit.errors import ConfigError
from unlearnkit.recovery.allocate import allocate
from unlearnkit.recovery.candidates import Candidates
from unlearnkit.recovery.cluster import METHODS as CLUSTER_METHODS
from unlearnkit.recovery.cluster import spectral_clusters
from unlearnkit.recovery.filters import ConceptConsistencyGraph, FilterInputs, get_filter
from unlearnkit.recovery.subject import Subject

STRATEGIES = ("paser", "uniform", "random")
WITHIN = ("random", "weighted", "top")


@dataclass(frozen=True)
class SelectConfig(MethodConfig):
    """Selection settings; PASER's code defaults are K = 10 clusters and the CCG on (``ccg``)."""

    strategy: str = field(default="paser", metadata={"help": "paser | uniform | random"})
    clusters: int = field(default=10, metadata={"help": "K, the number of clusters (PASER's --num_clusters)"})
    cluster_method: str = field(default="kmeans", metadata={"help": "kmeans | nmf (the paper's NMF of |EEᵀ|)"})
    neighbors: int = field(default=10, metadata={"help": "k of the kNN graph of the spectral embedding"})
    embedder: str = field(
        default="hidden", metadata={"help": "hidden | raw (rows) | tfidf | minilm | sbert:PATH (texts)"}
    )
    within: str = field(default="random", metadata={"help": "random | weighted (∝ JSD) | top (IES, the paper)"})
    ccg: bool = field(default=False, metadata={"help": "PASER's Concept Consistency Graph (texts only)"})
    filters: tuple[str, ...] = field(
        default=("duplicate", "concept"), metadata={"help": "forget-aware filters run when a forget set is given"}
    )
    duplicate_cosine: float = field(default=0.95, metadata={"help": "near-duplicate threshold τ"})
    concept_min_words: int = field(default=2, metadata={"help": "words per mined forget concept"})
    concept_max_df: float = field(default=0.05, metadata={"help": "max share of candidates naming a concept"})
    gradient_cosine: float = field(default=0.6, metadata={"help": "gradient-alignment threshold τ_g"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.strategy in STRATEGIES, f"strategy must be one of {', '.join(STRATEGIES)}")
        require(self.within in WITHIN, f"within must be one of {', '.join(WITHIN)}")
        require(self.cluster_method in CLUSTER_METHODS, f"cluster_method must be one of {', '.join(CLUSTER_METHODS)}")
        require(self.clusters >= 1 and self.neighbors >= 2, "clusters must be >= 1 and neighbors >= 2")
        require(0 < self.duplicate_cosine <= 1 and -1 <= self.gradient_cosine <= 1, "cosine thresholds out of range")
        require(self.concept_min_words >= 1 and 0 <= self.concept_max_df <= 1, "invalid concept settings")

    def make_filter(self, name: str) -> Any:
        cls = get_filter(name)
        kwargs = {
            "duplicate": {"cosine": self.duplicate_cosine},
            "concept": {"min_words": self.concept_min_words, "max_df": self.concept_max_df},
            "gradient": {"cosine": self.gradient_cosine},
        }.get(name, {})
        return cls(**kwargs)


@dataclass
class SelectionResult:
    """Selected positions/ids; per cluster its size, kept, CDS, allocation and fill; per filter its rejections."""

    positions: list[int]
    ids: list[str]
    budget: int
    strategy: str
    clusters: list[dict[str, Any]] = field(default_factory=list)
    filters: dict[str, dict[str, Any]] = field(default_factory=dict)
    clustering: dict[str, Any] | None = None
    ccg_rejected: int = 0
    #: the cluster of every candidate (pool order); empty for ``random``. Not part of the record.
    labels: list[int] = field(default_factory=list, repr=False)

    def record(self) -> dict[str, Any]:
        """JSON-ready, without ids (the manifest holds their keyed hashes)."""
        return {
            "budget": self.budget,
            "selected": len(self.positions),
            "strategy": self.strategy,
            "clusters": self.clusters,
            "clustering": self.clustering,
            "filters": {
                k: {kk: vv for kk, vv in v.items() if kk != "rejected_positions"} for k, v in self.filters.items()
            },
            "ccg_rejected": self.ccg_rejected,
        }


def resolve_budget(budget: float, n: int) -> int:
    """A fraction in (0, 1) of ``n`` (rounded, at least 1) or an absolute count ≥ 1."""
    if not budget > 0:
        raise ConfigError(f"budget must be > 0 (a fraction below 1 or a count), got {budget}")
    if budget < 1:
        return max(1, round(budget * n))
    if budget != int(budget):
        raise ConfigError(f"a budget of 1 or more is a count and must be an integer, got {budget}")
    return int(budget)


def _order(
    members: np.ndarray, scores: np.ndarray, costs: np.ndarray, within: str, rng: np.random.Generator
) -> np.ndarray:
    if within == "random" or len(members) < 2:
        return rng.permutation(members)
    if within == "top":
        ies = scores[members] / np.log(np.maximum(costs[members] ** 2, np.e))
        return members[np.lexsort((members, -ies))]
    w = scores[members] + 1e-12
    return rng.choice(members, size=len(members), replace=False, p=w / w.sum())


def run_filters(
    subject: Subject,
    current: nn.Module,
    candidates: Candidates,
    forget: Candidates | None,
    names: tuple[str, ...],
    cfg: SelectConfig,
    deny: tuple[str, ...] = (),
) -> tuple[np.ndarray, dict[str, dict[str, Any]]]:
    """The keep-mask of the forget-aware filters and, per filter, its settings and rejections."""
    keep = np.ones(len(candidates), dtype=bool)
    outcomes: dict[str, dict[str, Any]] = {}
    inputs = FilterInputs(candidates, forget, subject, current, tuple(deny))
    for name in names:
        filt = cfg.make_filter(name)
        if forget is None and getattr(filt, "needs_forget", True) and not (name == "concept" and deny):
            continue
        out = filt(inputs)
        newly = ~out.keep & keep
        keep &= out.keep
        outcomes[name] = {
            "settings": filt.record(),
            "rejected": int((~out.keep).sum()),
            "rejected_new": int(newly.sum()),
            "rejected_positions": sorted(out.reasons),
            "reasons": sorted({r.split(" (")[0] for r in out.reasons.values()}),
        }
    return keep, outcomes


def select(
    subject: Subject,
    reference: nn.Module,
    current: nn.Module,
    candidates: Candidates,
    budget: float,
    *,
    forget: Candidates | None = None,
    config: SelectConfig | None = None,
    deny: tuple[str, ...] = (),
    seed: int = 0,
) -> SelectionResult:
    """Choose at most ``budget`` candidates to recover ``current`` towards ``reference`` (see the module doc)."""
    cfg = config or SelectConfig()
    n = len(candidates)
    if n == 0:
        raise ConfigError("no candidates to select from")
    b = resolve_budget(budget, n)
    rng = np.random.default_rng(seed)
    keep, outcomes = run_filters(subject, current, candidates, forget, cfg.filters, cfg, deny)
    kept = np.flatnonzero(keep)
    if cfg.strategy == "random":
        chosen = rng.permutation(kept)[:b]
        pos = sorted(int(i) for i in chosen)
        return SelectionResult(pos, [candidates.ids[i] for i in pos], b, "random", filters=outcomes)

    clustering = spectral_clusters(
        subject.embed(reference, candidates, cfg.embedder, seed),
        cfg.clusters,
        method=cfg.cluster_method,
        neighbors=cfg.neighbors,
        seed=seed,
    )
    labels, k = clustering.labels, clustering.k
    jsd = subject.divergence(reference, current, candidates)
    costs = subject.costs(candidates)
    kept_by = [kept[labels[kept] == c] for c in range(k)]
    cds = np.array([float(jsd[m].mean()) if len(m) else 0.0 for m in kept_by])
    weights = cds if cfg.strategy == "paser" else np.array([1.0 if len(m) else 0.0 for m in kept_by])
    orders = [list(_order(m, jsd, costs, cfg.within, rng)) for m in kept_by]
    use_ccg = cfg.ccg and candidates.kind == "text"
    ccg = ConceptConsistencyGraph() if use_ccg else None
    texts = candidates.texts() if use_ccg else []
    chosen_by: list[list[int]] = [[] for _ in range(k)]
    tried = [0] * k
    ccg_rejected = 0
    first_alloc: np.ndarray | None = None
    while True:  # one pass without the CCG; refill passes while the CCG leaves budget unfilled
        left = b - sum(len(c) for c in chosen_by)
        room = np.array([len(orders[c]) - tried[c] for c in range(k)])
        if left <= 0 or room.sum() == 0:
            break
        alloc = allocate(weights, room, left)
        if first_alloc is None:
            first_alloc = alloc.copy()
        for c in np.argsort(-cds, kind="stable"):  # the CCG sees clusters in descending CDS
            want = int(alloc[c])
            while want > 0 and tried[c] < len(orders[c]):
                i = int(orders[c][tried[c]])
                tried[c] += 1
                if ccg is not None and not ccg.accept(texts[i]):
                    ccg_rejected += 1
                    continue
                chosen_by[c].append(i)
                want -= 1
    table = [
        {
            "cluster": c,
            "size": int((labels == c).sum()),
            "kept": len(kept_by[c]),
            "cds": round(float(cds[c]), 6),
            "allocated": int(first_alloc[c]) if first_alloc is not None else 0,
            "selected": len(chosen_by[c]),
        }
        for c in range(k)
    ]
    pos = sorted(i for c in chosen_by for i in c)
    return SelectionResult(
        pos,
        [candidates.ids[i] for i in pos],
        b,
        cfg.strategy,
        clusters=table,
        filters=outcomes,
        clustering=clustering.record(),
        labels=labels.tolist(),
        ccg_rejected=ccg_rejected,
    )


__all__ = ["STRATEGIES", "WITHIN", "SelectConfig", "SelectionResult", "resolve_budget", "run_filters", "select"]
