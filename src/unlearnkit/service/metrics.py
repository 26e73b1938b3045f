"""Prometheus metrics (``prometheus-client``), one registry per app.

What the database knows is read at scrape time, so the numbers are right whichever process did the work
(an in-server worker, a separate ``unlearnkit worker``, the CLI):

============================================================  =========  ====================================
metric                                                        type       meaning
============================================================  =========  ====================================
``unlearnkit_deletion_requests{state}``                        gauge      requests by state
``unlearnkit_deletion_queue_depth{kind}``                      gauge      queued + running jobs
``unlearnkit_deletion_oldest_open_age_seconds``                gauge      age of the oldest open request
``unlearnkit_deletion_requests_overdue``                       gauge      open requests past their deadline
``unlearnkit_deletion_time_to_compliance_seconds``             histogram  receipt time − received time
``unlearnkit_deletions_completed_total``                       counter    completed deletion requests
``unlearnkit_deletions_per_second{window}``                    gauge      completions per second, last 60 s
``unlearnkit_retrain_duration_seconds``                        histogram  finished retrain jobs
``unlearnkit_model_version{source}``                           gauge      served by this process / in store
``unlearnkit_shards{state}``                                   gauge      alive / dead shards (exact models)
``unlearnkit_deletion_capacity_remaining``                     gauge      expected deletions before retrain
``unlearnkit_worker_lease_holder{holder}``                     gauge      1 for the worker holding the lease
``unlearnkit_worker_lease_expires_in_seconds``                 gauge      seconds until the lease lapses
``unlearnkit_http_request_duration_seconds{route,status}``     histogram  this process's HTTP latency
``unlearnkit_predict_latency_seconds``                         histogram  ``POST /v1/predict`` latency
============================================================  =========  ====================================

The two completion histograms are cumulative counters fed incrementally: each scrape reads only the rows
finished since the previous one (by ``(finished time, id)``), so a scrape costs O(new rows), not O(history).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import and_, func, or_, select

from unlearnkit.lineage.store import utcnow
from unlearnkit.service.models import REQUEST_STATES, TERMINAL_STATES, Job, ServiceRequest, WorkerLease

if TYPE_CHECKING:
    from unlearnkit.service.core import ServiceContext

COMPLIANCE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86400, 7 * 86400, 30 * 86400, 90 * 86400)
RETRAIN_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600)
THROUGHPUT_WINDOW = 60  # seconds of completions behind unlearnkit_deletions_per_second
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class _Cumulative:
    """Histogram buckets accumulated from rows finished after a ``(time, id)`` watermark."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.bounds = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.mark: tuple[datetime, Any] | None = None

    def add(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        i = next((k for k, b in enumerate(self.bounds) if seconds <= b), len(self.bounds))
        self.counts[i] += 1
        self.total += seconds

    def family(self, name: str, doc: str) -> HistogramMetricFamily:
        running, buckets = 0, []
        for bound, c in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += c
            buckets.append((bound, running))
        return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=self.total)


def _after(time_col: Any, id_col: Any, mark: tuple[datetime, Any] | None) -> Any:
    if mark is None:
        return time_col.is_not(None)
    return or_(time_col > mark[0], and_(time_col == mark[0], id_col > mark[1]))


