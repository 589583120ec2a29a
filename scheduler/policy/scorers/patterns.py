"""Share patterns: how the tightest packing of the workload's GPU shares fills one GPU.

A share (a task asking for part of one GPU, 0.47 say) leaves room beside it that only some other shares
can use. Which shares should meet on one GPU is a cutting-stock problem over the workload's share sizes:
its linear-programming relaxation (Gilmore and Gomory, 1961) picks the *patterns* (multisets of shares
that fit one GPU, e.g. 0.81 + 0.16, 0.47 + 0.47, 0.65 + 0.32) and how often each is used, so that the
shares of the workload need as few GPUs as possible. Solved by column generation: a restricted master
LP over the patterns found so far, and a knapsack over one GPU at the master's dual prices that finds the
pattern worth most; it enters while it is worth more than the GPU it costs.

Tasks arrive one at a time, so the policy cannot pack the patterns offline, but it can keep every GPU on
one: a share may join a GPU whose used part, together with the share, is still part of some pattern the
LP uses (an empty GPU always is). On the Alibaba trace this alone packed the shares as well as the LP
allows to within 6-11 GPUs of 6,212, where best-fit and FGD stranded 30 or more (docs/architecture.md,
"Placement"). The rule knows a GPU only by how much of it is used, not by which shares: the policy keeps
no state between decisions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from scheduler.model import GPU_MILLI

_EPS = 1e-9
_MAX_ROUNDS = 1000
"""Column-generation rounds at most; the trace's ~25 share sizes converge in a few dozen."""


@dataclass(frozen=True, slots=True)
class CuttingStock:
    """The LP optimum: `gpus` (fractional) and the patterns it uses, each as (share, copies) pairs."""

    gpus: float
    patterns: tuple[tuple[tuple[int, int], ...], ...]
    uses: tuple[float, ...]
    """How many GPUs follow each pattern in the optimum (same order as `patterns`)."""


def cutting_stock(
    demand: Mapping[int, float], size: int = GPU_MILLI, limit: Mapping[int, int] | None = None
) -> CuttingStock:
    """The LP relaxation of packing `demand` (share size -> how many) into bins of `size`.

    `limit` caps how often a size may repeat in one pattern (default: as often as it fits); the count of
    an item list is the right cap when the LP serves as a lower bound for exactly those items.
    """
    sizes = np.array(sorted(demand), dtype=np.int64)
    if sizes.size == 0:
        return CuttingStock(0.0, (), ())
    if sizes[0] <= 0 or sizes[-1] > size:
        raise ValueError(f"every share must be in 1..{size} milli-GPU")
    wanted = np.array([float(demand[int(s)]) for s in sizes])
    caps = np.array(
        [min(size // int(s), limit[int(s)] if limit is not None else size) for s in sizes], dtype=np.int64
    )
    n = sizes.size
    # Start from the patterns that repeat one size as often as it may.
    patterns = [np.where(np.arange(n) == i, caps[i], 0) for i in range(n)]
    for _ in range(_MAX_ROUNDS):
        columns = np.array(patterns, dtype=np.float64).T
        solved = linprog(np.ones(columns.shape[1]), A_ub=-columns, b_ub=-wanted, method="highs")
        if solved.status != 0:
            raise RuntimeError(f"the cutting-stock LP failed: {solved.message}")
        prices = -np.asarray(solved.ineqlin.marginals, dtype=np.float64)
        worth, pattern = _best_pattern(sizes, caps, prices, size)
        if worth <= 1.0 + _EPS:
            used = [j for j, x in enumerate(solved.x) if x > _EPS]
            return CuttingStock(
                gpus=float(solved.fun),
                patterns=tuple(
                    tuple((int(sizes[i]), int(k)) for i, k in enumerate(patterns[j]) if k) for j in used
                ),
                uses=tuple(float(solved.x[j]) for j in used),
            )
        patterns.append(pattern)
    raise RuntimeError(f"the cutting-stock LP did not converge in {_MAX_ROUNDS} rounds")


def _best_pattern(
    sizes: np.ndarray, caps: np.ndarray, prices: np.ndarray, size: int
) -> tuple[float, np.ndarray]:
    """Bounded knapsack by dynamic programming over the bin's room: each size taken at most `caps`
    times, split into 1, 2, 4, ... copies so that it is a 0/1 knapsack over few items."""
    items: list[tuple[int, int]] = []  # (size index, copies)
    for i, cap in enumerate(caps.tolist()):
        left, copies = int(cap), 1
        while left > 0:
            take = min(copies, left)
            items.append((i, take))
            left -= take
            copies *= 2
    best = np.zeros(size + 1)
    taken = np.zeros((len(items), size + 1), dtype=bool)
    for j, (i, copies) in enumerate(items):
        weight, value = int(sizes[i]) * copies, float(prices[i]) * copies
        candidate = np.full(size + 1, -np.inf)
        candidate[weight:] = best[: size + 1 - weight] + value
        better = candidate > best + _EPS
        taken[j] = better
        best = np.where(better, candidate, best)
    room = int(np.argmax(best))
    pattern = np.zeros(sizes.size, dtype=np.int64)
    for j in range(len(items) - 1, -1, -1):
        if taken[j, room]:
            i, copies = items[j]
            pattern[i] += copies
            room -= int(sizes[i]) * copies
    return float(best.max()), pattern


def first_fit_decreasing(shares: Sequence[int], size: int = GPU_MILLI) -> int:
    """Bins first-fit decreasing uses: largest share first, each into the first bin with room."""
    room: list[int] = []
    for share in sorted(shares, reverse=True):
        for i, left in enumerate(room):
            if left >= share:
                room[i] = left - share
                break
        else:
            room.append(size - share)
    return len(room)


class SharePatterns:
    """For each share size of a workload, the used parts of a GPU it may join and stay on a pattern."""

    def __init__(self, demand: Mapping[int, float]) -> None:
        self.optimum = cutting_stock(demand)
        self._joins: dict[int, np.ndarray] = {}
        for pattern in self.optimum.patterns:
            for share, _ in pattern:
                # The share may join a GPU whose used part is a sub-multiset of the rest of the pattern.
                rest = [(s, k - (s == share)) for s, k in pattern]
                joins = self._joins.setdefault(share, np.zeros(GPU_MILLI + 1, dtype=bool))
                joins |= _subset_sums(rest)

    def joins(self, share: int, used: np.ndarray) -> np.ndarray | None:
        """Per GPU (`used`: milli-GPU in use, int array), whether `share` may join it; None for a share
        size the workload does not have (no pattern to follow)."""
        table = self._joins.get(share)
        if table is None:
            return None
        return np.asarray(table[np.clip(used, 0, GPU_MILLI)], dtype=bool)


def _subset_sums(items: Sequence[tuple[int, int]]) -> np.ndarray:
    """bool[GPU_MILLI + 1]: which totals some sub-multiset of (share, copies) items reaches."""
    reach = np.zeros(GPU_MILLI + 1, dtype=bool)
    reach[0] = True
    for share, copies in items:
        for _ in range(copies):
            shifted = np.zeros_like(reach)
            shifted[share:] = reach[: GPU_MILLI + 1 - share]
            reach |= shifted
    return reach


@functools.lru_cache(maxsize=32)
def share_patterns(demand: tuple[tuple[int, float], ...]) -> SharePatterns:
    """`SharePatterns` for (share, weight) pairs, kept for the next cycle's scorer: the live loop builds
    its scorer every cycle from the shapes queued and running, which seldom change between cycles."""
    return SharePatterns(dict(demand))
