"""The live scheduler: the pure policy driven against real Ray clusters, with the database as the truth.

Each cycle:
1. asks every pool's backend for its health and capacity (Ray's own numbers);
2. reconciles the jobs on pools with what Ray says (started, ended, lost), retrying failed attempts;
3. acts on cancel requests, drains and run-time limits;
4. rebuilds the `ClusterState` from the database and runs `schedule()`;
5. applies the decisions: preempted jobs are stopped and requeued, admitted jobs submitted.

Crash safety: a job is marked ADMITTED (with its pool and the deterministic Ray submission id of the
attempt) *before* it is submitted, and `submitted_at` is set once Ray accepted it. A scheduler that dies
in between finds the job ADMITTED at restart, asks Ray for that submission id, and submits it only if Ray
does not have it; Ray refuses a second submission with the same id anyway. So no job is lost and none
runs twice. A pool that no longer knows an attempt it *accepted* forgot it (its Ray cluster restarted):
whether it ran is unknown, so the job's retry policy decides, with an event saying so ("outcome unknown,
retried" or "marked lost"); it is never run again silently.

One scheduler places work at a time: `run` holds a lease row in the database (`leader_lease_s`) and
renews it every cycle and again right before it places; a second scheduler on the same database waits
and takes over when the lease expires (its holder died) or is released (its holder stopped).

The process around it (command line, signals, metrics and API servers) is `scheduler.service`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scheduler.backends import (
    TERMINAL,
    Backend,
    BackendError,
    Launch,
    PoolHealth,
    RunInfo,
    RunStatus,
    make_backend,
)
from scheduler.errors import SchedulerError
from scheduler.metrics import SchedulerMetrics
from scheduler.model import (
    ON_POOL,
    Admit,
    BundlePlacement,
    Decision,
    JobState,
    Node,
    Pool,
    Preempt,
    Resources,
)
from scheduler.policy import PolicyConfig, policy_from_settings, schedule
from scheduler.settings import SchedulerSettings
from scheduler.state import ClusterState
from scheduler.store import JobRow, PoolRow, SchedulerStore, submission_id
from scheduler.views import pool_model

log = logging.getLogger("scheduler.loop")
_LATE = "deadline passed before it could start"
LEASE = "scheduler"
"""Name of the leader lease row: one per database, since the database is the scheduler's whole state."""
_STILL_FAILING_EVERY_S = 300.0


@dataclass(slots=True)
class CycleReport:
    """What one cycle did (for tests, the benchmark and the log)."""

    admitted: list[str] = field(default_factory=list)
    preempted: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    decisions: int = 0
    policy_seconds: float = 0.0


