"""One scheduling cycle: order the pending jobs, check quotas, place, preempt, reserve.

`schedule` is pure: it reads the `ClusterState`, works on copies, and returns decisions. The caller
applies them (`ClusterState.apply`) and requeues preempted jobs, which `apply` does for it.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict

import numpy as np

from scheduler.model import Admit, BundlePlacement, Decision, Job, Preempt
from scheduler.policy._placement import Placer, Releases
from scheduler.policy._quota import QuotaBook
from scheduler.policy.config import Ordering, PolicyConfig
from scheduler.policy.scorers.fgd import WHOLE_NODE_GPUS
from scheduler.state import ClusterState, RunningJob


def _demand(job: Job) -> np.ndarray:
    return np.array(job.demand.as_tuple(), dtype=np.float64)


class _Cycle:
    """The scratch state of one cycle."""

    def __init__(self, state: ClusterState, config: PolicyConfig) -> None:
        self.state = state
        self.config = config
        self.placer = Placer(state.capacity, state.alloc.copy(), config.scorer)
        self.quota = QuotaBook(state.queues, state.usage)
        self.total = np.maximum(state.total, 1.0)
        self.decisions: list[Decision] = []
        self.admitted = 0
        self.failed_keys: set[tuple[object, ...]] = set()
        self.victims: set[str] = set()
        self.reservations = 0
        self._lowest: dict[str, int | None] = {}
        self._borrowing: bool | None = None
        self._releases: Releases | None = None
        tree = state.queues
        weights = sum(tree.queues[leaf].weight for leaf in tree.leaves)
        self.fair_share = {leaf: tree.queues[leaf].weight / weights for leaf in tree.leaves}
        self.weight = {leaf: tree.queues[leaf].weight for leaf in tree.leaves}

    def lowest_running_priority(self, queue: str) -> int | None:
        if queue not in self._lowest:
            running = self.state.running_by_queue[queue]
            self._lowest[queue] = min((r.job.priority for r in running.values()), default=None)
        return self._lowest[queue]

    def anyone_borrowing(self) -> bool:
        if self._borrowing is None:
            leaves = self.state.queues.leaves
            self._borrowing = any(self.state.running_by_queue[q] and self.quota.borrowing(q) for q in leaves)
        return self._borrowing

    def done(self) -> bool:
        limit = self.config.max_admissions
        return limit is not None and self.admitted >= limit

    def share(self, queue: str) -> float:
        """Dominant share of a tenant's queue: its largest fraction of any resource of the cluster."""
        return float((self.quota.usage[queue] / self.total).max())

    def over_share(self, queue: str) -> bool:
        """Whether the tenant holds more than its weighted fair share of its dominant resource."""
        return self.share(queue) > self.fair_share[queue] * (1.0 + self.config.fair_share_slack) + 1e-12

    def rank(self, queue: str, job: Job) -> tuple[bool, bool, float, float, str]:
        """Order of queues inside a priority band (smallest first): see `schedule`."""
        borrows = not self.quota.within_guarantee(queue, _demand(job))
        drf = self.share(queue) / self.weight[queue]
        return (borrows, self.over_share(queue), drf, job.submit_time, job.id)

    def try_admit(self, job: Job) -> bool:
        """Admit the job if quota and nodes allow, else try preemption, else maybe reserve a node."""
        key = self.state.pending_keys[job.id]
        waited = self.state.now - job.submit_time
        aged = waited >= self.config.reserve_after_s and self.reservations < self.config.max_reservations
        if key in self.failed_keys and not self.config.preemption and not aged:
            return False  # the common case in a full cluster: settled without touching quotas or nodes
        demand = _demand(job)
        quota_ok = self.quota.fits(job.queue, demand)
        if quota_ok and key not in self.failed_keys:
            placements = self.placer.place(job)
            if placements is not None:
                self._admit(job, placements, demand)
                return True
            self.failed_keys.add(key)
        if self.config.preemption and _may_preempt(self, job) and self._preempt_for(job, demand):
            return True
        if quota_ok and aged and job.id not in self.placer.reserved:
            self.placer.reserve_for(job, self.releases())
            self.reservations += 1
        return False

    def serve_aged(self, jobs: list[Job]) -> set[str]:
        """Before anyone else: start the jobs that waited `reserve_after_s` if they fit, else reserve
        each a node (up to `max_reservations`). Returns the ids admitted.

        Done first, and so again at every cycle, the reservation holds across cycles although the policy
        keeps no state: a node reserved inside the ordinary order could be taken again, at the next
        cycle, by work ranked before the starving job, and would never drain (big gangs waited as long
        with reservations as without).
        """
        config, now = self.config, self.state.now
        aged = [j for j in jobs if now - j.submit_time >= config.reserve_after_s]
        aged.sort(key=lambda j: (-_effective_priority(j, now, config), j.submit_time, j.id))
        admitted: set[str] = set()
        for job in aged[: config.max_reservations]:
            if self.done():
                break
            demand = _demand(job)
            if not self.quota.fits(job.queue, demand):
                continue
            placements = self.placer.place(job)
            if placements is not None:
                self._admit(job, placements, demand)
                admitted.add(job.id)
            elif self.reservations < config.max_reservations:
                self.placer.reserve_for(job, self.releases())
                self.reservations += 1
        return admitted

    def plan_drains(self) -> None:
        """Keep `drain_nodes` nodes draining for each whole-node shape of the workload.

        A job of 4 or 8 GPUs needs a node that no other job holds, and a busy cluster seldom has one:
        it waits until one empties (600 s and more on the Alibaba replay, against under a second for
        everyone else). So, before such a job arrives, the nodes of its size expected to empty first
        (their running jobs' starts plus run times; an empty node first of all) take only work that ends
        before they do, and other work only when it fits nowhere else. The policy keeps no state: the
        nodes are chosen again at every cycle, and they stay the same while nothing ends sooner.
        """
        keep = self.config.drain_nodes
        shapes = self.config.scorer.whole_node_shapes() if keep else ()
        if not shapes:
            return
        cap, now = self.state.capacity, self.state.now
        # One pass over the running jobs a cycle, on a plain list of floats: numpy scalar updates per job
        # cost several times more, and this runs at every cycle.
        latest = [now] * cap.size
        for run in self.state.running.values():
            ends = run.start_time + run.job.runtime if run.job.runtime is not None else np.inf
            for placement in run.placements:
                if ends > latest[placement.node]:
                    latest[placement.node] = ends
        empty_at = np.array(latest, dtype=np.float64)
        until = np.full(cap.size, np.inf)
        below = np.zeros(cap.size, dtype=np.int64)
        usable = ~cap.pool_cordoned[cap.node_pool] & np.isfinite(empty_at)
        for shape in shapes:
            fits = (
                (cap.gpu_count == shape.gpu) & (cap.cpu >= shape.cpu_milli) & (cap.memory >= shape.memory_mib)
            )
            if shape.gpu_types is not None:
                fits &= cap.type_mask(shape.gpu_types)
            # A shape that finds `keep` drains among its nodes (kept for a smaller shape of its size)
            # shares them; one that finds fewer gets `keep` of its own: topping up to `keep` (one more
            # node for the 88-core 8-GPU shape, say) left cpu050 @ 1.0 at Jain 0.99581 against 0.99737.
            if int(np.isfinite(until[fits]).sum()) >= keep:
                continue
            nodes = np.flatnonzero(fits & usable & ~np.isfinite(until))
            if not nodes.size:
                continue
            chosen = nodes[np.argsort(empty_at[nodes], kind="stable")[:keep]]
            until[chosen] = empty_at[chosen]
            below[chosen] = shape.gpu
        if np.isfinite(until).any():
            self.placer.drain_until, self.placer.drain_below, self.placer.now = until, below, now

    def releases(self) -> Releases:
        """Per node, what each job there holds and when it is expected to end: jobs running (but not
        those being preempted) and those admitted so far this cycle. Taken only when a job needs a
        reservation, and kept until the next admission."""
        if self._releases is None:
            now = self.state.now
            found: Releases = defaultdict(list)

            def add(job: Job, start: float, placements: tuple[BundlePlacement, ...]) -> None:
                end = start + job.runtime if job.runtime is not None else np.inf
                for bundle, placement in zip(job.bundles, placements, strict=True):
                    found[placement.node].append((end, bundle, placement))

            for run in self.state.running.values():
                if run.job.id not in self.victims:
                    add(run.job, run.start_time, run.placements)
            for decision in self.decisions:
                if isinstance(decision, Admit):
                    add(self.state.pending[decision.job_id], now, decision.placements)
            self._releases = found
        return self._releases

    def _admit(self, job: Job, placements: tuple[BundlePlacement, ...], demand: np.ndarray) -> None:
        self.quota.charge(job.queue, demand)
        self.decisions.append(Admit(job.id, placements))
        self.admitted += 1
        self._releases = None  # it holds something now

    def _victim_order(self, job: Job, demand: np.ndarray) -> list[RunningJob]:
        """Whom to evict, in order: borrowers (if the job is within its guarantee), then lower priority.

        Borrowed capacity is reclaimed first; lower-priority jobs are only taken from the job's own queue.
        """
        quota = self.quota
        borrowers: list[RunningJob] = []
        lower: list[RunningJob] = []
        by_queue = self.state.running_by_queue
        if quota.within_guarantee(job.queue, demand):
            for other in self.state.queues.leaves:
                if other != job.queue and by_queue[other] and quota.borrowing(other):
                    borrowers += [r for r in by_queue[other].values() if r.job.priority <= job.priority]
        lower = [r for r in by_queue[job.queue].values() if r.job.priority < job.priority]
        borrowers = [r for r in borrowers if r.job.id not in self.victims]
        lower = [r for r in lower if r.job.id not in self.victims]

        # Least priority, then most recently started: the least work is lost.
        def order(run: RunningJob) -> tuple[int, float, str]:
            return (run.job.priority, -run.start_time, run.job.id)

        return (sorted(borrowers, key=order) + sorted(lower, key=order))[: self.config.max_victims]

    def _preempt_for(self, job: Job, demand: np.ndarray) -> bool:
        candidates = self._victim_order(job, demand)
        if not candidates:
            return False
        placer, quota = self.placer, self.quota
        removed: list[RunningJob] = []
        placements = None
        for run in candidates:
            placer.undo(run.job, run.placements)
            quota.charge(run.job.queue, -_demand(run.job))
            removed.append(run)
            if quota.fits(job.queue, demand):
                placements = placer.place(job)
                if placements is not None:
                    break
        if placements is None:
            for run in reversed(removed):  # nothing gained: put everything back
                placer.redo(run.job, run.placements)
                quota.charge(run.job.queue, _demand(run.job))
            return False
        # Keep every victim that fits back where it was: evict the fewest jobs needed. The job's own
        # placement is charged to the quota first so that kept victims cannot crowd it out.
        quota.charge(job.queue, demand)
        evicted: list[RunningJob] = []
        for run in reversed(removed):
            if placer.still_fits(run.job, run.placements) and quota.fits(run.job.queue, _demand(run.job)):
                placer.redo(run.job, run.placements)
                quota.charge(run.job.queue, _demand(run.job))
            else:
                evicted.append(run)
        quota.charge(job.queue, -demand)
        # Preemptions come before the admission they make room for: a caller applying decisions in
        # order stops the victims before it starts the new job.
        for run in evicted:
            self.victims.add(run.job.id)
            reason = "borrowed capacity reclaimed" if run.job.queue != job.queue else "higher priority job"
            self.decisions.append(Preempt(run.job.id, reason, for_job=job.id))
        self._admit(job, placements, demand)
        # Capacity moved around: earlier failures no longer prove anything.
        self.failed_keys.clear()
        return True


