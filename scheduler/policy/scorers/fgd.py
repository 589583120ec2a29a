"""Fragmentation Gradient Descent (FGD), after Weng et al., "Beware of Fragmentation: Scheduling
GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC'23.

The fragmentation of a node *for a task class* is the free GPU capacity that class cannot use there:
all of it when the class does not fit the node at all (CPU, memory or GPU count), otherwise the free
share of every GPU that has less room than the class asks of one GPU. The node's expected
fragmentation weights the classes by how often they occur in the workload. FGD places each bundle on
the node, and the GPU, whose expected fragmentation grows least.

The number is recomputed only for nodes whose allocation changed since it was last computed (tracked by
the allocation's per-node versions), which is what makes FGD cheap enough for every decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scheduler.model import GPU_MILLI, Resources
from scheduler.policy.scorers.base import Scorer, leftover_fraction
from scheduler.state import Allocation, Capacity

# Among nodes whose fragmentation grows equally (often: not at all) prefer the tighter fit. Fragmentation
# is counted in milli-GPU, leftover fractions sum to at most 3: this weight keeps the tie-break below 1.
_TIE_BREAK = 0.1


@dataclass(slots=True)
class _Cached:
    version: np.ndarray  # int64[N]: node version the entry was computed at, 0 = never
    delta: np.ndarray  # float64[N]
    gpu: np.ndarray  # int32[N]: for a shared-GPU bundle, the GPU that gives `delta`


class Fgd(Scorer):
    """FGD over a workload given as (bundle, weight) classes, e.g. the shapes of recent jobs."""

    name = "fgd"

    def __init__(self, workload: Sequence[tuple[Resources, float]]) -> None:
        if not workload:
            raise ValueError("FGD needs a workload: pass the (bundle, weight) classes of typical jobs")
        weights = np.array([w for _, w in workload], dtype=np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("FGD workload weights must be non-negative and not all zero")
        self._p = weights / weights.sum()
        self._cpu = np.array([b.cpu_milli for b, _ in workload], dtype=np.int64)
        self._mem = np.array([b.memory_mib for b, _ in workload], dtype=np.int64)
        # GPU demands repeat across classes; evaluate each distinct one once and gather.
        gpu_shapes = sorted({(b.gpu, b.gpu_milli if b.gpu else 0) for b, _ in workload})
        index = {s: i for i, s in enumerate(gpu_shapes)}
        self._class_gpu = np.array([index[(b.gpu, b.gpu_milli if b.gpu else 0)] for b, _ in workload])
        self._need_count = np.array([s[0] for s in gpu_shapes], dtype=np.int64)
        self._need_milli = np.array([s[1] for s in gpu_shapes], dtype=np.int32)
        self._cache: dict[tuple[object, ...], _Cached] = {}
        self._before: _Cached | None = None

    def fragmentation(self, cpu: np.ndarray, mem: np.ndarray, gpu_free: np.ndarray) -> np.ndarray:
        """Expected fragmentation (milli-GPU) of node states: cpu[M], mem[M], gpu_free[M, G]."""
        total = gpu_free.sum(axis=1)
        usable = gpu_free[:, None, :] >= self._need_milli[None, :, None]  # [M, U, G]
        enough = usable.sum(axis=2) >= self._need_count[None, :]  # [M, U]
        stranded = np.where(usable, 0, gpu_free[:, None, :]).sum(axis=2)  # [M, U]
        fits = (cpu[:, None] >= self._cpu[None, :]) & (mem[:, None] >= self._mem[None, :])  # [M, K]
        fits &= enough[:, self._class_gpu]
        frag = np.where(fits, stranded[:, self._class_gpu], total[:, None])
        return np.asarray(frag @ self._p, dtype=np.float64)

    def _fresh(self, entry: _Cached, alloc: Allocation, nodes: np.ndarray) -> np.ndarray:
        stale: np.ndarray = nodes[entry.version[nodes] != alloc.version[nodes]]
        return stale

    def _entry(self, key: tuple[object, ...], size: int) -> _Cached:
        entry = self._cache.get(key)
        if entry is None or entry.version.shape[0] != size:
            entry = _Cached(np.zeros(size, np.int64), np.zeros(size), np.zeros(size, np.int32))
            self._cache[key] = entry
        return entry

    def _fragmentation_now(self, alloc: Allocation, nodes: np.ndarray) -> np.ndarray:
        size = alloc.version.shape[0]
        if self._before is None or self._before.version.shape[0] != size:
            self._before = _Cached(np.zeros(size, np.int64), np.zeros(size), np.zeros(size, np.int32))
        entry = self._before
        stale = self._fresh(entry, alloc, nodes)
        if stale.size:
            entry.delta[stale] = self.fragmentation(
                alloc.cpu_free[stale], alloc.memory_free[stale], alloc.gpu_free[stale]
            )
            entry.version[stale] = alloc.version[stale]
        delta: np.ndarray = entry.delta[nodes]
        return delta

    def _update(self, entry: _Cached, alloc: Allocation, bundle: Resources, stale: np.ndarray) -> None:
        before = self._fragmentation_now(alloc, stale)
        cpu = alloc.cpu_free[stale] - bundle.cpu_milli
        mem = alloc.memory_free[stale] - bundle.memory_mib
        free = alloc.gpu_free[stale]
        if stale.size > 16:
            # Many nodes are in the same state (a fresh cluster: a handful of node types). Work out each
            # distinct state once and copy the answer to every node in it.
            states = np.column_stack([cpu, mem, free])
            distinct, first, inverse = np.unique(states, axis=0, return_index=True, return_inverse=True)
            if distinct.shape[0] < stale.size // 2:
                delta, gpu = self._after(bundle, cpu[first], mem[first], free[first], before[first])
                entry.delta[stale] = delta[inverse.ravel()]
                entry.gpu[stale] = gpu[inverse.ravel()]
                entry.version[stale] = alloc.version[stale]
                return
        entry.delta[stale], entry.gpu[stale] = self._after(bundle, cpu, mem, free, before)
        entry.version[stale] = alloc.version[stale]

    def _after(
        self, bundle: Resources, cpu: np.ndarray, mem: np.ndarray, free: np.ndarray, before: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Growth of fragmentation when the bundle lands on nodes in these states, and the best GPU."""
        if bundle.gpu and bundle.gpu_milli < GPU_MILLI:
            # Try the share on every GPU of the node that has room; keep the best.
            width = free.shape[1]
            options = np.repeat(free[:, None, :], width, axis=1)  # [B, G(choice), G]
            choice = np.arange(width)
            options[:, choice, choice] -= bundle.gpu_milli
            valid = free >= bundle.gpu_milli  # [B, G]
            flat = options.reshape(-1, width)
            after = self.fragmentation(np.repeat(cpu, width), np.repeat(mem, width), flat).reshape(-1, width)
            after = np.where(valid, after, np.inf)
            best = np.argmin(after, axis=1)
            return after[np.arange(free.shape[0]), best] - before, best.astype(np.int32)
        after_free = free.copy()
        if bundle.gpu:
            # Whole GPUs: which free ones does not change the node's fragmentation.
            whole = after_free == GPU_MILLI
            taken = np.cumsum(whole, axis=1) <= bundle.gpu
            after_free[whole & taken] = 0
        return self.fragmentation(cpu, mem, after_free) - before, np.zeros(free.shape[0], np.int32)

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        entry = self._entry(bundle.shape, alloc.version.shape[0])
        stale = self._fresh(entry, alloc, nodes)
        if stale.size:
            self._update(entry, alloc, bundle, stale)
        tie = _TIE_BREAK * leftover_fraction(cap, alloc, bundle, nodes)
        return np.asarray(entry.delta[nodes] + tie, dtype=np.float64)

    def choose_gpus(self, cap: Capacity, alloc: Allocation, bundle: Resources, node: int) -> tuple[int, ...]:
        if bundle.gpu and bundle.gpu_milli < GPU_MILLI:
            entry = self._entry(bundle.shape, alloc.version.shape[0])
            if entry.version[node] != alloc.version[node]:
                self._update(entry, alloc, bundle, np.array([node]))
            return (int(entry.gpu[node]),)
        return super().choose_gpus(cap, alloc, bundle, node)
