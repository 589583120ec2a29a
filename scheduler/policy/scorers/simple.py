"""Classic scorers: first-fit, best-fit, dot-product (Tetris), pack and spread."""

from __future__ import annotations

import numpy as np

from scheduler.model import GPU_MILLI, Resources
from scheduler.policy.scorers.base import Scorer, leftover_fraction
from scheduler.state import Allocation, Capacity


class FirstFit(Scorer):
    """The first node (in registration order) that fits."""

    name = "first-fit"

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        return nodes.astype(np.float64)


class BestFit(Scorer):
    """The node left with the least free capacity (summed fractions of CPU, memory and GPU)."""

    name = "best-fit"

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        return leftover_fraction(cap, alloc, bundle, nodes)


class DotProduct(Scorer):
    """Tetris-style alignment: the node whose free vector points most along the demand vector.

    Both vectors are normalised by the node's capacity, so a GPU-heavy task prefers nodes with much free
    GPU relative to their CPU, and leaves CPU-rich nodes for CPU-heavy tasks.
    """

    name = "dot-product"

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        cpu_cap = np.maximum(cap.cpu[nodes], 1)
        mem_cap = np.maximum(cap.memory[nodes], 1)
        gpu_cap = np.maximum(cap.gpu_count[nodes] * GPU_MILLI, 1)
        dot = (
            (bundle.cpu_milli / cpu_cap) * (alloc.cpu_free[nodes] / cpu_cap)
            + (bundle.memory_mib / mem_cap) * (alloc.memory_free[nodes] / mem_cap)
            + (bundle.gpu_total_milli / gpu_cap) * (alloc.gpu_free[nodes].sum(axis=1) / gpu_cap)
        )
        return np.asarray(-dot, dtype=np.float64)


class Pack(Scorer):
    """Fill the most-used nodes first (keeps whole nodes free for big gangs, and idle nodes can sleep)."""

    name = "pack"

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        return leftover_fraction(cap, alloc, bundle, nodes)


class Spread(Scorer):
    """Use the least-used nodes first (less interference, smaller blast radius of a node failure)."""

    name = "spread"

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        return -leftover_fraction(cap, alloc, bundle, nodes)
