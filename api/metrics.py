"""Prometheus metrics of one server: per-RPC request counts and latency,
solve latency per kind and solver, solver choices, guard-rail states, jobs
by state, extender requests. Each server has its own registry, so several
servers in one process (tests) do not collide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from optsched.api.decode_cache import DecodeCache
from optsched.guardrail import GuardRail, GuardState

# Small heuristic answers take milliseconds, CP-SAT answers up to the budget.
LATENCY_BUCKETS_S = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.requests = Counter(
            "optsched_rpc_requests",
            "gRPC requests by method and status code",
            ("method", "code"),
            registry=r,
        )
        self.latency = Histogram(
            "optsched_rpc_latency_seconds",
            "gRPC latency by method",
            ("method",),
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.solve_latency = Histogram(
            "optsched_solve_latency_seconds",
            "solve wall time by problem kind and answering solver",
            ("kind", "solver"),
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.choices = Counter(
            "optsched_solver_choices",
            "answers by problem kind, solver and status",
            ("kind", "solver", "status"),
            registry=r,
        )
        self.in_flight = Gauge("optsched_solves_in_flight", "solves queued or running", registry=r)
        self.rejected = Counter(
            "optsched_solves_rejected", "solves refused at the concurrency cap", registry=r
        )
        self.inline = Counter(
            "optsched_solves_inline", "small one-shot solves answered on the event loop", registry=r
        )
        self.shared = Counter(
            "optsched_solves_budget_shared",
            "solves whose budget was cut to a share of the time before a waiting deadline",
            registry=r,
        )
        self.guardrail = Gauge(
            "optsched_guardrail_serving",
            "1 while a learned solver's guard-rail lets it serve",
            ("solver",),
            registry=r,
        )
        self.guardrail_gap = Gauge(
            "optsched_guardrail_mean_gap",
            "learned solver's mean measured gap",
            ("solver",),
            registry=r,
        )
        self.jobs = Gauge("optsched_jobs", "batch jobs by state", ("state",), registry=r)
        self.extender = Counter(
            "optsched_extender_requests",
            "scheduler-extender requests by verb and HTTP status",
            ("verb", "status"),
            registry=r,
        )
        self.decode_cache = Gauge(
            "optsched_decode_cache",
            "decoded nodes and items found in (hits) or added to (misses) the decode cache, "
            "and held (entries)",
            ("count",),
            registry=r,
        )

    def watch_decode_cache(self, cache: DecodeCache | None) -> None:
        """Report ``cache``'s counts at each scrape (nothing when None)."""
        if cache is not None:
            self.decode_cache.labels("hits").set_function(lambda: cache.hits)
            self.decode_cache.labels("misses").set_function(lambda: cache.misses)
            self.decode_cache.labels("entries").set_function(lambda: len(cache))

    def child(self, metric: MetricWrapperBase, *values: str) -> Any:
        """``metric.labels(*values)``, remembered: every answer records
        several labelled samples, and prometheus_client checks and formats
        the label values on each call. The label sets are small (methods,
        codes, kinds, solvers, statuses)."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def record_guards(self, guards: Mapping[str, GuardRail]) -> None:
        for name, guard in list(guards.items()):
            serving = 1.0 if guard.state is GuardState.SERVING else 0.0
            self.child(self.guardrail, name).set(serving)
            if guard.mean_gap is not None:
                self.child(self.guardrail_gap, name).set(guard.mean_gap)

    def record_jobs(self, counts: Mapping[str, int]) -> None:
        for state, n in counts.items():
            self.jobs.labels(state).set(n)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def merged_exposition(parts: list[tuple[str, bytes]]) -> bytes:
    """One exposition from several processes' (``process`` label, exposition)
    pairs: every sample gains a ``process`` label, each family is written once."""
    families: dict[str, Metric] = {}
    for process, text in parts:
        for fam in text_string_to_metric_families(text.decode()):
            out = families.setdefault(fam.name, Metric(fam.name, fam.documentation, fam.type))
            for s in fam.samples:
                labels = {**s.labels, "process": process}
                out.samples.append(Sample(s.name, labels, s.value, s.timestamp, s.exemplar))

    class _Merged:
        def collect(self) -> list[Metric]:
            return list(families.values())

    return generate_latest(_Merged())  # type: ignore[arg-type]
