"""The placement-scorer extension point.

A scorer ranks the nodes that passed the filters for one bundle: lower score is better, ties go to the
lowest node index so that every run is deterministic. A scorer may also pick which GPUs of the chosen
node the bundle takes (that matters for shared GPUs).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from scheduler.model import GPU_MILLI, Resources
from scheduler.state import Allocation, Capacity


class Scorer(ABC):
    """Ranks candidate nodes for a bundle."""

    name: str = "abstract"

    @abstractmethod
    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        """Scores (float64, lower is better) for `nodes`, indices of nodes that can hold `bundle`."""

    def whole_node_shapes(self) -> tuple[Resources, ...]:
        """The multi-GPU shapes of the workload the scorer was built for, for which the policy keeps
        nodes draining (see `PolicyConfig.drain_nodes`); none for a scorer that knows no workload."""
        return ()

    def choose_gpus(self, cap: Capacity, alloc: Allocation, bundle: Resources, node: int) -> tuple[int, ...]:
        """The GPUs of `node` the bundle takes: the tightest-fitting shared GPU, else the first free ones."""
        return default_gpus(alloc, bundle, node)


def default_gpus(alloc: Allocation, bundle: Resources, node: int) -> tuple[int, ...]:
    if bundle.gpu == 0:
        return ()
    free = alloc.gpu_free[node]
    if bundle.gpu_milli < GPU_MILLI:
        # The GPU with least room left that still fits keeps the emptier GPUs whole for bigger shares.
        room = np.where(free >= bundle.gpu_milli, free, GPU_MILLI + 1)
        return (int(np.argmin(room)),)
    whole = np.flatnonzero(free == GPU_MILLI)
    return tuple(int(g) for g in whole[: bundle.gpu])


def leftover_fraction(cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
    """Per node, the sum over resources of the fraction of capacity left free after placing the bundle."""
    cpu = (alloc.cpu_free[nodes] - bundle.cpu_milli) / np.maximum(cap.cpu[nodes], 1)
    mem = (alloc.memory_free[nodes] - bundle.memory_mib) / np.maximum(cap.memory[nodes], 1)
    gpu_cap = cap.gpu_count[nodes] * GPU_MILLI
    gpu = (alloc.gpu_free[nodes].sum(axis=1) - bundle.gpu_total_milli) / np.maximum(gpu_cap, 1)
    return np.asarray(cpu + mem + gpu, dtype=np.float64)