def _effective_priority(job: Job, now: float, config: PolicyConfig) -> int:
    boost = int(max(0.0, now - job.submit_time) // config.aging_step_s)
    return job.priority + min(boost, config.aging_max_boost)


def _may_preempt(cycle: _Cycle, job: Job) -> bool:
    """Whether evicting someone could help this job: cheap checks before the costly victim search.

    Both facts are taken once per cycle; they only screen, and the victim search re-checks for real.
    """
    queue = job.queue
    lowest = cycle.lowest_running_priority(queue)
    if lowest is not None and lowest < job.priority:
        return True
    return cycle.anyone_borrowing() and cycle.quota.within_guarantee(queue, _demand(job))


def _considered(cycle: _Cycle) -> list[Job]:
    """The pending jobs worth trying this cycle, oldest first.

    Jobs whose shape fits on no node right now are skipped as a group (without looking at each), except
    those that could preempt their way in and the first queued of each group once it is old enough to
    reserve a node. This keeps a cycle cheap when thousands of jobs wait for a full cluster.
    """
    state, config, placer = cycle.state, cycle.config, cycle.placer
    jobs: list[Job] = []
    for key, group in state.pending_by_key.items():
        first = next(iter(group.values()))
        fitting = [placer.candidates(first, b) for b in first.bundles]
        if all(nodes.size for nodes in fitting):
            if len(first.bundles) > 1 or len(group) == 1:
                jobs.extend(group.values())
                continue
            # No more of this group can start than the nodes have room for: each queue's first `room`.
            room = placer.slots(first, first.bundles[0], fitting[0])
            taken: dict[str, int] = defaultdict(int)
            for job in group.values():
                if taken[job.queue] < room:
                    taken[job.queue] += 1
                    jobs.append(job)
                elif config.preemption and _may_preempt(cycle, job):
                    jobs.append(job)
            continue
        cycle.failed_keys.add(key)
        if config.preemption:
            chosen = [j for j in group.values() if _may_preempt(cycle, j)]
            jobs.extend(chosen)
            if first in chosen:
                continue
        if state.now - first.submit_time >= config.reserve_after_s:
            jobs.append(first)
    jobs.sort(key=lambda j: (j.submit_time, j.id))
    return jobs


def schedule(state: ClusterState, config: PolicyConfig) -> list[Decision]:
    """Decide which pending jobs start where, and which running jobs make room for them.

    Many jobs are admitted per call: every pending job is considered once, in order, until the cluster
    is full (not one job per queue per cycle, the Kueue limitation of kueue #14477).
    """
    cycle = _Cycle(state, config)
    if config.ordering is Ordering.FIFO:
        for job in sorted(state.pending.values(), key=lambda j: j.submit_time):
            if cycle.done():
                break
            if not cycle.try_admit(job) and not config.backfill:
                break
        return cycle.decisions

    # A job is "settled" once its key failed, unless it may still preempt or reserve: settled jobs are
    # passed over without quota or node work.
    keys = state.pending_keys
    lasting = config.preemption

    def may_skip(job: Job) -> bool:
        return not lasting and state.now - job.submit_time < config.reserve_after_s

    # Bands of equal effective priority (aging lifts a waiting job into higher bands: nothing starves),
    # highest first. Inside a band: a queue whose next job stays within its guarantee goes first (it only
    # takes what it is owed); then tenants within their weighted fair share (with slack) before those
    # above it; and in each of these groups the lowest weighted dominant share first (DRF), so a tenant
    # holding nothing is not queued behind the older jobs of one holding much; equal shares, oldest job
    # first. Queues without guarantees (never borrowing) were ordered by age inside the slack, and the
    # replay's fairness fell below FIFO's at cpu050 (docs/architecture.md).
    bands: dict[int, dict[str, list[Job]]] = defaultdict(lambda: defaultdict(list))
    cycle.plan_drains()
    considered = _considered(cycle)
    served = cycle.serve_aged(considered)
    for job in considered:
        if job.id not in served:
            bands[_effective_priority(job, state.now, config)][job.queue].append(job)
    if config.shortest_first:
        for queues in bands.values():
            for jobs in queues.values():
                _shortest_small_first(jobs)
    failed = cycle.failed_keys
    for priority in sorted(bands, reverse=True):
        queues = bands[priority]
        cursor = dict.fromkeys(queues, 0)
        heap = [(*cycle.rank(queue, jobs[0]), queue) for queue, jobs in queues.items()]
        heapq.heapify(heap)
        while heap and not cycle.done():
            *_, queue = heapq.heappop(heap)
            jobs = queues[queue]
            i = cursor[queue]
            while i < len(jobs) and keys[jobs[i].id] in failed and may_skip(jobs[i]):
                i += 1
            if i == len(jobs):
                continue
            admitted = cycle.try_admit(jobs[i])
            cursor[queue] = i + 1
            if i + 1 < len(jobs) and (admitted or config.backfill):
                heapq.heappush(heap, (*cycle.rank(queue, jobs[i + 1]), queue))
    return cycle.decisions


def _shortest_small_first(jobs: list[Job]) -> None:
    """Reorder one queue's jobs in place: those of fewer than WHOLE_NODE_GPUS GPUs by expected run time
    rounded up to a power of two (then age; unknown run times last), in the places the small jobs held;
    whole-node jobs stay where age put them.

    Jobs of one shape that the nodes have room for only some of are chosen by age before this
    (`_considered`); choosing the shortest of them as well was measured and broke two fairness cells of
    the replay (gpuspec10 @ 1.0, cpu050 @ 1.2), so the order acts between shapes and where room allows.

    Why only small jobs: sorting every job by run time, gangs too, let a tenant's short jobs overtake its
    gang again and again; the replay's fairness then fell below FIFO's (cpu050 @ 1.2 rounded, default @
    1.0 exact; docs/architecture.md). Why rounded: within a factor of two age still decides, so a job is
    not passed over for one a few seconds shorter.
    """
    places = [i for i, job in enumerate(jobs) if _small(job)]
    if len(places) < 2:
        return
    ordered = sorted((jobs[i] for i in places), key=_runtime_class)
    for i, job in zip(places, ordered, strict=True):
        jobs[i] = job


def _small(job: Job) -> bool:
    return sum(b.gpu for b in job.bundles) < WHOLE_NODE_GPUS


def _runtime_class(job: Job) -> tuple[float, float, str]:
    if job.runtime is None:
        return (math.inf, job.submit_time, job.id)
    return (2.0 ** math.ceil(math.log2(max(job.runtime, 1.0))), job.submit_time, job.id)
