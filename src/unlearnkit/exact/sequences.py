"""S3T slice-sequence selection, per-shard sequence bookkeeping and the deletion-rate simulation.

Source: S3T, Chowdhury, Choromanski, Sehanobish, Dubey, Chaturvedi, "Towards Scalable Exact Machine
Unlearning Using Parameter-Efficient Fine-Tuning", ICLR 2025, arXiv 2406.16257.

- Alg. 1 (Iterative Cyclic Rotation): :func:`cyclic_sequences`, for a uniform deletion prior.
- Alg. 2 (BMS, bipartite-matching selection) with the Eq. 24 score: :func:`bms_sequences`, :func:`bms_score`,
  for a non-uniform prior; App. B.2 conditional sampling tops it up beyond L sequences.
- Alg. 4 (deletion procedure) bookkeeping: :class:`SequenceBook`, the object S3T serves from.
- Lemma 1 (deletion rate δ = m·L·H_{m·min(B, L)}): :func:`theoretical_deletion_rate`, checked by
  :func:`simulate_deletion_rate`, which runs the same :class:`SequenceBook` code.

Conventions: slices are 0-based ints. A sequence (order) is a tuple of slice indices; position 0 is the first
slice trained, i.e. LoRA block 1 at the top of the network. A sequence's alive depth d is the length of its
prefix still untouched by deletions; d = 0 means the sequence is dead.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from unlearnkit.context import derive_seed
from unlearnkit.errors import ConfigError

log = logging.getLogger(__name__)

Order = tuple[int, ...]

SELECTIONS = ("cyclic", "bms", "random")
DEFAULT_T = 100  # official code's anticipated number of deletions in the Eq. 24 score
_FORBIDDEN = -1.0e12  # matching weight of an already used slice (finite, far below any Eq. 24 score)
_ENUMERATE_MAX = 40320  # 8!: up to here all permutations may be enumerated
_WEIGHT_FLOOR = 1e-12  # conditional-sampling weight of a slice with p = 1, so every permutation stays reachable


# --------------------------------------------------------------------------------------------- validation


def _check_slices_budget(num_slices: int, budget: int) -> None:
    if isinstance(num_slices, bool) or not isinstance(num_slices, int | np.integer) or num_slices < 1:
        raise ConfigError(f"num_slices must be a positive integer, got {num_slices!r}")
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
        raise ConfigError(f"budget must be a positive integer, got {budget!r}")
    if budget > math.factorial(num_slices):
        raise ConfigError(
            f"budget {budget} exceeds the {math.factorial(num_slices)} distinct orders of {num_slices} slices"
        )


def _check_prior(prior: Sequence[float], num_slices: int | None = None) -> np.ndarray:
    p = np.asarray(prior, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ConfigError(f"prior must be a non-empty 1-D sequence of probabilities, got shape {p.shape}")
    if num_slices is not None and p.size != num_slices:
        raise ConfigError(f"prior has {p.size} entries but there are {num_slices} slices")
    if not np.all(np.isfinite(p)):
        raise ConfigError("prior contains NaN or infinite entries")
    if np.any(p < 0):
        raise ConfigError(f"prior has negative entries: {p.tolist()}")
    if abs(float(p.sum()) - 1.0) > 1e-6:
        raise ConfigError(f"prior must sum to 1 (within 1e-6), sums to {float(p.sum()):.8g}")
    return p


@functools.lru_cache(maxsize=4096)
def _checked(order: tuple[int, ...], num_slices: int) -> tuple[Order, dict[int, int]]:
    """``(order as ints, {slice: position})``, validated once per order (books are rebuilt from the same few
    orders on every deletion). The position map is shared: never changed."""
    o = tuple(int(s) for s in order)
    if sorted(o) != list(range(num_slices)):
        raise ConfigError(f"order {o} is not a permutation of 0..{num_slices - 1}")
    return o, {s: i for i, s in enumerate(o)}


# ------------------------------------------------------------------------------------------ Alg. 1: cyclic


def _rotate(seq: Order, k: int) -> Order:
    """Right rotation by k, as in the official ``rotate_right`` (rotation 0 is ``seq`` itself)."""
    k %= len(seq)
    return seq[len(seq) - k :] + seq[: len(seq) - k]


def cyclic_sequences(num_slices: int, budget: int) -> list[Order]:
    """Alg. 1, Iterative Cyclic Rotation (S3T, arXiv 2406.16257): diverse orders for a uniform deletion prior.

    ``budget <= L``: the first ``budget`` cyclic rotations of (0..L-1), so every position holds distinct slices;
    ``budget == L`` is a Latin square. ``budget > L``: a permutation tree. Level k keeps the first k elements of
    each level-(k-1) order and rotates the remaining L-k, giving L·(L-1)···(L-k) distinct orders; levels are
    filled completely until the next one is needed. At the last level each parent keeps ``budget // parents``
    of its suffix rotations (rotation 0, the parent itself, always), and the ``budget % parents`` extra
    rotations go to parents spread evenly over the tree, so they land under different first slices (the
    official code's "certain heuristics" spread the remainder similarly). Every slice stays first somewhere.
    Capped at L!; larger budgets raise :class:`ConfigError`.
    """
    _check_slices_budget(num_slices, budget)
    base = tuple(range(num_slices))
    level: list[Order] = [_rotate(base, k) for k in range(num_slices)]
    if budget <= num_slices:
        return level[:budget]
    fixed = 1  # level-k parents have distinct prefixes of length `fixed`
    while True:
        width = num_slices - fixed  # rotations available under each parent
        if len(level) * width >= budget:
            break
        level = [p[:fixed] + _rotate(p[fixed:], r) for p in level for r in range(width)]
        fixed += 1
    parents = len(level)
    per, rem = divmod(budget, parents)
    extra = {(i * parents) // rem for i in range(rem)} if rem else set()
    out: list[Order] = []
    for i, p in enumerate(level):
        for r in range(per + (1 if i in extra else 0)):
            out.append(p[:fixed] + _rotate(p[fixed:], r))
    return out


# --------------------------------------------------------------------------------------------- Alg. 2: BMS


def bms_score(order: Sequence[int], prior: Sequence[float], t: int = DEFAULT_T) -> float:
    """Eq. 24 of S3T (arXiv 2406.16257): Σ_{n=1..len} n · (1 − Σ_{i≤n} p_{order_i})^t.

    (1 − cumulative p)^t is the chance that the first n slices survive t deletions, so the score rewards
    orders whose long prefixes are unlikely to be hit. Identical to the official ``get_score``, except that
    1 − cumulative p is clipped at 0 against rounding.
    """
    p = np.asarray(prior, dtype=np.float64)
    cum = np.cumsum(p[np.asarray(order, dtype=np.int64)])
    surv = np.clip(1.0 - cum, 0.0, None) ** t
    return float(np.sum(np.arange(1, len(cum) + 1) * surv))


def _pl_weights(p: np.ndarray) -> np.ndarray:
    """App. B.2 conditional-sampling weights ∝ 1 − p_i, floored so that a slice with p = 1 stays drawable."""
    return np.maximum(1.0 - p, _WEIGHT_FLOOR)


def _conditional_sample(weights: np.ndarray, rng: np.random.Generator) -> Order:
    """One order drawn position by position without replacement, P(slice) ∝ its weight among those left."""
    left = list(range(len(weights)))
    out: list[int] = []
    while left:
        w = weights[left]
        k = int(rng.choice(len(left), p=w / w.sum()))
        out.append(left.pop(k))
    return tuple(out)


def _pl_log_prob(perms: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Log-probability of each row of ``perms`` under position-by-position sampling with ``weights``."""
    w = weights[perms]  # (n, L)
    rest = np.cumsum(w[:, ::-1], axis=1)[:, ::-1]  # weight still in the urn at each position
    return np.sum(np.log(w) - np.log(rest), axis=1)


def _conditional_top_up(chosen: list[Order], prior: np.ndarray, budget: int, rng: np.random.Generator) -> list[Order]:
    """App. B.2 conditional sampling: add distinct orders drawn with weights ∝ 1 − p_i until ``budget``.

    Duplicates are rejected, as in the official ``conditional_sampling``; that is sampling without replacement
    from the order distribution. If rejection stalls (a very skewed prior with a budget near L!), the rest is
    drawn by Gumbel-top-k over the unused permutations, which is the same without-replacement distribution.
    """
    weights = _pl_weights(prior)
    num_slices = len(prior)
    out = list(chosen)
    seen = set(out)
    need = budget - len(out)
    max_draws = 2000 + 50 * need
    draws = 0
    while len(out) < budget and draws < max_draws:
        o = _conditional_sample(weights, rng)
        draws += 1
        if o not in seen:
            seen.add(o)
            out.append(o)
    if len(out) < budget:
        if math.factorial(num_slices) > _ENUMERATE_MAX:
            raise ConfigError(
                f"could not draw {budget} distinct sequences from the prior within {max_draws} draws; "
                "lower the budget or use a less skewed prior"
            )
        perms = np.array([p for p in itertools.permutations(range(num_slices)) if p not in seen], dtype=np.int64)
        keys = _pl_log_prob(perms, weights) + rng.gumbel(size=len(perms))
        for i in np.argsort(-keys, kind="stable")[: budget - len(out)]:
            out.append(tuple(int(s) for s in perms[i]))
    return out


def bms_sequences(prior: Sequence[float], budget: int, t: int = DEFAULT_T, seed: int = 0) -> list[Order]:
    """Alg. 2, BMS sequence selection (S3T, arXiv 2406.16257) for a non-uniform deletion prior p_1..p_L.

    Start L partial orders (k,). For positions 2..L, solve a maximum-weight perfect matching between partial
    orders and slices, edge weight = Eq. 24 score of partial + [slice] (used slices forbidden), and append the
    matched slices. Each step is a perfect matching, so the L orders form a Latin square; high-p slices are
    pushed towards the bottom. The orders come best-scoring first, so ``budget < L`` keeps the ``budget``
    best-scoring ones (the official inference script takes the first B, which ignores the prior). ``budget > L``:
    the L matched orders are topped up with distinct orders from App. B.2 conditional sampling (weights
    ∝ 1 − p_i, so rarely deleted slices go on top), deterministic from ``seed``. ``t`` is the
    anticipated number of deletions (official default 100).
    """
    from scipy.optimize import linear_sum_assignment  # 0.5 s to import: only when sequences are selected

    p = _check_prior(prior)
    num_slices = int(p.size)
    _check_slices_budget(num_slices, budget)
    if isinstance(t, bool) or not isinstance(t, int | np.integer) or t < 1:
        raise ConfigError(f"t (anticipated deletions) must be a positive integer, got {t!r}")
    partial: list[list[int]] = [[k] for k in range(num_slices)]
    for _ in range(num_slices - 1):
        weight = np.full((num_slices, num_slices), _FORBIDDEN)
        for i, seq in enumerate(partial):
            used = set(seq)
            for j in range(num_slices):
                if j not in used:
                    weight[i, j] = bms_score([*seq, j], p, t)
        rows, cols = linear_sum_assignment(weight, maximize=True)
        if np.any(weight[rows, cols] == _FORBIDDEN):  # impossible: the graph is regular, Hall's condition holds
            raise RuntimeError("BMS matching used a forbidden edge")
        for i, j in zip(rows, cols, strict=True):
            partial[int(i)].append(int(j))
    scores = [bms_score(seq, p, t) for seq in partial]
    orders = [tuple(partial[i]) for i in sorted(range(num_slices), key=lambda i: (-scores[i], i))]
    if budget <= num_slices:
        return orders[:budget]
    rng = np.random.default_rng(derive_seed("bms-conditional-sampling", seed))
    return _conditional_top_up(orders, p, budget, rng)


# ------------------------------------------------------------------------------------------- random / API


def random_sequences(num_slices: int, budget: int, seed: int = 0) -> list[Order]:
    """``budget`` distinct uniformly random orders (the random baseline of S3T Fig. 8, arXiv 2406.16257)."""
    _check_slices_budget(num_slices, budget)
    rng = np.random.default_rng(derive_seed("random-sequences", seed))
    if math.factorial(num_slices) <= _ENUMERATE_MAX:
        perms = list(itertools.permutations(range(num_slices)))
        return [perms[int(i)] for i in rng.choice(len(perms), size=budget, replace=False)]
    out: list[Order] = []
    seen: set[Order] = set()
    while len(out) < budget:  # L >= 9: L! > 362880, duplicates are rare
        o = tuple(int(s) for s in rng.permutation(num_slices))
        if o not in seen:
            seen.add(o)
            out.append(o)
    return out


def select_sequences(
    selection: str,
    num_slices: int,
    budget: int,
    prior: Sequence[float] | None = None,
    t: int = DEFAULT_T,
    seed: int = 0,
) -> list[Order]:
    """Choose a shard's ``budget`` orders: "cyclic" (Alg. 1), "bms" (Alg. 2) or "random" (S3T, arXiv 2406.16257).

    BMS without a prior uses the uniform prior. A prior given with "cyclic" or "random" is validated, then
    unused (those selections assume a uniform prior).
    """
    if selection not in SELECTIONS:
        raise ConfigError(f"unknown sequence selection {selection!r}; choose one of {', '.join(SELECTIONS)}")
    _check_slices_budget(num_slices, budget)
    if prior is not None:
        _check_prior(prior, num_slices)
    if selection == "cyclic":
        return cyclic_sequences(num_slices, budget)
    if selection == "random":
        return random_sequences(num_slices, budget, seed=seed)
    if prior is None:
        prior = [1.0 / num_slices] * num_slices
    return bms_sequences(prior, budget, t=t, seed=seed)


def pairwise_hamming(orders: Sequence[Sequence[int]]) -> float:
    """Mean Hamming distance over pairs of orders: the diversity measure of S3T Fig. 8 (arXiv 2406.16257).

    Fewer than two orders have no pairs and give 0.0.
    """
    rows = [tuple(o) for o in orders]
    if len(rows) < 2:
        return 0.0
    if len({len(r) for r in rows}) != 1:
        raise ConfigError("orders must all have the same length")
    arr = np.asarray(rows, dtype=np.int64)
    diff = arr[:, None, :] != arr[None, :, :]
    dist = diff.sum(axis=2)
    n = len(arr)
    return float(dist.sum() / (n * (n - 1)))


# ------------------------------------------------------------------------------------- Alg. 4 bookkeeping


class SequenceBook:
    """Per-shard S3T bookkeeping (Alg. 4, arXiv 2406.16257): the alive prefix depth d_b of each of B orders.

    A deletion in slice j sets d_b ← min(d_b, position of j in σ_b) for every order b: the blocks trained on
    data that included slice j are deactivated and the model from the end of stage d_b serves. The shard
    serves the order with the longest alive prefix (ties: lowest index) and is dead when every d_b is 0.
    """

    def __init__(self, orders: Sequence[Sequence[int]], alive: Sequence[int] | None = None) -> None:
        if len(orders) == 0:
            raise ConfigError("a SequenceBook needs at least one order")
        num_slices = len(orders[0])
        if num_slices == 0:
            raise ConfigError("orders must not be empty")
        checked = [_checked(o if isinstance(o, tuple) else tuple(o), num_slices) for o in orders]
        self.orders: list[Order] = [o for o, _ in checked]
        if alive is None:
            self.alive: list[int] = [num_slices] * len(self.orders)
        else:
            if len(alive) != len(self.orders):
                raise ConfigError(f"alive has {len(alive)} entries for {len(self.orders)} orders")
            self.alive = [int(d) for d in alive]
            if any(d < 0 or d > num_slices for d in self.alive):
                raise ConfigError(f"alive depths must lie in 0..{num_slices}, got {self.alive}")
        self._pos: list[dict[int, int]] = [pos for _, pos in checked]

    @property
    def num_slices(self) -> int:
        return len(self.orders[0])

    @property
    def budget(self) -> int:
        return len(self.orders)

    def position(self, seq: int, slice_index: int) -> int:
        """0-based position of ``slice_index`` in order ``seq``."""
        if not 0 <= seq < len(self.orders):
            raise ConfigError(f"sequence index {seq} out of range 0..{len(self.orders) - 1}")
        self._check_slice(slice_index)
        return self._pos[seq][slice_index]

    def _check_slice(self, slice_index: int) -> None:
        if not 0 <= slice_index < self.num_slices:
            raise ConfigError(f"slice index {slice_index} out of range 0..{self.num_slices - 1}")

    def hit(self, slice_index: int) -> list[tuple[int, int, int]]:
        """Record a deletion in ``slice_index`` (Alg. 4): d_b ← min(d_b, pos_b(j)) for every order b.

        Returns ``(b, before, after)`` for each order whose depth changed; an empty list means the slice was
        already cut everywhere and nothing changed.
        """
        self._check_slice(slice_index)
        changed: list[tuple[int, int, int]] = []
        for b, pos in enumerate(self._pos):
            p = pos[slice_index]
            if p < self.alive[b]:
                changed.append((b, self.alive[b], p))
                self.alive[b] = p
        return changed

    def best(self) -> tuple[int, int]:
        """(order index, depth) of the longest alive prefix; ties go to the lowest index (official inference)."""
        b = max(range(len(self.alive)), key=lambda i: (self.alive[i], -i))
        return b, self.alive[b]

    @property
    def dead(self) -> bool:
        """True when every order is at depth 0: the shard has no exact model left and needs a retrain."""
        return all(d == 0 for d in self.alive)

    def served_prefix(self) -> Order:
        """The slices behind the served model: the best order's alive prefix (empty when dead)."""
        b, d = self.best()
        return self.orders[b][:d]

    def to_dict(self) -> dict[str, Any]:
        return {"orders": [list(o) for o in self.orders], "alive": list(self.alive)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SequenceBook:
        try:
            return cls(d["orders"], d.get("alive"))
        except (KeyError, TypeError) as e:
            raise ConfigError(f"malformed SequenceBook record: {e}") from e

    def copy(self) -> SequenceBook:
        new = SequenceBook.__new__(SequenceBook)
        new.orders = list(self.orders)
        new.alive = list(self.alive)
        new._pos = self._pos  # read-only after construction; safe to share
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SequenceBook):
            return NotImplemented
        return self.orders == other.orders and self.alive == other.alive

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"SequenceBook(orders={self.orders!r}, alive={self.alive!r})"


# ------------------------------------------------------------------------------------- Lemma 1: δ


def harmonic(n: int) -> float:
    """H_n = Σ_{k=1..n} 1/k (H_0 = 0)."""
    if n < 0:
        raise ConfigError(f"harmonic number needs n >= 0, got {n}")
    return float(sum(1.0 / k for k in range(1, n + 1)))


def _check_positive(**values: int) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ConfigError(f"{name} must be a positive integer, got {v!r}")


def theoretical_deletion_rate(shards: int, slices: int, budget: int) -> float:
    """Lemma 1 of S3T (arXiv 2406.16257): δ = m·L·H_{m·B'}, B' = min(B, L).

    Expected number of uniformly random (shard, slice) deletion requests until every shard is dead, for
    sequence sets whose first slices are distinct (cyclic, BMS): a coupon collector over m·L equally likely
    coupons waiting for the m·B' first-position coupons. The gain over SISA is H_{mB'}/H_m, flat for B ≥ L.
    """
    _check_positive(shards=shards, slices=slices, budget=budget)
    return float(shards * slices * harmonic(shards * min(budget, slices)))


def sisa_deletion_rate(shards: int, slices: int) -> float:
    """δ for SISA served by rollback (S3T with B = 1): m·L·H_m, under the all-shards-dead failure definition.

    The official ``deletion.py`` SISA count ("retrain whenever a shard is hit") is m·H_m, L times smaller.
    """
    return theoretical_deletion_rate(shards, slices, 1)


@dataclass(frozen=True)
class DeletionRateResult:
    """Monte-Carlo deletion rate δ (mean ± std over ``streams``) next to the Lemma 1 closed form."""

    mean: float
    std: float
    theory: float
    streams: int
    shards: int
    slices: int
    budget: int
    selection: str

    @property
    def relative_error(self) -> float:
        """|mean − theory| / theory."""
        return abs(self.mean - self.theory) / self.theory

    @property
    def stderr(self) -> float:
        """Standard error of the mean."""
        return self.std / math.sqrt(self.streams)


def requests_until_dead(
    live: Sequence[SequenceBook], draw: Callable[[], Sequence[Sequence[tuple[int, int]]]], limit: int | None = None
) -> int:
    """Requests until every shard's book is dead (Alg. 4 bookkeeping); the books are modified.

    ``draw()`` returns the next batch of requests; a request is the (shard, slice) cells it deletes from (one
    for a sample, possibly several for a data subject). Requests that hit dead shards still count. With
    ``limit``, counting stops there (the stream ran out before the model died).
    """
    alive = sum(not b.dead for b in live)
    n = 0
    while alive and (limit is None or n < limit):
        for request in draw():
            n += 1
            for s, j in request:
                book = live[s]
                if book.hit(j) and book.dead:
                    alive -= 1
            if not alive or (limit is not None and n >= limit):
                break
    return n


def expected_requests_until_dead(
    books: Sequence[SequenceBook],
    cell_weights: np.ndarray,
    streams: int = 400,
    seed: int = 0,
) -> tuple[float, float]:
    """Mean and std of the number of further single-sample deletions until every shard is dead.

    ``cell_weights[shard, slice]`` is the chance a request deletes from that cell (e.g. the number of samples
    still held there). The same :class:`SequenceBook` bookkeeping as :func:`simulate_deletion_rate`, started
    from the books' current alive depths; 0 when every shard is already dead; ``inf`` when some shard can never
    die (an alive order starts with a slice that holds no samples).
    """
    w = np.asarray(cell_weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != len(books) or w.sum() <= 0:
        return 0.0, 0.0
    for shard, book in enumerate(books):
        if any(d > 0 and w[shard, order[0]] <= 0 for order, d in zip(book.orders, book.alive, strict=True)):
            return math.inf, 0.0  # an alive order starts with a slice no request can reach: it never dies
    flat = (w / w.sum()).reshape(-1)
    n_slices = w.shape[1]
    rng = np.random.default_rng(derive_seed("capacity", seed))

    def draw() -> list[list[tuple[int, int]]]:
        cells = rng.choice(flat.size, size=64, p=flat)
        return [[(int(c) // n_slices, int(c) % n_slices)] for c in cells]

    counts = np.array([requests_until_dead([b.copy() for b in books], draw) for _ in range(streams)], dtype=float)
    return float(counts.mean()), float(counts.std(ddof=1)) if streams > 1 else 0.0


def owner_requests_until_dead(
    books: Sequence[SequenceBook], owner_cells: Sequence[Sequence[tuple[int, int]]], streams: int = 400, seed: int = 0
) -> tuple[float, float, int]:
    """Data-subject deletions (each owner once, in random order) until every shard is dead.

    ``owner_cells[k]`` are the (shard, slice) cells holding owner k's samples. Returns (mean, std, number of
    streams that ran out of owners first — those count the owners available).
    """
    rng = np.random.default_rng(derive_seed("owner-deletions", seed))
    counts, censored = [], 0
    for _ in range(streams):
        order = rng.permutation(len(owner_cells)).tolist()
        requests = [owner_cells[k] for k in order]
        live = [b.copy() for b in books]
        n = requests_until_dead(live, lambda r=requests: r, limit=len(requests))
        censored += int(not all(b.dead for b in live))
        counts.append(n)
    arr = np.asarray(counts, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if streams > 1 else 0.0, censored


def simulate_deletion_rate(
    shards: int,
    slices: int,
    budget: int,
    selection: str = "cyclic",
    streams: int = 2000,
    seed: int = 0,
    prior: Sequence[float] | None = None,
) -> DeletionRateResult:
    """Monte-Carlo deletion rate δ of S3T (Lemma 1, arXiv 2406.16257), by bookkeeping only (no training).

    Each shard gets ``budget`` orders from :func:`select_sequences` and a :class:`SequenceBook`, the same code
    that S3T serves with. Each request hits a uniformly random shard and a slice drawn uniformly (or from
    ``prior``); a stream counts requests until **every shard is dead**, the paper's system-failure definition
    (the point that forces a full retrain). Requests that land on dead shards still count. Note that the
    official ``deletion.py`` counts SISA as "retrain whenever a shard is hit", which is L times smaller than
    the B = 1 value here. ``theory`` is the Lemma 1 value m·L·H_{mB'}; it is exact only for a uniform request
    stream and orders with distinct first slices (cyclic, BMS), not for "random" selection or a prior.
    """
    _check_positive(shards=shards, slices=slices, budget=budget, streams=streams)
    p = _check_prior(prior, slices) if prior is not None else None
    books = [
        SequenceBook(select_sequences(selection, slices, budget, prior=prior, seed=derive_seed(seed, "shard", s)))
        for s in range(shards)
    ]
    rng = np.random.default_rng(derive_seed("deletion-rate", seed))
    chunk = max(64, int(2 * theoretical_deletion_rate(shards, slices, budget)))

    def draw() -> list[list[tuple[int, int]]]:
        shard_draw = rng.integers(0, shards, size=chunk)
        slice_draw = rng.choice(slices, size=chunk, p=p) if prior is not None else rng.integers(0, slices, chunk)
        return [[(s, j)] for s, j in zip(shard_draw.tolist(), slice_draw.tolist(), strict=True)]

    counts = np.empty(streams, dtype=np.int64)
    for stream in range(streams):
        counts[stream] = requests_until_dead([b.copy() for b in books], draw)
    result = DeletionRateResult(
        mean=float(counts.mean()),
        std=float(counts.std(ddof=1)) if streams > 1 else 0.0,
        theory=theoretical_deletion_rate(shards, slices, budget),
        streams=streams,
        shards=shards,
        slices=slices,
        budget=budget,
        selection=selection,
    )
    log.debug("deletion rate %s", result)
    return result
