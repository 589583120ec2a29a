"""Fragmentation Gradient Descent (FGD), after Weng et al., "Beware of Fragmentation: Scheduling
GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC'23, extended to GPU types.

The paper's measure: the fragmentation of a node *for a task class* is the free GPU capacity that class
cannot use there: all of it when the class does not fit the node at all (CPU, memory or GPU count),
otherwise the free share of every GPU that has less room than the class asks of one GPU. The node's
expected fragmentation weights the classes by how often they arrive. FGD places each bundle on the node,
and the GPU, whose expected fragmentation grows least.

What the paper's measure misses, and what this scorer adds (see docs/architecture.md, "Placement"):

1. GPU types. A class only ever arrives at nodes of a type it accepts, so a node is measured against the
   classes that can come to it, each weighted by the demand density it brings to that type: class k with
   arrival share p_k spread over the GPU capacity of its acceptable types T_k weighs
   ``w[t, k] = p_k * C / C(T_k)`` on a node of type t in T_k (C: all GPU capacity). An unconstrained
   class weighs p_k everywhere, as in the paper; a class that only T4s accept weighs more on a T4.
2. Type pressure. A task that may run on several types should not take the last room of a type that
   tasks accepting only it still need. Of the GPU demand still to come (taken as the free GPU capacity,
   in the workload's proportions), the constrained classes' share that must land on type t, over t's
   free capacity, is its pressure ``rho_t``; a bundle pays ``gpu * rho_t`` on a node of type t. Between
   types it accepts, it goes where constrained demand is least pressing.
3. Resource balance. The paper counts GPUs stranded by a lack of CPU or memory only once no single class
   fits any more; by then the damage is done. The fluid measure ``max(0, G - C / r_t, G - M / m_t)``
   (free GPU G that the free CPU C and memory M can no longer feed at the CPU and memory per GPU r_t,
   m_t of the demand arriving at type t) sees it coming. It is what keeps CPU-only tasks off GPU nodes'
   last cores, and CPU-hungry GPU tasks on CPU-rich nodes.

4. Share patterns. FGD places a share where the expected fragmentation grows least, one decision at a
   time; on the Alibaba trace that stranded about 30 GPUs more than the tightest packing of the same
   shares. The cutting-stock LP over the workload's share sizes (`patterns.SharePatterns`) says which
   shares should meet on one GPU (0.81 + 0.16, 0.47 + 0.47, 0.65 + 0.32, ...). On a node, a share that
   would join a GPU on which no such pattern can be completed pays one GPU's worth of fragmentation
   (``patterns * GPU_MILLI``): it takes a GPU where its pattern continues, or a fresh one. Between
   nodes three quarters of that penalty count (``patterns_across``): enough to pull a share to the
   node where its pattern continues over most of what FGD's node measure prefers, while a node that
   FGD finds much worse (a whole node broken for gangs, CPU or memory stranded) still loses. Measured
   on the fill over seeds 42-51: a node weight of 0.25 or 0.5 left the default trace at 96.00% and
   95.99%, 0.75 and 1.0 gave 96.15% and 96.14%; with 1.0 the replay's waits and fairness fell below
   their targets in three cells, with 0.75 none did (docs/architecture.md).

Multi-GPU tasks keep whole nodes whole through (1): a node whose whole GPUs are broken up can no longer
take the 8-GPU class, and all its free GPUs count as fragmented for it.

The numbers are recomputed only for nodes whose allocation changed since they were last computed
(tracked by the allocation's per-node versions), which is what makes FGD cheap enough for every decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scheduler.model import GPU_MILLI, Resources
from scheduler.policy.scorers.base import Scorer, leftover_fraction
from scheduler.policy.scorers.patterns import share_patterns
from scheduler.state import Allocation, Capacity

WHOLE_NODE_GPUS = 4
"""Classes of this many GPUs or more wait for a node to empty rather than fit between other work: the
policy keeps nodes draining for them (`PolicyConfig.drain_nodes`). Measured with 4 and 8-GPU classes on
the Alibaba trace; 2-GPU tasks fit beside others on the 8-GPU nodes and were not given drains."""

# Among nodes whose fragmentation grows equally (often: not at all) prefer the tighter fit. Fragmentation
# is counted in milli-GPU, leftover fractions sum to at most 3: this weight keeps the tie-break below 1.
_TIE_BREAK = 0.1


@dataclass(slots=True)
class _Cached:
    version: np.ndarray  # int64[N]: node version the entry was computed at, 0 = never
    delta: np.ndarray  # float64[N]
    gpu: np.ndarray  # int32[N]: for a shared-GPU bundle, the GPU that gives `delta`


@dataclass(slots=True)
class _Types:
    """The workload seen through one cluster's GPU types. Row 0: nodes without GPUs; row t+1: type t."""

    cap: Capacity
    row: np.ndarray  # int64[N]: the row of each node
    weight: np.ndarray  # float64[T+1, K]: demand density of class k at a node of the row's type
    cpu_per_gpu: np.ndarray  # float64[T+1]: mCPU per milli-GPU of the GPU demand arriving at the type
    mem_per_gpu: np.ndarray  # float64[T+1]
    constrained: np.ndarray  # float64[T+1, K']: per constrained class, 1 where it accepts the type
    constrained_share: np.ndarray  # float64[K']: that class's share of all arriving GPU demand


