"""`fill`: the ATC'23 fragmentation experiment. Tasks arrive one by one and never leave.

Arrivals: the trace's tasks in a random (seeded) order, then tasks drawn at random from the trace until
the arrived GPU demand reaches `max_demand` × capacity, as the paper's Monte-Carlo experiment samples its
pod lists. A task that does not fit when it arrives is dropped and arrivals go on (the paper's curves
keep rising past 100%). The order is random, not the file's: a workload variant that appends the tasks
it adds (multigpu20 and multigpu30 put their multi-GPU tasks after the default trace's 8,152) would
otherwise show them only once the cluster is 98% full, and so test nothing of what it stresses.

At each step of arrived demand we record the share of GPU capacity allocated, the unallocated GPUs, and
the fragmented GPUs (FGD's measure against the trace's workload). At 100% we also pack, offline, the GPU
shares that had arrived and those each policy had placed (`scheduler.sim._packing`): how much room the
best packing of the same shares would still strand says how much of a policy's loss is placement's.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from scheduler.errors import ResourcesImpossible
from scheduler.model import GPU_MILLI, Admit, Job, QueueTree, Resources
from scheduler.policy import Ordering, PolicyConfig, make_scorer, schedule
from scheduler.policy.scorers.fgd import Fgd
from scheduler.sim._packing import Packing, pack
from scheduler.sim._trace import CITIES, Task, Trace
from scheduler.state import ClusterState

FILL_POLICIES: tuple[str, ...] = ("fgd", "best-fit", "first-fit", "dot-product")


@dataclass(slots=True)
class FillPoint:
    arrived_demand: float
    """Arrived GPU demand as a share of GPU capacity."""
    allocated_share: float
    unallocated_gpus: float
    fragmented_gpus: float


@dataclass(slots=True)
class FillCurve:
    policy: str
    points: list[FillPoint]
    tasks: int
    placed: int
    unplaceable: int
    """Tasks too big for every node of the cluster (possible on a slice of it)."""
    wall_s: float
    placed_shares: Packing | None = None
    """The GPU shares this policy had placed at 100% arrived demand, packed offline (None: not reached)."""

    def placement_loss_gpus(self) -> float | None:
        """Unallocated GPUs at 100% beyond the room the best packing of the shares this policy had placed
        would still leave: what a better placement of the same tasks could have won back (None: 100% was
        not reached)."""
        if self.placed_shares is None:
            return None
        return self.at(1.0).unallocated_gpus - self.placed_shares.least_room_milli / GPU_MILLI

    def at(self, demand: float) -> FillPoint:
        """The first recorded point at or past `demand`."""
        for point in self.points:
            if point.arrived_demand >= demand - 1e-9:
                return point
        return self.points[-1]


@dataclass(slots=True)
class FillResult:
    gpu_capacity: float
    nodes: int
    trace_tasks: int
    curves: list[FillCurve] = field(default_factory=list)
    arrived_shares: Packing | None = None
    """Every GPU share that had arrived at 100% arrived demand, packed offline (None: not reached)."""

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def ceiling(self) -> float | None:
        """The allocation at 100% arrived demand had every arrived share been placed as tightly as any
        packing can (whole-GPU work filling the rest); a reference, not a bound on online placement."""
        if self.arrived_shares is None:
            return None
        return 1.0 - self.arrived_shares.least_room_milli / (self.gpu_capacity * GPU_MILLI)


def arrivals(trace: Trace, max_demand: float, seed: int) -> list[Task]:
    """Every task once in a seeded random order, then seeded resampling until `max_demand` × GPU
    capacity has arrived."""
    capacity = trace.gpu_capacity_milli
    rng = np.random.default_rng(seed)
    order = [trace.tasks[int(i)] for i in rng.permutation(len(trace.tasks))]
    demand = sum(t.bundle.gpu_total_milli for t in order)
    gpu_tasks = [t for t in trace.tasks if t.bundle.gpu]
    while demand < max_demand * capacity and gpu_tasks:
        task = trace.tasks[int(rng.integers(len(trace.tasks)))]
        order.append(Task(f"{task.name}-r{len(order)}", task.bundle, task.priority, task.tenant, 0.0, 0.0))
        demand += task.bundle.gpu_total_milli
    return order


def run_fill(
    trace: Trace,
    policies: tuple[str, ...] = FILL_POLICIES,
    max_demand: float = 1.3,
    step: float = 0.05,
    seed: int = 2023,
) -> FillResult:
    workload = trace.workload()
    capacity = trace.gpu_capacity_milli
    tasks = arrivals(trace, max_demand, seed)
    measure = Fgd(workload)
    result = FillResult(
        gpu_capacity=capacity / GPU_MILLI, nodes=len(trace.nodes), trace_tasks=len(trace.tasks)
    )
    for name in policies:
        state = ClusterState(trace.pools, trace.nodes, QueueTree.flat(CITIES))
        config = PolicyConfig(scorer=make_scorer(name, workload), ordering=Ordering.FIFO, preemption=False)
        points: list[FillPoint] = []
        next_mark = step
        arrived = 0
        placed = unplaceable = 0
        arrived_shares: list[int] = []
        placed_shares: list[int] | None = None
        started = time.perf_counter()
        for i, task in enumerate(tasks):
            job = Job(id=f"{task.name}#{i}", tenant=task.tenant, queue=task.tenant, bundles=(task.bundle,))
            try:
                state.submit(job)
            except ResourcesImpossible:
                unplaceable += 1  # fits on no node of this cluster at all: never arrives
                continue
            for decision in schedule(state, config):
                state.apply(decision)
                placed += isinstance(decision, Admit)
            if job.id in state.pending:
                state.cancel(job.id)  # did not fit: dropped, as in the paper
            if placed_shares is None:
                arrived_shares.extend(_shares(task.bundle))
            arrived += task.bundle.gpu_total_milli
            if placed_shares is None and arrived >= capacity - 1e-6:
                placed_shares = _placed_shares(state)
            while arrived >= next_mark * capacity - 1e-6:
                points.append(_point(state, measure, next_mark, capacity))
                next_mark = round(next_mark + step, 10)
        wall = time.perf_counter() - started  # the packings below are a report, not the policy's time
        if placed_shares is not None and result.arrived_shares is None:
            result.arrived_shares = pack(arrived_shares)  # the same arrivals for every policy
        result.curves.append(
            FillCurve(
                name,
                points,
                tasks=len(tasks),
                placed=placed,
                unplaceable=unplaceable,
                wall_s=wall,
                placed_shares=pack(placed_shares) if placed_shares is not None else None,
            )
        )
    return result


def _shares(bundle: Resources) -> list[int]:
    """The GPU shares (below one whole GPU) a bundle asks for: one per GPU it takes a share of."""
    return [bundle.gpu_milli] * bundle.gpu if bundle.gpu and bundle.gpu_milli < GPU_MILLI else []


def _placed_shares(state: ClusterState) -> list[int]:
    return [s for run in state.running.values() for b in run.job.bundles for s in _shares(b)]


def _point(state: ClusterState, measure: Fgd, demand: float, capacity: int) -> FillPoint:
    alloc = state.alloc
    free = float(alloc.gpu_free.sum())
    frag = measure.fragmented_gpus(state.capacity, alloc)
    return FillPoint(
        arrived_demand=demand,
        allocated_share=1.0 - free / capacity,
        unallocated_gpus=free / GPU_MILLI,
        fragmented_gpus=float(frag) / GPU_MILLI,
    )
