"""Prometheus metrics of the capability centre (prometheus-client, served at /metrics).

Each replica exposes its own registry; Ray Serve's own metrics stay on beside them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Latency buckets from 0.25 ms: the hot path of a small ONNX model is well under a millisecond.
LATENCY_BUCKETS = (0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Series(NamedTuple):
    """The labelled children one request updates."""

    requests: Any
    latency: Any
    rows: Any


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._series: dict[tuple[str, str, str, int], Series] = {}
        labels = ("component", "version", "tenant", "status")
        self.requests = Counter(
            "brain_requests",
            "Inference requests by component, version, tenant and status",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "brain_request_seconds",
            "Inference latency in the gateway",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rows = Histogram(
            "brain_batch_rows",
            "Rows per inference call",
            ("component",),
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
            registry=self.registry,
        )
        self.batch_requests = Histogram(
            "brain_batch_requests",
            "Requests merged into one model call by dynamic batching",
            ("component",),
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.load_seconds = Histogram(
            "brain_model_load_seconds",
            "Time to load a component version into a replica",
            ("component",),
            registry=self.registry,
        )
        self.resident = Gauge(
            "brain_resident_models", "Component versions loaded in this replica", registry=self.registry
        )
        # Bounded: tenants × two reasons. Refused calls are not metered as usage (nothing was served),
        # so this is where an operator sees a tenant hitting its limits.
        self.refused = Counter(
            "brain_refused_requests",
            "Requests refused before any work: reason 'rate' (over the tenant's request rate) or 'quota' "
            "(its monthly quota spent)",
            ("tenant", "reason"),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "brain_requests_in_flight",
            "Requests being processed by this replica (its queue)",
            registry=self.registry,
        )

        # Bounded: components × their versions' features (at most 16 per tensor, model_hub.reference_stats).
        self.drift_psi = Gauge(
            "brain_drift_psi",
            "Population stability index of a feature's sampled traffic against its training statistics",
            ("component", "version", "feature"),
            registry=self.registry,
        )
        self.drift_events = Counter(
            "brain_drift_events",
            "Times a component version's drift crossed its component's threshold",
            ("component", "version"),
            registry=self.registry,
        )

    def series(self, component: str, version: str, tenant: str, status: int) -> Series:
        """The children for these labels; looking labels up costs more than updating them, so once."""
        key = (component, version, tenant, status)
        found = self._series.get(key)
        if found is None:
            labels = (component, version, tenant, str(status))
            found = Series(
                self.requests.labels(*labels), self.latency.labels(*labels), self.rows.labels(component)
            )
            self._series[key] = found
        return found

    def forget(self, component: str) -> None:
        """Remove every child labelled with ``component`` (a component that no longer exists).

        Labels are bounded at the source: calls that name no usable component are counted as
        ``-unknown-`` (deploy.centre.inference.UNKNOWN), so children come only from real components,
        and these are dropped when a component is removed.
        """
        for key in [k for k in self._series if k[0] == component]:
            del self._series[key]
        families = (self.requests, self.latency, self.rows, self.batch_requests, self.load_seconds)
        for family in (*families, self.drift_psi, self.drift_events):
            family.remove_by_labels({"component": component})