class Scheduler:
    """The live loop over the pools registered in the store."""

    def __init__(
        self,
        store: SchedulerStore,
        settings: SchedulerSettings | None = None,
        policy: PolicyConfig | None = None,
        metrics: SchedulerMetrics | None = None,
        backends: Mapping[str, Backend] | None = None,
    ) -> None:
        """`backends` fixes the backend of some pools by name (embedding, tests); the others are built
        from each pool's spec."""
        self.store = store
        self.settings = settings or SchedulerSettings()
        self._fixed_policy = policy
        self.metrics = metrics or SchedulerMetrics()
        self._given = dict(backends or {})
        self._backends: dict[str, tuple[str, Backend]] = {}
        self._health: dict[str, PoolHealth] = {}
        self._unreachable_since: dict[str, float] = {}
        self._orphans: dict[str, set[str]] = defaultdict(set)
        """Per pool, attempts given up while it was unreachable: stopped when it answers again, in case it
        was cut off rather than dead (kept in memory: a restarted scheduler forgets them)."""
        self.holder = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        """Who this scheduler is in the leader lease: host and PID namespace, PID, a nonce."""
        self.leading: bool | None = None
        """None until `run` (or `lead`) first asks for the lease: `cycle` alone places without one."""

    # --- backends ---------------------------------------------------------------------------------

    def backend(self, row: PoolRow) -> Backend:
        """The pool's backend, rebuilt when its spec (address, token) changed."""
        if row.name in self._given:
            return self._given[row.name]
        cached = self._backends.get(row.name)
        if cached is not None and cached[0] == row.spec:
            return cached[1]
        try:
            backend: Backend = make_backend(row.pool_spec, self.settings.ray_timeout_s)
        except BackendError as exc:  # e.g. its token file is unreadable: the pool is down, not the loop
            backend = _Unusable(str(exc))
        self._backends[row.name] = (row.spec, backend)
        return backend

    def limit(self, row: PoolRow) -> int:
        return row.pool_spec.max_jobs or self.settings.max_jobs_per_pool

    def cluster_limits(self, pools: Mapping[str, PoolRow]) -> dict[str, int]:
        """Jobs in flight at most per Ray cluster (by address). Pools on node groups of one cluster share
        its Jobs API, which grows unstable past ~30 jobs (ray #37894) whatever pool they came from: the
        cluster takes the largest limit of its pools, and each pool still its own."""
        limits: dict[str, int] = {}
        for row in pools.values():
            key = _cluster(row)
            limits[key] = max(limits.get(key, 0), self.limit(row))
        return limits

    # --- one cycle --------------------------------------------------------------------------------

    def cycle(self) -> CycleReport:
        started = time.perf_counter()
        report = CycleReport()
        pools = {row.name: row for row in self.store.pools()}
        self._observe(pools)
        self._reconcile(pools, report)
        self._expire_deadlines()
        self._schedule(pools, report)
        self._export_depths()
        self.metrics.cycle_seconds.observe(time.perf_counter() - started)
        return report

    def _observe(self, pools: dict[str, PoolRow]) -> None:
        for name, row in pools.items():
            health = self.backend(row).health()
            self._health[name] = health
            nodes = [n.as_dict() for n in health.nodes] if health.healthy else None
            usage = {k: list(v) for k, v in health.usage.items()} if health.usage else None
            self.store.record_pool_health(
                name, "healthy" if health.healthy else "unhealthy", health.message, nodes, usage
            )
            if health.reachable:
                if self._unreachable_since.pop(name, None) is not None:
                    log.info("pool %s answers again", name)
                self._stop_orphans(name, self.backend(row))
            elif name not in self._unreachable_since:
                self._unreachable_since[name] = time.monotonic()
                log.warning("pool %s does not answer: %s", name, health.message)
            if nodes is not None:
                row.nodes = json.dumps(nodes, sort_keys=True)
            self.metrics.pool_healthy.labels(name).set(1 if health.healthy else 0)
            for resource, (used, total) in health.usage.items():
                self.metrics.pool_capacity.labels(name, resource).set(total)
                self.metrics.pool_usage.labels(name, resource).set(used)

    # --- reconcile --------------------------------------------------------------------------------

    def _reconcile(self, pools: dict[str, PoolRow], report: CycleReport) -> None:
        for job in self.store.jobs(states=ON_POOL):
            row = pools.get(job.pool or "")
            if row is None:
                # Its pool's row was deleted: nothing can stop or watch the attempt, which may still run
                # on the old cluster. Running it again could run it twice, so it is marked lost instead.
                self._lost(
                    job, f"its pool {job.pool} is no longer registered while the job was on it", report
                )
                continue
            backend = self.backend(row)
            down = self._down_for(row.name)
            if down is not None:
                self._give_up(job, row, down, report)
                continue
            if row.name in self._unreachable_since:
                continue  # it did not answer its health check: asking after each job would only time out
            try:
                self._reconcile_job(job, row, backend, report)
            except BackendError as exc:
                self.metrics.backend_errors.labels(row.name).inc()
                log.warning("pool %s: %s", row.name, exc)

    def _reconcile_job(self, job: JobRow, row: PoolRow, backend: Backend, report: CycleReport) -> None:
        assert job.submission_id is not None
        info = backend.status(job.submission_id)
        state = JobState(job.state)
        if job.cancel_requested and state is not JobState.STOPPING:
            if info.status is RunStatus.MISSING or info.status in TERMINAL:
                self._stop(job, backend, requeue=False, reason="cancelled by request", kind="cancelling")
                self._stopped(self.store.job(job.id), info, backend, report)
            else:
                self._stop(job, backend, requeue=False, reason="cancelled by request", kind="cancelling")
            return
        if state is JobState.ADMITTED and info.status is RunStatus.MISSING and job.submitted_at is None:
            # Marked admitted but Ray never accepted it (a crash or a failed call in between): submit now.
            backend.submit(self._launch(job))
            self.store.mark_submitted(job.id, job.submission_id)
            self.store.note(job.id, "submitted", f"submitted to {row.name} as {job.submission_id} (resumed)")
            return
        if info.status is RunStatus.MISSING and state is not JobState.STOPPING:
            # Ray accepted this attempt and has forgotten it (its cluster restarted): it may have run, even
            # to the end. Only the job's retry policy may run it again.
            self._outcome_unknown(job, row, report)
            return
        if row.drain == "requeue" and state is not JobState.STOPPING and info.status not in TERMINAL:
            self._stop(job, backend, requeue=True, reason=f"pool {row.name} is drained", kind="drained")
            return
        if state is JobState.STOPPING:
            if info.status in TERMINAL or info.status is RunStatus.MISSING:
                self._stopped(job, info, backend, report)
            else:
                backend.stop(job.submission_id)  # again: the first request may have been lost
            return
        if info.status is RunStatus.RUNNING and state is JobState.ADMITTED:
            if self.store.transition(
                job.id, [JobState.ADMITTED], JobState.RUNNING, "running", f"running on {row.name}",
                started_at=info.start_time or time.time(), ray_status=info.status.value,
            ):  # fmt: skip
                report.started.append(job.id)
            return
        if info.status in TERMINAL:
            self._ended(job, info, backend, report)
            return
        limit = job.request.max_runtime_s
        if limit is not None and job.started_at is not None and time.time() - job.started_at > limit:
            self._stop(
                job, backend, requeue=False, reason=f"ran longer than max_runtime_s={limit:g}", kind="timeout"
            )

    def _launch(self, job: JobRow) -> Launch:
        request = job.request
        model = request.to_model(job.queue)
        assert job.submission_id is not None
        return Launch(
            submission_id=job.submission_id,
            entrypoint=request.command(
                self.settings.job_python or sys.executable, self.settings.job_programs
            ),
            bundles=model.bundles,
            strategy=model.strategy,
            runtime_env=request.runtime_env,
            metadata={
                "brain_job": job.id,
                "brain_tenant": job.tenant,
                "brain_attempt": str(job.attempt),
                "brain_kind": request.kind,
            },
            driver_holds_first_bundle=request.kind == "entrypoint",
        )

    def _stop(self, job: JobRow, backend: Backend, requeue: bool, reason: str, kind: str) -> bool:
        state = JobState(job.state)
        if not self.store.transition(
            job.id, [state], JobState.STOPPING, kind, reason, requeue=requeue, stop_reason=reason
        ):
            return False
        assert job.submission_id is not None
        try:
            backend.stop(job.submission_id)
        except BackendError as exc:
            log.warning("stopping %s: %s (retried next cycle)", job.id, exc)
        return True

    def _tail(self, job: JobRow, backend: Backend) -> str:
        assert job.submission_id is not None
        try:
            return backend.logs(job.submission_id, self.settings.logs_tail_lines)
        except BackendError:
            return ""

    def _stopped(self, job: JobRow, info: RunInfo, backend: Backend, report: CycleReport) -> None:
        """A job we asked to stop has stopped (or finished on its own meanwhile)."""
        if job.requeue and info.status is not RunStatus.SUCCEEDED:
            self._requeue(job, job.stop_reason, report)
            return
        if info.status is RunStatus.SUCCEEDED:
            self._ended(job, info, backend, report, expect=JobState.STOPPING)
            return
        final = JobState.CANCELLED if job.cancel_requested else JobState.FAILED
        if self.store.transition(
            job.id, [JobState.STOPPING], final, final.value, job.stop_reason,
            finished_at=time.time(), ray_status=info.status.value, exit_code=info.exit_code,
            message=job.stop_reason, logs_tail=self._tail(job, backend),
        ):  # fmt: skip
            report.finished.append(job.id)
            self.metrics.finished.labels(final.value).inc()
            if final is JobState.FAILED:
                self.metrics.failed.inc()

    def _ended(
        self,
        job: JobRow,
        info: RunInfo,
        backend: Backend,
        report: CycleReport,
        expect: JobState | None = None,
    ) -> None:
        state = expect or JobState(job.state)
        common = {
            "finished_at": info.end_time or time.time(),
            "ray_status": info.status.value,
            "exit_code": info.exit_code,
            "logs_tail": self._tail(job, backend),
        }
        if info.status is RunStatus.SUCCEEDED:
            if self.store.transition(
                job.id, [state], JobState.SUCCEEDED, "succeeded", "", message="", **common
            ):
                report.finished.append(job.id)
                self.metrics.finished.labels("succeeded").inc()
            return
        reason = info.message or f"Ray reports {info.status.value}"
        if info.status is RunStatus.STOPPED:
            reason = f"stopped outside the scheduler: {reason}"
        if info.status is RunStatus.FAILED and job.failures < job.request.retries:
            detail = (
                f"attempt {job.attempt} failed ({reason}); retry {job.failures + 1} of {job.request.retries}"
            )
            if self.store.transition(
                job.id, [state], JobState.QUEUED, "retried", detail, pool=None, placements="[]",
                failures=job.failures + 1, message=reason, exit_code=info.exit_code,
                logs_tail=common["logs_tail"], requeue=False,
            ):  # fmt: skip
                report.requeued.append(job.id)
                self.metrics.retried.inc()
            return
        if self.store.transition(
            job.id, [state], JobState.FAILED, "failed", reason, message=reason, **common
        ):
            report.finished.append(job.id)
            self.metrics.finished.labels("failed").inc()
            self.metrics.failed.inc()

    def _down_for(self, pool: str) -> float | None:
        """Seconds the pool has been unreachable, once that is `pool_lost_after_s` or more; else None."""
        since = self._unreachable_since.get(pool)
        if since is None:
            return None
        down = time.monotonic() - since
        return down if down >= self.settings.pool_lost_after_s else None

    def _give_up(self, job: JobRow, row: PoolRow, down: float, report: CycleReport) -> None:
        """A job on a pool unreachable for too long: what became of it there cannot be known."""
        assert job.submission_id is not None
        self._orphans[row.name].add(job.submission_id)
        why = f"pool {row.name} unreachable for {down:.0f} s"
        if job.cancel_requested:
            self.store.transition(
                job.id, ON_POOL, JobState.CANCELLED, "cancelled", f"{why}; cancelled by request",
                finished_at=time.time(), message="cancelled by request",
            )  # fmt: skip
            return
        if job.state == JobState.ADMITTED.value and job.submitted_at is None:
            # Never accepted there: nothing of it can have run, so it simply waits for another pool.
            self._requeue(job, f"{why} before it accepted {job.submission_id}", report)
            return
        self._outcome_unknown(job, row, report, f"{why}; {job.submission_id} outcome unknown")

    def _stop_orphans(self, pool: str, backend: Backend) -> None:
        for sid in sorted(self._orphans.pop(pool, set())):
            try:
                backend.stop(sid)
            except BackendError as exc:
                self._orphans[pool].add(sid)
                log.warning(
                    "pool %s: stopping %s, given up while the pool was unreachable: %s", pool, sid, exc
                )

    def _outcome_unknown(self, job: JobRow, row: PoolRow, report: CycleReport, what: str = "") -> None:
        what = what or (
            f"pool {row.name} no longer knows {job.submission_id} (its Ray cluster restarted or dropped it): "
            "outcome unknown"
        )
        if job.failures < job.request.retries:
            detail = f"{what}, retried (retry {job.failures + 1} of {job.request.retries})"
            if self.store.transition(
                job.id, ON_POOL, JobState.QUEUED, "unknown-retried", detail,
                pool=None, placements="[]", failures=job.failures + 1, message=what, requeue=False,
                stop_reason="", started_at=None, admitted_at=None, submitted_at=None,
                ray_status=RunStatus.MISSING.value,
            ):  # fmt: skip
                report.requeued.append(job.id)
                self.metrics.retried.inc()
            return
        self._lost(job, f"{what}; its retries ({job.request.retries}) allow no second run", report)

    def _lost(self, job: JobRow, why: str, report: CycleReport) -> None:
        """End a job whose attempt the scheduler can no longer follow, rather than risk running it twice."""
        detail = f"marked lost: {why}; submit it again if running it twice is safe"
        if self.store.transition(
            job.id, ON_POOL, JobState.FAILED, "lost", detail,
            finished_at=time.time(), message=detail, ray_status=RunStatus.MISSING.value,
        ):  # fmt: skip
            report.finished.append(job.id)
            self.metrics.finished.labels("failed").inc()
            self.metrics.failed.inc()

    def _requeue(self, job: JobRow, reason: str, report: CycleReport) -> None:
        if self.store.transition(
            job.id, ON_POOL, JobState.QUEUED, "requeued", reason,
            pool=None, placements="[]", requeue=False, stop_reason="", started_at=None, admitted_at=None,
        ):  # fmt: skip
            report.requeued.append(job.id)

    def _expire_deadlines(self) -> None:
        now = time.time()
        for job in self.store.jobs(states=[JobState.QUEUED]):
            if job.cancel_requested:
                self.store.transition(
                    job.id, [JobState.QUEUED], JobState.CANCELLED, "cancelled", "cancelled while queued",
                    finished_at=now, message="cancelled by request",
                )  # fmt: skip
                continue
            deadline = job.request.deadline
            if deadline is not None and now > deadline:
                self.store.transition(
                    job.id, [JobState.QUEUED], JobState.FAILED, "failed", _LATE,
                    finished_at=now, message=_LATE,
                )  # fmt: skip
                self.metrics.failed.inc()

    # --- the policy -------------------------------------------------------------------------------

    def build_state(self, pools: dict[str, PoolRow]) -> tuple[ClusterState, dict[str, JobRow]] | None:
        """The policy's input from the database: None while there is nothing to schedule on."""
        tree = self.store.queue_tree()
        if tree is None or not pools:
            return None
        on_pool = self.store.jobs(states=ON_POOL)
        in_flight: dict[str, int] = defaultdict(int)
        on_cluster: dict[str, int] = defaultdict(int)
        for job in on_pool:
            in_flight[job.pool or ""] += 1
            if job.pool in pools:
                on_cluster[_cluster(pools[job.pool])] += 1
        cluster_limits = self.cluster_limits(pools)
        model_pools: list[Pool] = []
        nodes: list[Node] = []
        for name, row in pools.items():
            pool, pool_nodes = pool_model(row)
            health = self._health.get(name)
            closed = (
                pool.cordoned
                or health is None
                or not health.healthy
                or in_flight[name] >= self.limit(row)
                or on_cluster[_cluster(row)] >= cluster_limits[_cluster(row)]
            )
            model_pools.append(dataclasses.replace(pool, cordoned=closed))
            nodes += pool_nodes
            self.metrics.jobs_in_flight.labels(name).set(in_flight[name])
        state = ClusterState(model_pools, nodes, tree, now=time.time())
        index = {node_id: i for i, node_id in enumerate(state.capacity.node_ids)}
        rows: dict[str, JobRow] = {}
        for job in on_pool:
            placements = _placements_from(job, index)
            if placements is None or job.queue not in tree.queues:
                continue  # its node is gone: it holds nothing the policy could use or take
            state.restore(
                job.request.to_model(job.queue), placements, job.started_at or job.admitted_at or 0.0
            )
            rows[job.id] = job
        for job in self.store.jobs(states=[JobState.QUEUED]):
            try:
                state.submit(job.request.to_model(job.queue))
            except SchedulerError as exc:
                # The topology changed under a queued job (a region or tenant went away): it waits, and
                # says why, once.
                if job.message != exc.message:
                    self.store.note(job.id, "unschedulable", exc.message, message=exc.message)
                continue
            rows[job.id] = job
        return state, rows

    def _schedule(self, pools: dict[str, PoolRow], report: CycleReport) -> None:
        built = self.build_state(pools)
        if built is None:
            return
        state, rows = built
        if not state.pending:
            return
        started = time.perf_counter()
        decisions = schedule(state, self.policy_for(state))
        elapsed = time.perf_counter() - started
        report.decisions, report.policy_seconds = len(decisions), elapsed
        if decisions:
            self.metrics.decisions_per_second.set(len(decisions) / max(elapsed, 1e-9))
        if self.leading is not None and not self.lead():
            return  # the lease ran out during this cycle (a stall): another scheduler places now
        self._apply(state, rows, pools, decisions, report)

    def policy_for(self, state: ClusterState) -> PolicyConfig:
        """The policy of this cycle. FGD measures fragmentation against a workload: here, the bundle
        shapes of the jobs queued and running now, weighted by how many there are."""
        if self._fixed_policy is not None:
            return self._fixed_policy
        if self.settings.placement_scorer != "fgd":
            self._fixed_policy = policy_from_settings(self.settings)
            return self._fixed_policy
        shapes: Counter[Resources] = Counter()
        for job in [*state.pending.values(), *(run.job for run in state.running.values())]:
            shapes.update(job.bundles)
        return policy_from_settings(self.settings, [(b, float(n)) for b, n in shapes.items()])

    def _apply(
        self,
        state: ClusterState,
        rows: dict[str, JobRow],
        pools: dict[str, PoolRow],
        decisions: Sequence[Decision],
        report: CycleReport,
    ) -> None:
        cap = state.capacity
        slots = {
            name: self.limit(row) - len(self.store.jobs(states=ON_POOL, pool=name))
            for name, row in pools.items()
        }
        cluster_slots = self.cluster_limits(pools)
        for running in self.store.jobs(states=ON_POOL):
            if running.pool in pools:
                cluster_slots[_cluster(pools[running.pool])] -= 1
        kept: dict[str, str] = {}
        held: set[str] = set()
        # Admission control: a pool takes at most its free slots per cycle, and so does the cluster it is
        # on (pools on node groups share one); a gang lands on one pool (a Ray job cannot span clusters);
        # other admissions wait for a later cycle. Once one of a queue's admissions waits, its later ones
        # wait too: the policy ordered the queue, and a younger job must not start first because it was
        # placed on a pool with a free slot (the killed-leader test saw that under load).
        for decision in decisions:
            if not isinstance(decision, Admit):
                continue
            names = {cap.pools[int(cap.node_pool[p.node])].name for p in decision.placements}
            if len(names) != 1:
                continue
            name = names.pop()
            if name not in pools:
                continue
            queue = rows[decision.job_id].queue if decision.job_id in rows else ""
            cluster = _cluster(pools[name])
            if queue not in held and slots.get(name, 0) > 0 and cluster_slots[cluster] > 0:
                slots[name] -= 1
                cluster_slots[cluster] -= 1
                kept[decision.job_id] = name
            else:
                held.add(queue)
        for decision in decisions:
            if isinstance(decision, Preempt) and decision.for_job in kept:
                job = rows.get(decision.job_id)
                if job is None or job.pool not in pools:
                    continue
                if self._stop(
                    job, self.backend(pools[job.pool]), requeue=True,
                    reason=f"preempted for {decision.for_job}: {decision.reason}", kind="preempted",
                ):  # fmt: skip
                    report.preempted.append(job.id)
                    self.metrics.preempted.labels(decision.reason).inc()
        for decision in decisions:
            if isinstance(decision, Admit) and decision.job_id in kept:
                self._admit(
                    rows[decision.job_id], kept[decision.job_id], decision.placements, state, pools, report
                )

    def _admit(
        self,
        job: JobRow,
        pool: str,
        placements: tuple[BundlePlacement, ...],
        state: ClusterState,
        pools: dict[str, PoolRow],
        report: CycleReport,
    ) -> None:
        attempt = job.attempt + 1
        sid = submission_id(self.store.namespace, job.id, attempt)
        stored = [
            {"node": state.capacity.node_ids[p.node], "gpus": list(p.gpus), "gpu_milli": p.gpu_milli}
            for p in placements
        ]
        now = time.time()
        detail = f"admitted to {pool} as {sid}{self._by}"
        if not self.store.transition(
            job.id, [JobState.QUEUED], JobState.ADMITTED, "admitted", detail,
            pool=pool, placements=json.dumps(stored), attempt=attempt, submission_id=sid, admitted_at=now,
            started_at=None, ray_status=None, submitted_at=None,
        ):  # fmt: skip
            return  # cancelled meanwhile
        report.admitted.append(job.id)
        self.metrics.admitted.labels(pool).inc()
        self.metrics.wait_seconds.observe(max(0.0, now - job.submit_time))
        job = self.store.job(job.id)
        backend = self.backend(pools[pool])
        try:
            backend.submit(self._launch(job))
        except BackendError as exc:
            # The job stays ADMITTED; reconcile submits it under the same id next cycle.
            self.metrics.backend_errors.labels(pool).inc()
            log.warning("submitting %s to %s: %s (retried next cycle)", job.id, pool, exc)
            return
        self.store.mark_submitted(job.id, sid)

    def _export_depths(self) -> None:
        depth: dict[str, int] = defaultdict(int)
        for (queue, job_state), count in self.store.count_by_state().items():
            depth[queue] += count if job_state == JobState.QUEUED.value else 0
        for queue, count in depth.items():
            self.metrics.queue_depth.labels(queue).set(count)

    # --- the process ------------------------------------------------------------------------------

    @property
    def _by(self) -> str:
        """Which scheduler placed a job, for its event, where several may run (`run` holds the lease)."""
        return f" by {self.holder}" if self.leading is not None else ""

    def lead(self) -> bool:
        """Take or renew the leader lease; say so in the log when leadership changes hands."""
        ttl = self.settings.leader_lease_s
        holder = self.store.hold_lease(LEASE, self.holder, ttl)
        if holder is not None and _dead_here(holder):
            # Its holder ran on this host and has died (a crash the supervisor restarted us after): no
            # need to wait for the lease to run out. The release is a compare-and-set on that holder.
            log.info("the lease holder %s is no longer running; taking over", holder)
            self.store.release_lease(LEASE, holder)
            holder = self.store.hold_lease(LEASE, self.holder, ttl)
        leading = holder is None
        if leading != self.leading:
            if leading:
                log.info("leading as %s: this scheduler places work (lease %.0f s)", self.holder, ttl)
            else:
                log.info(
                    "waiting: %s leads; this scheduler takes over if its %.0f s lease runs out", holder, ttl
                )
        self.leading = leading
        self.metrics.leader.set(1 if leading else 0)
        return leading

    def run(self, stop: threading.Event) -> None:
        """Cycle until `stop` is set, while this scheduler holds the leader lease.

        A failing cycle (the database locked or unreachable, the disk full) does not end the loop: the
        first failure of an episode is logged with its traceback, then only counted (a reminder every
        five minutes), and the recovery is logged with the count and how long it lasted.
        """
        episode = _FailureEpisode()
        while not stop.is_set():
            try:
                if self.lead():
                    self.cycle()
            except Exception as exc:
                self.metrics.cycle_errors.inc()
                episode.failed(exc)
            else:
                episode.recovered()
            stop.wait(self.settings.cycle_interval_s)
        if self.leading:
            try:
                self.store.release_lease(LEASE, self.holder)  # a waiting scheduler takes over at once
            except Exception as exc:  # the lease then simply expires
                log.warning("could not release the leader lease: %s", exc)
        for _, backend in self._backends.values():
            backend.close()