class Fgd(Scorer):
    """FGD over a workload given as (bundle, weight) classes, e.g. the shapes of recent jobs."""

    name = "fgd"

    def __init__(
        self,
        workload: Sequence[tuple[Resources, float]],
        *,
        pressure: float = 1.0,
        balance: float = 1.0,
        patterns: float = 1.0,
        patterns_across: float = 0.75,
    ) -> None:
        if not workload:
            raise ValueError("FGD needs a workload: pass the (bundle, weight) classes of typical jobs")
        weights = np.array([w for _, w in workload], dtype=np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("FGD workload weights must be non-negative and not all zero")
        self._classes = [b for b, _ in workload]
        self._p = weights / weights.sum()
        self._pressure = pressure
        self._balance = balance
        self._patterns = patterns
        self._patterns_across = patterns_across
        shares: dict[int, float] = {}
        for bundle, p in zip(self._classes, self._p, strict=True):
            if bundle.gpu == 1 and bundle.gpu_milli < GPU_MILLI:
                shares[bundle.gpu_milli] = shares.get(bundle.gpu_milli, 0.0) + float(p)
        total = sum(shares.values())
        # Rounded, so that the live loop's scorer (rebuilt every cycle from the jobs queued and running)
        # finds the patterns of the last cycles in the cache while the mix of shares stays about the same.
        self._share_mix = tuple(sorted((s, max(round(w / total, 3), 0.001)) for s, w in shares.items()))
        self._cpu = np.array([b.cpu_milli for b, _ in workload], dtype=np.int64)
        self._mem = np.array([b.memory_mib for b, _ in workload], dtype=np.int64)
        self._gpu = np.array([b.gpu_total_milli for b, _ in workload], dtype=np.float64)
        # GPU demands repeat across classes; evaluate each distinct one once and gather.
        gpu_shapes = sorted({(b.gpu, b.gpu_milli if b.gpu else 0) for b, _ in workload})
        index = {s: i for i, s in enumerate(gpu_shapes)}
        self._class_gpu = np.array([index[(b.gpu, b.gpu_milli if b.gpu else 0)] for b, _ in workload])
        self._need_count = np.array([s[0] for s in gpu_shapes], dtype=np.int64)
        self._need_milli = np.array([s[1] for s in gpu_shapes], dtype=np.int32)
        self._cache: dict[tuple[object, ...], _Cached] = {}
        self._before: _Cached | None = None
        self._types: _Types | None = None
        self._whole: tuple[Resources, ...] | None = None

    # --- the workload against one cluster's GPU types -----------------------------------------------

    def _bind(self, cap: Capacity) -> _Types:
        """The per-type weights for `cap`; kept (with `cap` itself, so identity is safe) until it changes."""
        if self._types is not None and self._types.cap is cap:
            return self._types
        rows = len(cap.gpu_types) + 1
        row = cap.gpu_type.astype(np.int64) + 1
        gpus = cap.gpu_count.astype(np.float64) * GPU_MILLI
        type_capacity = np.bincount(row, weights=gpus, minlength=rows)
        total = max(float(type_capacity.sum()), 1.0)
        accepts = np.zeros((rows, len(self._classes)), dtype=bool)  # class k can run on the row's nodes
        for k, bundle in enumerate(self._classes):
            if not bundle.gpu:
                accepts[:, k] = True
            elif bundle.gpu_types is None:
                accepts[1:, k] = True
            else:
                accepts[1:, k] = [t in bundle.gpu_types for t in cap.gpu_types]
        reach = (accepts * type_capacity[:, None]).sum(axis=0)  # C(T_k)
        density = np.where(self._gpu > 0, total / np.maximum(reach, 1.0), 1.0)
        weight = np.where(accepts, self._p[None, :] * density[None, :], 0.0)
        gpu_weight = weight * self._gpu[None, :]
        gpu_demand = np.maximum(gpu_weight.sum(axis=1), 1e-12)
        cpu_per_gpu = (weight * self._cpu[None, :] * (self._gpu > 0)).sum(axis=1) / gpu_demand
        mem_per_gpu = (weight * self._mem[None, :] * (self._gpu > 0)).sum(axis=1) / gpu_demand
        limited = [k for k, b in enumerate(self._classes) if b.gpu and b.gpu_types is not None]
        demand = self._p * self._gpu
        self._types = _Types(
            cap=cap,
            row=row,
            weight=weight,
            cpu_per_gpu=np.where(gpu_weight.sum(axis=1) > 0, cpu_per_gpu, 0.0),
            mem_per_gpu=np.where(gpu_weight.sum(axis=1) > 0, mem_per_gpu, 0.0),
            constrained=accepts[:, limited].astype(np.float64),
            constrained_share=demand[limited] / max(float(demand.sum()), 1e-12),
        )
        self._cache.clear()
        self._before = None
        return self._types

    def pressure(self, cap: Capacity, alloc: Allocation) -> np.ndarray:
        """float64[T+1]: per row, the constrained GPU demand still to come over the type's free capacity."""
        types = self._bind(cap)
        if not types.constrained_share.size:
            return np.zeros(types.weight.shape[0])
        free = np.bincount(types.row, weights=alloc.gpu_free.sum(axis=1), minlength=types.weight.shape[0])
        total_free = float(free.sum())
        # Each constrained class spreads over its types by their free room: what lands on t is
        # share_k * F * free_t / free(T_k); over free_t that is share_k * F / free(T_k).
        reach = np.maximum(types.constrained.T @ free, 1.0)  # [K']
        rho = types.constrained @ (types.constrained_share * total_free / reach)
        return np.asarray(rho, dtype=np.float64)

    # --- the measure --------------------------------------------------------------------------------

    def fragmentation(
        self, cpu: np.ndarray, mem: np.ndarray, gpu_free: np.ndarray, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Expected fragmentation (milli-GPU) of node states: cpu[M], mem[M], gpu_free[M, G].

        `rows` (the nodes' type rows) weighs the classes per GPU type; None weighs them as in the paper.
        """
        frag = self._per_class(cpu, mem, gpu_free)
        if rows is None or self._types is None:
            return np.asarray(frag @ self._p, dtype=np.float64)
        return np.asarray((frag * self._types.weight[rows]).sum(axis=1), dtype=np.float64)

    def fragmented_gpus(self, cap: Capacity, alloc: Allocation) -> float:
        """Fragmented GPU capacity of the cluster (milli-GPU), each node against the classes that can
        come to it, weighted by their share of its type's arrivals (a report figure, the same for every
        policy)."""
        types = self._bind(cap)
        frag = self._per_class(alloc.cpu_free, alloc.memory_free, alloc.gpu_free)
        weight = types.weight[types.row]
        norm = np.maximum(weight.sum(axis=1, keepdims=True), 1e-12)
        return float((frag * weight / norm).sum())

    def _per_class(self, cpu: np.ndarray, mem: np.ndarray, gpu_free: np.ndarray) -> np.ndarray:
        total = gpu_free.sum(axis=1)
        usable = gpu_free[:, None, :] >= self._need_milli[None, :, None]  # [M, U, G]
        enough = usable.sum(axis=2) >= self._need_count[None, :]  # [M, U]
        stranded = np.where(usable, 0, gpu_free[:, None, :]).sum(axis=2)  # [M, U]
        fits = (cpu[:, None] >= self._cpu[None, :]) & (mem[:, None] >= self._mem[None, :])  # [M, K]
        fits &= enough[:, self._class_gpu]
        return np.asarray(np.where(fits, stranded[:, self._class_gpu], total[:, None]), dtype=np.float64)

    def _badness(
        self, cpu: np.ndarray, mem: np.ndarray, gpu_free: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        """What the scorer minimises the growth of: type-weighted fragmentation plus fluid stranding."""
        assert self._types is not None
        frag = self.fragmentation(cpu, mem, gpu_free, rows)
        if self._balance:
            free = gpu_free.sum(axis=1).astype(np.float64)
            r = self._types.cpu_per_gpu[rows]
            m = self._types.mem_per_gpu[rows]
            fed_cpu = np.where(r > 0, cpu / np.maximum(r, 1e-12), np.inf)
            fed_mem = np.where(m > 0, mem / np.maximum(m, 1e-12), np.inf)
            frag = frag + self._balance * np.maximum(free - np.minimum(fed_cpu, fed_mem), 0.0)
        return np.asarray(frag, dtype=np.float64)

    # --- cached per-node growth ---------------------------------------------------------------------

    def _fresh(self, entry: _Cached, alloc: Allocation, nodes: np.ndarray) -> np.ndarray:
        return np.asarray(nodes[entry.version[nodes] != alloc.version[nodes]], dtype=np.int64)

    def _entry(self, key: tuple[object, ...], size: int) -> _Cached:
        entry = self._cache.get(key)
        if entry is None or entry.version.shape[0] != size:
            entry = _Cached(np.zeros(size, np.int64), np.zeros(size), np.zeros(size, np.int32))
            self._cache[key] = entry
        return entry

    def _badness_now(self, alloc: Allocation, nodes: np.ndarray) -> np.ndarray:
        assert self._types is not None
        size = alloc.version.shape[0]
        if self._before is None or self._before.version.shape[0] != size:
            self._before = _Cached(np.zeros(size, np.int64), np.zeros(size), np.zeros(size, np.int32))
        entry = self._before
        stale = self._fresh(entry, alloc, nodes)
        if stale.size:
            entry.delta[stale] = self._badness(
                alloc.cpu_free[stale], alloc.memory_free[stale], alloc.gpu_free[stale], self._types.row[stale]
            )
            entry.version[stale] = alloc.version[stale]
        return np.asarray(entry.delta[nodes], dtype=np.float64)

    def _update(
        self, entry: _Cached, cap: Capacity, alloc: Allocation, bundle: Resources, stale: np.ndarray
    ) -> None:
        """Recompute the cached score of the nodes whose state changed since they were last scored for
        this bundle shape: growth of badness plus the tie-break (both depend only on the node's state)."""
        self._growth(entry, alloc, bundle, stale)
        entry.delta[stale] += _TIE_BREAK * leftover_fraction(cap, alloc, bundle, stale)

    def _growth(self, entry: _Cached, alloc: Allocation, bundle: Resources, stale: np.ndarray) -> None:
        assert self._types is not None
        before = self._badness_now(alloc, stale)
        cpu = alloc.cpu_free[stale] - bundle.cpu_milli
        mem = alloc.memory_free[stale] - bundle.memory_mib
        free = alloc.gpu_free[stale]
        rows = self._types.row[stale]
        if stale.size > 16:
            # Many nodes are in the same state (a fresh cluster: a handful of node types). Work out each
            # distinct state once and copy the answer to every node in it.
            states = np.column_stack([cpu, mem, free, rows])
            distinct, first, inverse = np.unique(states, axis=0, return_index=True, return_inverse=True)
            if distinct.shape[0] < stale.size // 2:
                delta, gpu = self._after(
                    bundle, cpu[first], mem[first], free[first], rows[first], before[first]
                )
                entry.delta[stale] = delta[inverse.ravel()]
                entry.gpu[stale] = gpu[inverse.ravel()]
                entry.version[stale] = alloc.version[stale]
                return
        entry.delta[stale], entry.gpu[stale] = self._after(bundle, cpu, mem, free, rows, before)
        entry.version[stale] = alloc.version[stale]

    def _after(
        self,
        bundle: Resources,
        cpu: np.ndarray,
        mem: np.ndarray,
        free: np.ndarray,
        rows: np.ndarray,
        before: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Growth of badness when the bundle lands on nodes in these states, and the best GPU."""
        if bundle.gpu and bundle.gpu_milli < GPU_MILLI:
            # Try the share on every GPU of the node that has room; keep the best.
            width = free.shape[1]
            options = np.repeat(free[:, None, :], width, axis=1)  # [B, G(choice), G]
            choice = np.arange(width)
            options[:, choice, choice] -= bundle.gpu_milli
            valid = free >= bundle.gpu_milli  # [B, G]
            flat = options.reshape(-1, width)
            after = self._badness(
                np.repeat(cpu, width), np.repeat(mem, width), flat, np.repeat(rows, width)
            ).reshape(-1, width)
            after = np.where(valid, after, np.inf)
            index = np.arange(free.shape[0])
            joins = self._joins(bundle.gpu_milli, free)
            if joins is None:
                best = np.argmin(after, axis=1)
                return after[index, best] - before, best.astype(np.int32)
            # The node's GPU by the pattern rule in full; the node itself by FGD's growth plus a part
            # of that GPU's penalty (see the module docstring, 4).
            penalty = self._patterns * GPU_MILLI * ~joins
            best = np.argmin(after + penalty, axis=1)
            growth = after[index, best] - before + self._patterns_across * penalty[index, best]
            return growth, best.astype(np.int32)
        after_free = free.copy()
        if bundle.gpu:
            # Whole GPUs: which free ones does not change the node's fragmentation.
            whole = after_free == GPU_MILLI
            taken = np.cumsum(whole, axis=1) <= bundle.gpu
            after_free[whole & taken] = 0
        return self._badness(cpu, mem, after_free, rows) - before, np.zeros(free.shape[0], np.int32)

    def _joins(self, share: int, free: np.ndarray) -> np.ndarray | None:
        """Per GPU (free milli-GPU), whether the share joining it keeps it on a pattern of the tightest
        packing of the workload's shares; None when patterns are off or the workload lacks the size."""
        if not self._patterns or not self._share_mix:
            return None
        return share_patterns(self._share_mix).joins(share, GPU_MILLI - free)

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        types = self._bind(cap)
        entry = self._entry(bundle.shape, alloc.version.shape[0])
        stale = self._fresh(entry, alloc, nodes)
        if stale.size:
            self._update(entry, cap, alloc, bundle, stale)
        score = entry.delta[nodes]
        if self._pressure and bundle.gpu and types.constrained_share.size:
            rows = types.row[nodes]
            if rows.min() != rows.max():  # the choice spans types: pressure can tell them apart
                score = score + self._pressure * bundle.gpu_total_milli * self.pressure(cap, alloc)[rows]
        return np.asarray(score, dtype=np.float64)

    def whole_node_shapes(self) -> tuple[Resources, ...]:
        if self._whole is None:
            # Sorted, so that the policy picks its drained nodes in the same order in every process
            # (a set of Resources iterates in hash order, and str hashes differ between processes).
            shapes = {b for b in self._classes if b.gpu >= WHOLE_NODE_GPUS}
            self._whole = tuple(
                sorted(shapes, key=lambda b: (b.gpu, sorted(b.gpu_types or ()), b.cpu_milli, b.memory_mib))
            )
        return self._whole

    def choose_gpus(self, cap: Capacity, alloc: Allocation, bundle: Resources, node: int) -> tuple[int, ...]:
        if bundle.gpu and bundle.gpu_milli < GPU_MILLI:
            self._bind(cap)
            entry = self._entry(bundle.shape, alloc.version.shape[0])
            if entry.version[node] != alloc.version[node]:
                self._update(entry, cap, alloc, bundle, np.array([node]))
            return (int(entry.gpu[node]),)
        return super().choose_gpus(cap, alloc, bundle, node)
