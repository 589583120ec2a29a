"""The cluster as the policy sees it: topology, allocation, queues, running and pending jobs.

Node-level numbers live in numpy arrays, one entry per node, so that the policy can filter and score
all nodes of all pools at once. `ClusterState` is the caller's record (the live loop's or the
simulator's); the policy only reads it and works on a copy of the `Allocation`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from scheduler.errors import ResourcesImpossible, UnknownPool, UnknownQueue, UnknownRegion, UnknownTenant
from scheduler.model import (
    GPU_MILLI,
    Admit,
    Amount,
    BundlePlacement,
    Decision,
    GangStrategy,
    Job,
    Node,
    Pool,
    Preempt,
    QueueTree,
    Resources,
    city_id,
    common_gpu_types,
)

# Versions are drawn from one counter shared by every Allocation, copies included, so that a version
# number names exactly one node content: scorers may cache per-node results by version.
_VERSIONS = itertools.count(1)


@dataclass(slots=True)
class Capacity:
    """The static side of the cluster: what each node has and which pool it belongs to."""

    node_ids: list[str]
    node_pool: np.ndarray  # int32[N], index into pools
    cpu: np.ndarray  # int64[N] millicores
    memory: np.ndarray  # int64[N] MiB
    gpu_count: np.ndarray  # int32[N]
    gpu_exists: np.ndarray  # bool[N, G]
    gpu_type: np.ndarray  # int32[N], index into gpu_types, -1 for none
    gpu_types: list[str]
    pools: list[Pool]
    pool_cordoned: np.ndarray  # bool[P]
    pool_price: np.ndarray  # float64[P]
    pool_carbon: np.ndarray  # float64[P]

    @property
    def size(self) -> int:
        return len(self.node_ids)

    def type_mask(self, types: frozenset[str]) -> np.ndarray:
        """bool[N]: the nodes whose GPU type is one of `types` (types no node has match nothing)."""
        wanted = [self.gpu_types.index(t) for t in types if t in self.gpu_types]
        return np.isin(self.gpu_type, np.array(wanted, dtype=np.int32))

    def total(self) -> np.ndarray:
        """Capacity of the non-cordoned pools as (cpu, memory, gpu milli), float64."""
        live = ~self.pool_cordoned[self.node_pool]
        return np.array(
            [
                self.cpu[live].sum(),
                self.memory[live].sum(),
                self.gpu_count[live].sum() * GPU_MILLI,
            ],
            dtype=np.float64,
        )


@dataclass(slots=True)
class Allocation:
    """The dynamic side: what is free on each node. Copy it to try placements without committing."""

    cpu_free: np.ndarray  # int64[N]
    memory_free: np.ndarray  # int64[N]
    gpu_free: np.ndarray  # int32[N, G] milli; 0 for GPUs a node does not have
    version: np.ndarray  # int64[N]
    max_gpu_free: np.ndarray = field(init=False)
    """int32[N]: the most room on any one GPU of the node (filters a shared-GPU bundle at a glance)."""
    whole_gpus_free: np.ndarray = field(init=False)
    """int64[N]: how many GPUs of the node are wholly free (filters a whole-GPU bundle)."""

    def __post_init__(self) -> None:
        self.max_gpu_free = self.gpu_free.max(axis=1)
        self.whole_gpus_free = (self.gpu_free == GPU_MILLI).sum(axis=1)

    def copy(self) -> Allocation:
        clone = Allocation.__new__(Allocation)
        clone.cpu_free = self.cpu_free.copy()
        clone.memory_free = self.memory_free.copy()
        clone.gpu_free = self.gpu_free.copy()
        clone.version = self.version.copy()
        clone.max_gpu_free = self.max_gpu_free.copy()
        clone.whole_gpus_free = self.whole_gpus_free.copy()
        return clone

    def take(self, bundle: Resources, placement: BundlePlacement) -> None:
        self._add(bundle, placement, -1)

    def give_back(self, bundle: Resources, placement: BundlePlacement) -> None:
        self._add(bundle, placement, +1)

    def _add(self, bundle: Resources, placement: BundlePlacement, sign: int) -> None:
        n = placement.node
        self.cpu_free[n] += sign * bundle.cpu_milli
        self.memory_free[n] += sign * bundle.memory_mib
        for gpu in placement.gpus:
            self.gpu_free[n, gpu] += sign * placement.gpu_milli
        if placement.gpus:
            free = self.gpu_free[n]
            self.max_gpu_free[n] = free.max()
            self.whole_gpus_free[n] = int((free == GPU_MILLI).sum())
        self.version[n] = next(_VERSIONS)


@dataclass(frozen=True, slots=True)
class RunningJob:
    job: Job
    placements: tuple[BundlePlacement, ...]
    start_time: float


def job_key(job: Job) -> tuple[object, ...]:
    """Jobs with equal keys fit on exactly the same nodes: one capacity failure per key and cycle suffices."""
    regions = tuple(sorted(job.allowed_regions)) if job.allowed_regions is not None else None
    pools = tuple(sorted(job.pools)) if job.pools is not None else None
    return (tuple(b.shape for b in job.bundles), job.strategy, regions, pools)


def _of_types(bundle: Resources) -> str:
    return f" of type {'|'.join(sorted(bundle.gpu_types))}" if bundle.gpu_types is not None else ""


class ClusterState:
    """Pools, nodes, queues, usage, running and pending jobs, and the current time."""

    def __init__(
        self, pools: Sequence[Pool], nodes: Sequence[Node], queues: QueueTree, now: float = 0.0
    ) -> None:
        if not pools:
            raise ResourcesImpossible("the cluster has no pools", "register at least one pool")
        self.queues = queues
        self.now = now
        pool_index = {pool.name: i for i, pool in enumerate(pools)}
        gpu_types = sorted({n.gpu_type for n in nodes if n.gpu_type})
        type_index = {t: i for i, t in enumerate(gpu_types)}
        width = max([n.gpu_count for n in nodes] + [1])
        count = len(nodes)
        gpu_exists = np.zeros((count, width), dtype=bool)
        gpu_free = np.zeros((count, width), dtype=np.int32)
        for i, node in enumerate(nodes):
            if node.pool not in pool_index:
                raise UnknownPool(node.pool)
            gpu_exists[i, : node.gpu_count] = True
            gpu_free[i, : node.gpu_count] = [GPU_MILLI - used for used in node.gpu_used_milli]
        self.capacity = Capacity(
            node_ids=[n.id for n in nodes],
            node_pool=np.array([pool_index[n.pool] for n in nodes], dtype=np.int32),
            cpu=np.array([n.cpu_milli for n in nodes], dtype=np.int64),
            memory=np.array([n.memory_mib for n in nodes], dtype=np.int64),
            gpu_count=np.array([n.gpu_count for n in nodes], dtype=np.int32),
            gpu_exists=gpu_exists,
            gpu_type=np.array([type_index[n.gpu_type] if n.gpu_type else -1 for n in nodes], dtype=np.int32),
            gpu_types=gpu_types,
            pools=list(pools),
            pool_cordoned=np.array([p.cordoned for p in pools], dtype=bool),
            pool_price=np.array([p.price_per_gpu_hour for p in pools], dtype=np.float64),
            pool_carbon=np.array([p.carbon_g_per_kwh for p in pools], dtype=np.float64),
        )
        self.alloc = Allocation(
            cpu_free=np.array([n.cpu_milli - n.cpu_used for n in nodes], dtype=np.int64),
            memory_free=np.array([n.memory_mib - n.memory_used for n in nodes], dtype=np.int64),
            gpu_free=gpu_free,
            version=np.array([next(_VERSIONS) for _ in nodes], dtype=np.int64),
        )
        self.pool_index = pool_index
        self.total = self.capacity.total()
        """Capacity of the pools taking work, (cpu, memory, gpu milli): the denominator of shares."""
        self.usage: dict[str, np.ndarray] = {q: np.zeros(3, dtype=np.float64) for q in queues.queues}
        self.running: dict[str, RunningJob] = {}
        self.running_by_queue: dict[str, dict[str, RunningJob]] = {q: {} for q in queues.queues}
        self.pending: dict[str, Job] = {}
        self.pending_keys: dict[str, tuple[object, ...]] = {}
        self.pending_by_key: dict[tuple[object, ...], dict[str, Job]] = {}
        """Pending jobs grouped by `job_key`: the policy skips whole groups that cannot fit anywhere now."""
        self.regions = {p.zone for p in pools} | {p.city for p in pools}

    # --- changes the caller makes -------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """Validate a job against the topology and queue it."""
        self.validate(job)
        self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        key = job_key(job)
        self.pending[job.id] = job
        self.pending_keys[job.id] = key
        self.pending_by_key.setdefault(key, {})[job.id] = job

    def _dequeue(self, job_id: str) -> Job:
        job = self.pending.pop(job_id)
        key = self.pending_keys.pop(job_id)
        group = self.pending_by_key[key]
        del group[job_id]
        if not group:
            del self.pending_by_key[key]
        return job

    def apply(self, decision: Decision) -> None:
        """Commit a decision of the policy."""
        if isinstance(decision, Admit):
            job = self._dequeue(decision.job_id)
            for bundle, placement in zip(job.bundles, decision.placements, strict=True):
                self.alloc.take(bundle, placement)
            self._charge(job, +1)
            run = RunningJob(job, decision.placements, self.now)
            self.running[job.id] = run
            self.running_by_queue[job.queue][job.id] = run
        elif isinstance(decision, Preempt):
            job = self.finish(decision.job_id)
            self._enqueue(job)  # back in its queue with its original submit time

    def restore(self, job: Job, placements: tuple[BundlePlacement, ...], start_time: float) -> None:
        """Record a job that already runs (the live loop rebuilding its state from the database)."""
        for bundle, placement in zip(job.bundles, placements, strict=True):
            self.alloc.take(bundle, placement)
        self._charge(job, +1)
        run = RunningJob(job, placements, start_time)
        self.running[job.id] = run
        self.running_by_queue[job.queue][job.id] = run

    def finish(self, job_id: str) -> Job:
        """A running job ended (or was stopped): free its resources."""
        run = self.running.pop(job_id)
        del self.running_by_queue[run.job.queue][job_id]
        for bundle, placement in zip(run.job.bundles, run.placements, strict=True):
            self.alloc.give_back(bundle, placement)
        self._charge(run.job, -1)
        return run.job

    def cancel(self, job_id: str) -> Job:
        if job_id in self.pending:
            return self._dequeue(job_id)
        return self.finish(job_id)

    def cordon(self, pool: str, cordoned: bool = True) -> None:
        if pool not in self.pool_index:
            raise UnknownPool(pool)
        self.capacity.pool_cordoned[self.pool_index[pool]] = cordoned
        self.total = self.capacity.total()

    def _charge(self, job: Job, sign: int) -> None:
        demand = np.array(job.demand.as_tuple(), dtype=np.float64) * sign
        for queue in self.queues.paths[job.queue]:
            self.usage[queue] += demand

    # --- reading ------------------------------------------------------------------------------------

    def node(self, index: int) -> Node:
        """A dataclass view of one node."""
        cap = self.capacity
        count = int(cap.gpu_count[index])
        return Node(
            id=cap.node_ids[index],
            pool=cap.pools[int(cap.node_pool[index])].name,
            cpu_milli=int(cap.cpu[index]),
            memory_mib=int(cap.memory[index]),
            gpu_count=count,
            gpu_type=cap.gpu_types[cap.gpu_type[index]] if cap.gpu_type[index] >= 0 else None,
            cpu_used=int(cap.cpu[index] - self.alloc.cpu_free[index]),
            memory_used=int(cap.memory[index] - self.alloc.memory_free[index]),
            gpu_used_milli=[GPU_MILLI - int(f) for f in self.alloc.gpu_free[index, :count]],
        )

    def validate(self, job: Job) -> None:
        """Raise a clear error for a job that names unknown things or can never fit anywhere."""
        if job.tenant not in self.queues.tenant_queue:
            raise UnknownTenant(job.tenant)
        if job.queue not in self.queues.queues:
            raise UnknownQueue(job.queue)
        if self.queues.tenant_queue[job.tenant] != job.queue:
            raise UnknownQueue(
                f"{job.queue} (tenant {job.tenant} submits to {self.queues.tenant_queue[job.tenant]})"
            )
        if job.allowed_regions is not None:
            for region in job.allowed_regions:
                if region not in self.regions and city_id(region) not in self.regions:
                    raise UnknownRegion(region, self.regions)
        cap = self.capacity
        bundles: Iterable[Resources] = job.bundles
        if job.strategy is GangStrategy.STRICT_PACK and len(job.bundles) > 1:
            # The gang's one node must hold the sum, and be of a GPU type every bundle accepts.
            types = common_gpu_types(job.bundles)
            if types is not None and not types:
                named = ", ".join("|".join(sorted(b.gpu_types)) for b in job.bundles if b.gpu_types)
                raise ResourcesImpossible(
                    f"job {job.id}: the bundles of a single-node gang (STRICT_PACK) accept no GPU type "
                    f"in common ({named})",
                    "let the bundles accept a common GPU type, or use the PACK strategy",
                )
            whole = sum(b.gpu for b in job.bundles if b.gpu_milli == GPU_MILLI)
            shared = sum(1 for b in job.bundles if b.gpu and b.gpu_milli < GPU_MILLI)
            bundles = [
                Resources(
                    cpu_milli=sum(b.cpu_milli for b in job.bundles),
                    memory_mib=sum(b.memory_mib for b in job.bundles),
                    gpu=whole + shared,
                    gpu_types=types,
                )
            ]
        for bundle in bundles:
            fits = (cap.cpu >= bundle.cpu_milli) & (cap.memory >= bundle.memory_mib)
            fits &= cap.gpu_count >= bundle.gpu
            if bundle.gpu_types is not None:
                if not bundle.gpu_types & set(cap.gpu_types):
                    raise ResourcesImpossible(
                        f"no pool has GPUs of type {'|'.join(sorted(bundle.gpu_types))}",
                        f"use one of {cap.gpu_types} or leave gpu_type empty",
                    )
                fits &= cap.type_mask(bundle.gpu_types)
            if not fits.any():
                biggest = int(np.argmax(cap.gpu_count * 10**9 + cap.cpu))
                raise ResourcesImpossible(
                    f"job {job.id}: a bundle of {bundle.cpu_milli} mCPU, {bundle.memory_mib} MiB, "
                    f"{bundle.gpu} GPU{_of_types(bundle)} fits on no node "
                    f"(largest: {int(cap.cpu[biggest])} mCPU, {int(cap.memory[biggest])} MiB, "
                    f"{int(cap.gpu_count[biggest])} GPU)",
                    "split the job into smaller bundles of a gang, or ask for less",
                )

    def queue_usage(self, queue: str) -> Amount:
        cpu, mem, gpu = (int(x) for x in self.usage[queue])
        return Amount(cpu, mem, gpu)