class ServiceCollector:
    """Collects the database- and model-derived metrics on each scrape."""

    def __init__(self, svc: ServiceContext) -> None:
        self.svc = svc
        self._lock = threading.Lock()
        self._compliance = _Cumulative(COMPLIANCE_BUCKETS)
        self._retrain = _Cumulative(RETRAIN_BUCKETS)

    def describe(self) -> list[Metric]:
        return []  # collected lazily: no database access at registration

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            yield from self._requests()
            yield from self._model()

    def _requests(self) -> Iterator[Metric]:
        now = utcnow()
        with self.svc.store.session() as s:
            by_state = dict(s.execute(select(ServiceRequest.state, func.count()).group_by(ServiceRequest.state)).all())
            queue = dict(
                s.execute(
                    select(Job.kind, func.count()).where(Job.state.in_(("queued", "running"))).group_by(Job.kind)
                ).all()
            )
            oldest = s.execute(
                select(func.min(ServiceRequest.received_at)).where(ServiceRequest.state.not_in(TERMINAL_STATES))
            ).scalar_one()
            overdue = s.execute(
                select(func.count()).where(
                    ServiceRequest.state.not_in(TERMINAL_STATES),
                    func.coalesce(ServiceRequest.extended_until, ServiceRequest.due_at) < now,
                )
            ).scalar_one()
            done = s.execute(
                select(ServiceRequest.id, ServiceRequest.received_at, ServiceRequest.completed_at)
                .where(_after(ServiceRequest.completed_at, ServiceRequest.id, self._compliance.mark))
                .order_by(ServiceRequest.completed_at, ServiceRequest.id)
            ).all()
            retrains = s.execute(
                select(Job.id, Job.started_at, Job.finished_at)
                .where(Job.kind == "retrain", Job.state == "done", Job.started_at.is_not(None))
                .where(_after(Job.finished_at, Job.id, self._retrain.mark))
                .order_by(Job.finished_at, Job.id)
            ).all()
            lease = s.execute(select(WorkerLease)).scalars().first()
            window_start = now - timedelta(seconds=THROUGHPUT_WINDOW)
            recent = s.execute(select(func.count()).where(ServiceRequest.completed_at >= window_start)).scalar_one()
        for rid, received, completed in done:
            self._compliance.add((completed - received).total_seconds())
            self._compliance.mark = (completed, rid)
        for jid, started, finished in retrains:
            self._retrain.add((finished - started).total_seconds())
            self._retrain.mark = (finished, jid)

        g = GaugeMetricFamily("unlearnkit_deletion_requests", "Deletion requests by state.", labels=["state"])
        for state in sorted(set(REQUEST_STATES) | set(by_state)):
            g.add_metric([state], by_state.get(state, 0))
        yield g
        q = GaugeMetricFamily("unlearnkit_deletion_queue_depth", "Queued and running jobs by kind.", labels=["kind"])
        for kind in sorted({"forget", "retrain"} | set(queue)):
            q.add_metric([kind], queue.get(kind, 0))
        yield q
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "unlearnkit_deletion_oldest_open_age_seconds", "Age of the oldest open deletion request.", value=age
        )
        yield GaugeMetricFamily(
            "unlearnkit_deletion_requests_overdue", "Open deletion requests past their deadline.", value=overdue
        )
        yield self._compliance.family(
            "unlearnkit_deletion_time_to_compliance_seconds", "Seconds from a request's receipt to its completion."
        )
        yield self._retrain.family("unlearnkit_retrain_duration_seconds", "Duration of finished retrain jobs.")
        total = CounterMetricFamily("unlearnkit_deletions_completed", "Completed deletion requests.")
        total.add_metric([], by_state.get("completed", 0))
        yield total
        rate = GaugeMetricFamily(
            "unlearnkit_deletions_per_second",
            "Deletion requests completed per second over the last window (group commit raises it).",
            labels=["window"],
        )
        rate.add_metric([f"{THROUGHPUT_WINDOW}s"], int(recent or 0) / THROUGHPUT_WINDOW)
        yield rate
        holder = GaugeMetricFamily(
            "unlearnkit_worker_lease_holder", "1 for the worker holding the lease.", labels=["holder"]
        )
        live = lease is not None and lease.owner and lease.expires_at is not None and lease.expires_at > now
        if live:
            holder.add_metric([str(lease.owner)], 1)  # type: ignore[union-attr]
        yield holder
        expires = (lease.expires_at - now).total_seconds() if live else 0.0  # type: ignore[union-attr,operator]
        yield GaugeMetricFamily(
            "unlearnkit_worker_lease_expires_in_seconds", "Seconds until the worker lease lapses.", value=expires
        )

    def _model(self) -> Iterator[Metric]:
        backend = self.svc.backend
        v = GaugeMetricFamily(
            "unlearnkit_model_version", "Model version: served here, and in the store.", labels=["source"]
        )
        with contextlib.suppress(Exception):  # not serving (every shard dead before a retrain)
            v.add_metric(["served"], backend.model_version)
        v.add_metric(["store"], self.svc.store.model_version)
        yield v
        status = model_status(backend)
        if status is not None:
            sh = GaugeMetricFamily("unlearnkit_shards", "Shards of an exact model by state.", labels=["state"])
            sh.add_metric(["alive"], status["alive"])
            sh.add_metric(["dead"], status["dead"])
            yield sh
            if status.get("capacity") is not None:
                yield GaugeMetricFamily(
                    "unlearnkit_deletion_capacity_remaining",
                    "Expected further single-sample deletions before every shard needs retraining.",
                    value=float(status["capacity"]),
                )


_capacity_cache: dict[tuple[int, int], float] = {}


def model_status(backend: Any) -> dict[str, Any] | None:
    """Alive/dead shard counts and the expected remaining deletion capacity of an exact model.

    The capacity is :func:`unlearnkit.exact.status.capacity` (the SequenceBook simulation ``unlearnkit status``
    prints), computed once per model version and cached; ``inf`` for strategies that retrain on every deletion.
    """
    strategy = getattr(backend, "strategy", None)
    if strategy is None:
        return None
    shards = int(getattr(strategy, "shards", 1) or 1)
    try:
        served = {m["shard"] for m in strategy.served()}
    except Exception:
        served = set()
    out: dict[str, Any] = {"alive": len(served), "dead": shards - len(served), "capacity": None}
    key = (id(strategy), int(backend.model_version))
    if key not in _capacity_cache:
        from unlearnkit.exact.status import capacity

        try:
            cap = capacity(strategy, streams=100)
        except Exception:
            return out
        _capacity_cache.clear()
        _capacity_cache[key] = float(cap["expected_requests"]) if cap.get("bounded") else math.inf
    out["capacity"] = _capacity_cache[key]
    return out


class Metrics:
    """The app's registry: the scrape-time collector plus this process's latency histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.http = Histogram(
            "unlearnkit_http_request_duration_seconds",
            "HTTP request latency of this process.",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predict = Histogram(
            "unlearnkit_predict_latency_seconds",
            "Latency of POST /v1/predict in this process.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._collector: ServiceCollector | None = None

    def attach(self, svc: ServiceContext) -> None:
        if self._collector is None:
            self._collector = ServiceCollector(svc)
            self.registry.register(self._collector)  # type: ignore[arg-type]

    def detach(self) -> None:
        if self._collector is not None:
            self.registry.unregister(self._collector)  # type: ignore[arg-type]
            self._collector = None

    def observe(self, path: str, method: str, status: int, seconds: float) -> None:
        route = _route_of(path)
        self.http.labels(route, f"{status // 100}xx").observe(seconds)
        if route == "/v1/predict" and method == "POST":
            self.predict.observe(seconds)


def _route_of(path: str) -> str:
    """A low-cardinality route label: ids in paths become ``{id}``."""
    parts = [p for p in path.split("/") if p]
    known = {"v1", "predict", "deletion-requests", "receipt", "models", "current", "audit", "verify", "head", "keys"}
    known |= {"admin", "extend", "reject", "retry", "exports", "file", "metrics", "healthz", "readyz", "docs"}
    return "/" + "/".join(p if p in known else "{id}" for p in parts) if parts else "/"


__all__ = ["Metrics", "ServiceCollector", "model_status"]
