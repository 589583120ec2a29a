"""Filter and score nodes for a job's bundles; all bundles placed or none."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scheduler.model import BundlePlacement, GangStrategy, Job, Resources
from scheduler.policy.scorers.base import Scorer
from scheduler.state import Allocation, Capacity

# Gang strategies steer later bundles towards (PACK) or away from (SPREAD) the nodes the gang already
# uses; the bias dwarfs any scorer's range so it decides first and the scorer breaks ties.
_GANG_BIAS = 1e12

Held = tuple[float, Resources, BundlePlacement]
"""What one bundle of a running job holds on a node, and when the job is expected to end (inf: unknown)."""
Releases = dict[int, list[Held]]
"""Per node, the bundles held there (see `Held`)."""


class Placer:
    """Places jobs onto a scratch allocation. Owns that allocation for the length of one cycle."""

    def __init__(self, cap: Capacity, alloc: Allocation, scorer: Scorer) -> None:
        self.cap = cap
        self.alloc = alloc
        self.scorer = scorer
        self.blocked = np.zeros(cap.size, dtype=bool)
        """Nodes reserved this cycle for a starving job: nobody else lands there."""
        self.reserved: dict[str, int] = {}
        """Job id -> the node reserved for it (open to that job only)."""
        self._static: dict[tuple[object, ...], np.ndarray] = {}
        self.drain_until: np.ndarray | None = None
        """float64[N]: for a node kept draining, when it is expected to be empty; inf for the others."""
        self.drain_below: np.ndarray | None = None
        """int64[N]: on a draining node, bundles of fewer GPUs than this are held to `drain_until`."""
        self.now = 0.0

    def static_mask(self, job: Job, bundle: Resources) -> np.ndarray:
        """Nodes the bundle may ever use: pool not cordoned, residency respected, GPU type matched."""
        regions = job.allowed_regions
        only = job.pools
        key = (
            tuple(sorted(regions)) if regions is not None else None,
            tuple(sorted(only)) if only is not None else None,
            bundle.gpu_types,
        )
        mask = self._static.get(key)
        if mask is None:
            pools = self.cap.pools
            pool_ok = ~self.cap.pool_cordoned
            if regions is not None:
                pool_ok = pool_ok & np.array(
                    [p.zone in regions or p.city in regions for p in pools], dtype=bool
                )
            if only is not None:
                pool_ok = pool_ok & np.array([p.name in only for p in pools], dtype=bool)
            mask = pool_ok[self.cap.node_pool]
            if bundle.gpu_types is not None:
                mask = mask & self.cap.type_mask(bundle.gpu_types)
            self._static[key] = mask
        return mask

    def candidates(self, job: Job, bundle: Resources, drains: bool = False) -> np.ndarray:
        """Indices of nodes that can hold the bundle now; with `drains`, not the nodes kept draining
        that the job would hold past the time they are expected to be empty."""
        alloc = self.alloc
        static = self.static_mask(job, bundle)
        ok = static & ~self.blocked
        own = self.reserved.get(job.id)
        if own is not None:
            ok[own] = static[own]
        ok = ok & (alloc.cpu_free >= bundle.cpu_milli) & (alloc.memory_free >= bundle.memory_mib)
        if drains and self.drain_until is not None and self.drain_below is not None:
            # A job of unknown run time may run for ever: it counts as ending after every drain.
            ends = self.now + job.runtime if job.runtime is not None else np.inf
            ok &= (self.drain_until >= ends) | (bundle.gpu >= self.drain_below)
        if bundle.gpu == 1:
            ok &= alloc.max_gpu_free >= bundle.gpu_milli
        elif bundle.gpu:
            ok &= alloc.whole_gpus_free >= bundle.gpu
        return np.flatnonzero(ok)

    def slots(self, job: Job, bundle: Resources, nodes: np.ndarray) -> int:
        """How many copies of `bundle` the candidate `nodes` could hold at most (an upper bound)."""
        alloc = self.alloc
        big = np.iinfo(np.int64).max
        per_node = np.full(nodes.size, big, dtype=np.int64)
        if bundle.cpu_milli:
            per_node = np.minimum(per_node, alloc.cpu_free[nodes] // bundle.cpu_milli)
        if bundle.memory_mib:
            per_node = np.minimum(per_node, alloc.memory_free[nodes] // bundle.memory_mib)
        if bundle.gpu:
            shares = (alloc.gpu_free[nodes] // bundle.gpu_milli).sum(axis=1) // bundle.gpu
            per_node = np.minimum(per_node, shares)
        return int(min(per_node.sum(), big // 2)) if nodes.size else 0

    def place(self, job: Job) -> tuple[BundlePlacement, ...] | None:
        """Place every bundle of `job` on the scratch allocation, or leave it untouched and return None."""
        if job.strategy is GangStrategy.STRICT_PACK and len(job.bundles) > 1:
            return self._place_on_one_node(job)
        done: list[BundlePlacement] = []
        used: list[int] = []
        for bundle in job.bundles:
            # Draining nodes last: work that fits nowhere else still starts (a drain costs no waiting).
            nodes = self.candidates(job, bundle, drains=True)
            if nodes.size == 0:
                nodes = self.candidates(job, bundle)
            if nodes.size == 0:
                self.undo(job, done)
                return None
            scores = self.scorer.score(self.cap, self.alloc, bundle, nodes)
            if used:
                bias = -_GANG_BIAS if job.strategy is GangStrategy.PACK else _GANG_BIAS
                scores = scores + np.where(np.isin(nodes, used), bias, 0.0)
            node = int(nodes[int(np.argmin(scores))])
            done.append(self._take(bundle, node))
            used.append(node)
        return tuple(done)

    def _place_on_one_node(self, job: Job) -> tuple[BundlePlacement, ...] | None:
        first = job.bundles[0]
        nodes = self.candidates(job, first)
        # The one node must be of a GPU type every bundle accepts, not only the first.
        for bundle in job.bundles[1:]:
            if bundle.gpu_types is not None:
                nodes = nodes[self.static_mask(job, bundle)[nodes]]
        if nodes.size == 0:
            return None
        # Cheap pre-filter on the summed demand, then try nodes in score order.
        cpu = sum(b.cpu_milli for b in job.bundles)
        mem = sum(b.memory_mib for b in job.bundles)
        gpus = sum(b.gpu for b in job.bundles)
        free_gpus = (self.alloc.gpu_free[nodes] > 0).sum(axis=1)
        nodes = nodes[
            (self.alloc.cpu_free[nodes] >= cpu) & (self.alloc.memory_free[nodes] >= mem) & (free_gpus >= gpus)
        ]
        if nodes.size == 0:
            return None
        order = nodes[np.argsort(self.scorer.score(self.cap, self.alloc, first, nodes), kind="stable")]
        for node in order[:16]:
            done: list[BundlePlacement] = []
            for bundle in job.bundles:
                if not self._fits(bundle, int(node)):
                    break
                done.append(self._take(bundle, int(node)))
            if len(done) == len(job.bundles):
                return tuple(done)
            self.undo(job, done)
        return None

    def _fits(self, bundle: Resources, node: int) -> bool:
        alloc = self.alloc
        if alloc.cpu_free[node] < bundle.cpu_milli or alloc.memory_free[node] < bundle.memory_mib:
            return False
        return not bundle.gpu or int((alloc.gpu_free[node] >= bundle.gpu_milli).sum()) >= bundle.gpu

    def _take(self, bundle: Resources, node: int) -> BundlePlacement:
        gpus = self.scorer.choose_gpus(self.cap, self.alloc, bundle, node)
        milli = bundle.gpu_milli if bundle.gpu else 0
        placement = BundlePlacement(node=node, gpus=gpus, gpu_milli=milli)
        self.alloc.take(bundle, placement)
        return placement

    def undo(self, job: Job, placements: list[BundlePlacement] | tuple[BundlePlacement, ...]) -> None:
        """Give back what these placements of `job` hold on the scratch allocation."""
        for bundle, placement in zip(job.bundles, placements, strict=False):
            self.alloc.give_back(bundle, placement)

    def redo(self, job: Job, placements: tuple[BundlePlacement, ...]) -> None:
        """Take exactly these placements again (a would-be victim that stays)."""
        for bundle, placement in zip(job.bundles, placements, strict=True):
            self.alloc.take(bundle, placement)

    def still_fits(self, job: Job, placements: tuple[BundlePlacement, ...]) -> bool:
        """Whether exactly these placements fit the scratch allocation (to keep a would-be victim)."""
        alloc = self.alloc
        need_cpu: dict[int, int] = {}
        need_mem: dict[int, int] = {}
        need_gpu: dict[tuple[int, int], int] = {}
        for bundle, p in zip(job.bundles, placements, strict=True):
            need_cpu[p.node] = need_cpu.get(p.node, 0) + bundle.cpu_milli
            need_mem[p.node] = need_mem.get(p.node, 0) + bundle.memory_mib
            for gpu in p.gpus:
                need_gpu[(p.node, gpu)] = need_gpu.get((p.node, gpu), 0) + p.gpu_milli
        return (
            all(alloc.cpu_free[n] >= c for n, c in need_cpu.items())
            and all(alloc.memory_free[n] >= m for n, m in need_mem.items())
            and all(alloc.gpu_free[n, g] >= m for (n, g), m in need_gpu.items())
        )

    def reserve_for(self, job: Job, releases: Releases | None = None) -> None:
        """Block the node that will hold the job's first bundle soonest, so it drains towards the job.

        With `releases` (per node, the expected end and holdings of the jobs on it), that is the node
        whose running work is expected to make room first, as EASY backfilling reserves by run-time
        estimates: the node "closest" by resources can be held by one job that runs for days. Nodes
        whose room depends on a job of unknown run time, and the choice without `releases`, go by the
        smallest resource shortfall.
        """
        bundle = job.bundles[0]
        mask = self.static_mask(job, bundle) & ~self.blocked
        mask &= (self.cap.cpu >= bundle.cpu_milli) & (self.cap.memory >= bundle.memory_mib)
        mask &= self.cap.gpu_count >= bundle.gpu
        nodes = np.flatnonzero(mask)
        if nodes.size == 0:
            return
        # Largest shortfall across resources, as a fraction of the node; the smallest shortfall wins.
        cap, alloc = self.cap, self.alloc
        short_cpu = np.maximum(bundle.cpu_milli - alloc.cpu_free[nodes], 0) / np.maximum(cap.cpu[nodes], 1)
        short_mem = np.maximum(bundle.memory_mib - alloc.memory_free[nodes], 0) / np.maximum(
            cap.memory[nodes], 1
        )
        whole = (alloc.gpu_free[nodes] >= bundle.gpu_milli).sum(axis=1)
        short_gpu = np.maximum(bundle.gpu - whole, 0) / np.maximum(cap.gpu_count[nodes], 1)
        shortfall = np.maximum(np.maximum(short_cpu, short_mem), short_gpu)
        if releases is not None:
            ready = np.array([self._ready_at(bundle, int(n), releases.get(int(n), ())) for n in nodes])
            order = np.lexsort((shortfall, ready))  # soonest first, then the smallest shortfall
            self._reserve(job, int(nodes[int(order[0])]))
            return
        self._reserve(job, int(nodes[int(np.argmin(shortfall))]))

    def _reserve(self, job: Job, node: int) -> None:
        self.blocked[node] = True
        self.reserved[job.id] = node

    def _ready_at(self, bundle: Resources, node: int, held: Sequence[Held]) -> float:
        """When `node` is expected to hold `bundle`, as the jobs on it end (inf: not known)."""
        alloc = self.alloc
        cpu, mem = int(alloc.cpu_free[node]), int(alloc.memory_free[node])
        gpu = alloc.gpu_free[node].astype(np.int64)
        for end, resources, placement in sorted(held, key=lambda h: h[0]):
            if not np.isfinite(end):
                return np.inf
            cpu += resources.cpu_milli
            mem += resources.memory_mib
            for g in placement.gpus:
                gpu[g] += placement.gpu_milli
            gpus_ok = not bundle.gpu or int((gpu >= bundle.gpu_milli).sum()) >= bundle.gpu
            if cpu >= bundle.cpu_milli and mem >= bundle.memory_mib and gpus_ok:
                return end
        return np.inf
