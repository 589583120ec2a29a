"""Prometheus metrics of the live scheduler (one registry per `Scheduler`, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SchedulerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge(
            "brain_scheduler_queue_depth", "Jobs waiting per queue", ["queue"], registry=r
        )
        self.jobs_in_flight = Gauge(
            "brain_scheduler_pool_jobs_in_flight",
            "Jobs submitted and not finished per pool",
            ["pool"],
            registry=r,
        )
        self.admitted = Counter("brain_scheduler_admitted", "Jobs admitted to a pool", ["pool"], registry=r)
        self.preempted = Counter(
            "brain_scheduler_preempted", "Jobs stopped and requeued", ["reason"], registry=r
        )
        self.finished = Counter(
            "brain_scheduler_finished", "Jobs that ended, by final state", ["state"], registry=r
        )
        self.failed = Counter("brain_scheduler_failed", "Jobs that failed for good", registry=r)
        self.retried = Counter("brain_scheduler_retried", "Failed attempts run again", registry=r)
        self.backend_errors = Counter(
            "brain_scheduler_backend_errors", "Calls to a pool's backend that failed", ["pool"], registry=r
        )
        self.wait_seconds = Histogram(
            "brain_scheduler_wait_seconds",
            "Queueing delay from submission to admission",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
            registry=r,
        )
        self.pool_capacity = Gauge(
            "brain_scheduler_pool_capacity", "Capacity reported by Ray", ["pool", "resource"], registry=r
        )
        self.pool_usage = Gauge(
            "brain_scheduler_pool_usage", "Usage reported by Ray (all work)", ["pool", "resource"], registry=r
        )
        self.pool_healthy = Gauge(
            "brain_scheduler_pool_healthy", "1 when the pool answers", ["pool"], registry=r
        )
        self.decisions_per_second = Gauge(
            "brain_scheduler_decisions_per_second", "Decisions of the last policy call per second", registry=r
        )
        self.cycle_errors = Counter(
            "brain_scheduler_cycle_errors",
            "Scheduling cycles that failed (database locked or unreachable, disk full, …)",
            registry=r,
        )
        self.leader = Gauge(
            "brain_scheduler_leader",
            "1 while this scheduler holds the leader lease and places work",
            registry=r,
        )
        self.cycle_seconds = Histogram(
            "brain_scheduler_cycle_seconds",
            "Wall time of one scheduling cycle (reconcile, policy, submissions)",
            buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
            registry=r,
        )
