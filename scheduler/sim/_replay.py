"""`replay --load X`: the trace on a simulated clock, arrivals compressed to offered load X.

What "offered load" means here, and why: a task offers its GPU share times its run time, but counted
for at most one window length W (the span its arrivals are compressed into):
``load(W) = sum(gpu_i * min(runtime_i, W)) / (gpu_capacity * W)``. Without the cap the trace's few
months-long tasks carry 97% of all GPU-time, and a window "loaded 1.0" would keep the cluster 3% busy.
With it, one pass of the trace offers at most 0.98 (all its tasks at once), so the trace is replayed
in ``passes = ceil(X / min(0.6, 0.9 * one pass's all-at-once load))`` identical passes (task names
suffixed ``/k``), each offering X / passes; W is found by bisection (load falls as W grows). Arrival
order is the trace's; run times are as recorded.

Scheduling cycles run on a tick of `cycle_s` simulated seconds (like the live loop's
`cycle_interval_s`), and only on ticks where something arrived or finished: a job arriving between two
ticks waits for the next one, under every policy alike.
Utilisation is averaged over the arrival window.

Fairness is measured under contention, the way dominant-resource fair sharing defines it (Ghodsi et al.,
"Dominant Resource Fairness", NSDI'11): while tenants have work waiting, each should hold an equal
dominant share (its largest fraction of the cluster's CPU, memory or GPU; the 16 city tenants of
`scheduler.sim._trace` all weigh the same). At every moment at which at least two tenants have a job
queued, Jain's index (Jain, Chiu and Hawe 1984) is taken over the dominant shares of those backlogged
tenants (1: equal shares; 1/n: one tenant holds everything); tenants with nothing queued got all they
asked for and are left out. `jain_index` is the time average of that index over the contended time
(`contended_s`); 1.0 when there was no contention. A whole-run average per tenant (e.g. of
runtime / completion time) is not used: the tenants are a hash split of one workload, so such
averages are equal by construction (they gave 0.99999 for every policy) and tell no policy apart.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from scheduler.errors import ResourcesImpossible
from scheduler.model import GPU_MILLI, Admit, Job, Preempt, QueueTree
from scheduler.policy import Ordering, PolicyConfig, make_scorer, schedule
from scheduler.sim._trace import CITIES, Trace, jain_index
from scheduler.state import ClusterState

PolicyFactory = Callable[[Trace], PolicyConfig]


def brain_policy(scorer: str = "fgd") -> PolicyFactory:
    """Our policy: priority with aging, weighted DRF across tenants, backfill, reservations, drains."""

    def build(trace: Trace) -> PolicyConfig:
        # Preemption stays off in the replay: trace jobs cannot checkpoint, an eviction loses all work.
        return PolicyConfig(scorer=make_scorer(scorer, trace.workload()), preemption=False)

    return build


def fifo_policy(scorer: str) -> PolicyFactory:
    """Baseline: strict FIFO; the first job that does not fit blocks the queue."""

    def build(trace: Trace) -> PolicyConfig:
        return PolicyConfig(
            scorer=make_scorer(scorer, trace.workload()),
            ordering=Ordering.FIFO,
            backfill=False,
            preemption=False,
        )

    return build


def replay_policies(scorer: str = "fgd") -> dict[str, PolicyFactory]:
    return {
        f"brain ({scorer})": brain_policy(scorer),
        "fifo + first-fit": fifo_policy("first-fit"),
        "fifo + best-fit": fifo_policy("best-fit"),
    }


@dataclass(slots=True)
class ReplayRun:
    policy: str
    jobs: int
    finished: int
    unplaceable: int
    mean_jct_s: float
    p95_jct_s: float
    mean_wait_s: float
    p95_wait_s: float
    cpu_utilisation: float
    gpu_utilisation: float
    jain_index: float
    """Time-averaged Jain's index of the backlogged tenants' dominant shares (see the module doc)."""
    contended_s: float
    """Simulated seconds during which at least two tenants had work queued."""
    decisions: int
    preemptions: int
    cycles: int
    decisions_per_s: float
    makespan_s: float
    wall_s: float
    tenant_mean_wait_s: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class ReplayResult:
    load: float
    compression: float
    window_s: float
    passes: int
    runs: list[ReplayRun] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def run(self, policy_prefix: str) -> ReplayRun:
        return next(r for r in self.runs if r.policy.startswith(policy_prefix))


PASS_LOAD = 0.6
"""The most load one pass of the trace is asked to offer; more is made by replaying it again."""


def _origin_and_span(trace: Trace) -> tuple[float, float]:
    """Start and length of the arrival period.

    Three quarters of the trace's span hold only ~20 of its 8,152 arrivals (long-running services that
    were already there): the period starts at the 1st percentile of creation times, and tasks created
    earlier arrive at its start, as if already queued when the replay begins.
    """
    created = np.array([t.creation for t in trace.tasks])
    origin = float(np.quantile(created, 0.01))
    return origin, max(float(created.max()) - origin, 1.0)


def offered_load(trace: Trace, window: float, passes: int = 1) -> float:
    """GPU load offered when `passes` copies of the trace arrive within `window` seconds."""
    gpu = np.array([t.bundle.gpu_total_milli for t in trace.tasks], dtype=np.float64)
    runtime = np.array([t.runtime for t in trace.tasks])
    return float(passes * (gpu * np.minimum(runtime, window)).sum() / (trace.gpu_capacity_milli * window))


def compression_for(trace: Trace, load: float) -> tuple[float, float, int]:
    """(compression factor, arrival window in s, passes) so that the offered GPU load is `load`."""
    if load <= 0:
        raise ValueError(f"load must be positive, got {load}")
    _, span = _origin_and_span(trace)
    # One pass offers at most its total GPU demand over capacity (everything at once); stay below that.
    at_once = sum(t.bundle.gpu_total_milli for t in trace.tasks) / max(trace.gpu_capacity_milli, 1)
    if at_once <= 0:
        raise ValueError("these tasks ask for no GPU (or the nodes have none): there is no GPU load to offer")
    per_pass = min(PASS_LOAD, 0.9 * at_once)
    passes = max(1, int(np.ceil(load / per_pass - 1e-9)))
    low, high = 1e-3, span
    if offered_load(trace, high, passes) >= load:
        return 1.0, span, passes  # the trace at its own pace already offers that much
    for _ in range(100):
        mid = (low * high) ** 0.5
        if offered_load(trace, mid, passes) > load:
            low = mid
        else:
            high = mid
    window = (low * high) ** 0.5
    return span / window, window, passes


def run_replay(
    trace: Trace,
    load: float = 1.0,
    policies: dict[str, PolicyFactory] | None = None,
    cycle_s: float = 1.0,
) -> ReplayResult:
    trace.require_times()
    policies = policies if policies is not None else replay_policies()
    factor, window, passes = compression_for(trace, load)
    result = ReplayResult(load=load, compression=factor, window_s=window, passes=passes)
    jobs = _arrivals(trace, factor, passes)
    for name, factory in policies.items():
        result.runs.append(_replay_one(trace, jobs, name, factory(trace), window, cycle_s))
    return result


def _arrivals(trace: Trace, factor: float, passes: int) -> list[Job]:
    origin, _ = _origin_and_span(trace)
    jobs = [
        Job(
            id=t.name if k == 0 else f"{t.name}/{k}",
            tenant=t.tenant,
            queue=t.tenant,
            bundles=(t.bundle,),
            priority=t.priority,
            submit_time=max(0.0, t.creation - origin) / factor,
            runtime=t.runtime,
        )
        for k in range(passes)
        for t in trace.tasks
    ]
    jobs.sort(key=lambda j: j.submit_time)  # stable: trace order, then pass
    return jobs


def _replay_one(
    trace: Trace, jobs: list[Job], name: str, config: PolicyConfig, window: float, cycle_s: float
) -> ReplayRun:
    started = time.perf_counter()
    state = ClusterState(trace.pools, trace.nodes, QueueTree.flat(CITIES))
    cap = state.capacity
    cpu_total = float(cap.cpu.sum())
    gpu_total = float(cap.gpu_count.sum() * GPU_MILLI)
    by_id = {j.id: j for j in jobs}
    tenants = {c: i for i, c in enumerate(CITIES)}
    queued = np.zeros(len(CITIES), dtype=np.int64)
    total = np.maximum(state.total, 1.0)
    fair_area = contended = 0.0
    fairness_now: float | None = None  # Jain's index of the backlogged tenants; None: no contention
    start_at: dict[str, float] = {}
    end_at: dict[str, float] = {}
    finishing: list[tuple[float, str]] = []
    next_arrival = 0
    decisions = preemptions = cycles = unplaceable = 0
    policy_s = 0.0
    cpu_area = gpu_area = 0.0
    cpu_used = gpu_used = 0.0
    now = 0.0
    while next_arrival < len(jobs) or finishing:
        upcoming = jobs[next_arrival].submit_time if next_arrival < len(jobs) else np.inf
        soonest = finishing[0][0] if finishing else np.inf
        then = float(np.ceil(min(upcoming, soonest) / cycle_s - 1e-9) * cycle_s)
        counted = max(0.0, min(then, window) - now)
        cpu_area += cpu_used * counted
        gpu_area += gpu_used * counted
        if fairness_now is not None:
            fair_area += fairness_now * (then - now)
            contended += then - now
        now = then
        state.now = now
        while finishing and finishing[0][0] <= now:
            ends, job_id = heapq.heappop(finishing)
            if job_id in state.running and end_at.get(job_id) == ends:
                done = state.finish(job_id)
                cpu_used -= done.demand.cpu_milli
                gpu_used -= done.demand.gpu_milli
        while next_arrival < len(jobs) and jobs[next_arrival].submit_time <= now:
            try:
                state.submit(jobs[next_arrival])
                queued[tenants[jobs[next_arrival].tenant]] += 1
            except ResourcesImpossible:
                unplaceable += 1  # too big for every node of this cluster: refused, never queued
            next_arrival += 1
        if not state.pending:
            fairness_now = None
            continue
        tick = time.perf_counter()
        made = schedule(state, config)
        policy_s += time.perf_counter() - tick
        cycles += 1
        decisions += len(made)
        for decision in made:
            state.apply(decision)
            job = by_id[decision.job_id]
            if isinstance(decision, Admit):
                queued[tenants[job.tenant]] -= 1
                start_at[job.id] = now
                end_at[job.id] = now + (job.runtime or 0.0)
                heapq.heappush(finishing, (end_at[job.id], job.id))
                cpu_used += job.demand.cpu_milli
                gpu_used += job.demand.gpu_milli
            elif isinstance(decision, Preempt):
                preemptions += 1
                queued[tenants[job.tenant]] += 1
                end_at.pop(job.id, None)
                cpu_used -= job.demand.cpu_milli
                gpu_used -= job.demand.gpu_milli
        fairness_now = _backlogged_fairness(state, queued, total)
    finished = [j for j in jobs if j.id in end_at]
    waits = np.array([start_at[j.id] - j.submit_time for j in finished])
    jcts = np.array([end_at[j.id] - j.submit_time for j in finished])
    tenant_waits: dict[str, list[float]] = {c: [] for c in CITIES}
    for job, wait in zip(finished, waits, strict=True):
        tenant_waits[job.tenant].append(float(wait))
    makespan = max(now, 1e-9)
    return ReplayRun(
        policy=name,
        jobs=len(jobs),
        finished=len(finished),
        unplaceable=unplaceable,
        mean_jct_s=float(jcts.mean()) if jcts.size else 0.0,
        p95_jct_s=float(np.percentile(jcts, 95)) if jcts.size else 0.0,
        mean_wait_s=float(waits.mean()) if waits.size else 0.0,
        p95_wait_s=float(np.percentile(waits, 95)) if waits.size else 0.0,
        cpu_utilisation=cpu_area / (cpu_total * window),
        gpu_utilisation=gpu_area / (gpu_total * window),
        jain_index=fair_area / contended if contended else 1.0,
        contended_s=contended,
        decisions=decisions,
        preemptions=preemptions,
        cycles=cycles,
        decisions_per_s=decisions / policy_s if policy_s else 0.0,
        makespan_s=makespan,
        wall_s=time.perf_counter() - started,
        tenant_mean_wait_s={t: float(np.mean(v)) if v else 0.0 for t, v in tenant_waits.items()},
    )


def _backlogged_fairness(state: ClusterState, queued: np.ndarray, total: np.ndarray) -> float | None:
    """Jain's index of the dominant shares of the tenants with work queued; None below two of them."""
    backlogged = [CITIES[i] for i in np.flatnonzero(queued > 0)]
    if len(backlogged) < 2:
        return None
    shares = [float((state.usage[t] / total).max()) for t in backlogged]
    return jain_index(shares) if any(shares) else 1.0