class _FailureEpisode:
    """Consecutive failing cycles, logged once with a count rather than once per cycle."""

    def __init__(self) -> None:
        self.count = 0
        self.since = 0.0
        self.said_at = 0.0

    def failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self.count += 1
        if self.count == 1:
            self.since = self.said_at = now
            log.exception("scheduling cycle failed; retrying each cycle, logged again once it works")
        elif now - self.said_at >= _STILL_FAILING_EVERY_S:
            self.said_at = now
            log.error("scheduling cycles still failing: %d in a row over %.0f s; last: %s",
                      self.count, now - self.since, exc)  # fmt: skip

    def recovered(self) -> None:
        if self.count:
            log.warning("scheduling cycles work again after %d failed over %.0f s",
                        self.count, time.monotonic() - self.since)  # fmt: skip
            self.count = 0


class _Unusable(Backend):
    """Stands in for a pool whose backend cannot even be built: unhealthy, every call fails."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    def submit(self, launch: Launch) -> None:
        raise BackendError(self.problem)

    def status(self, submission_id: str) -> RunInfo:
        raise BackendError(self.problem)

    def logs(self, submission_id: str, tail: int | None = None) -> str:
        raise BackendError(self.problem)

    def stop(self, submission_id: str) -> None:
        raise BackendError(self.problem)

    def health(self) -> PoolHealth:
        return PoolHealth(healthy=False, message=self.problem, reachable=False)


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


_HOST = f"{socket.gethostname()}/{_pid_namespace()}"
"""The host and PID namespace of this process: PIDs mean something only within both."""


def _dead_here(holder: str) -> bool:
    """Whether a lease holder ran in this host's PID namespace and its process is gone."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != _HOST or host.endswith("/") or not pid.isdigit():
        return False  # another host or namespace (or unknown): only its lease's expiry tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def _cluster(row: PoolRow) -> str:
    """The Ray cluster a pool is on: its Jobs API address."""
    return row.pool_spec.address.rstrip("/").lower()


def _placements_from(job: JobRow, index: dict[str, int]) -> tuple[BundlePlacement, ...] | None:
    placements = []
    for item in job.placement_list:
        node = index.get(str(item["node"]))
        if node is None:
            return None
        placements.append(
            BundlePlacement(node, tuple(item.get("gpus") or ()), int(item.get("gpu_milli") or 0))
        )
    return tuple(placements) if placements else None
