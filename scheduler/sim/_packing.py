"""How well could any placement have packed the shared GPUs: the clairvoyant bounds for `fill`.

At 100% arrived demand the allocation a fill run reaches is capacity minus the room left on GPUs that
hold shares (fractions of one GPU): whole-GPU work fills its GPUs exactly, and once no whole GPU is
free the whole-GPU tasks still arriving are the ones dropped. So the figure a placement policy can
move is the room it strands between shares, and it can be compared with what a packer that saw every
share at once would strand. Two such packers, on GPUs alone (no CPU, memory or node boundaries, all
of which only make it harder):

* first-fit decreasing (FFD), the classic offline heuristic: biggest share first, each into the first
  GPU with room;
* the linear-programming relaxation of the cutting-stock problem (Gilmore and Gomory, 1961), solved by
  column generation: a lower bound on the GPUs *any* packing of the shares needs, and hence on the room
  it must strand. Rounded up, it is usually the optimum itself (the "integer round-up property").

Neither is a bound on what an online policy placing tasks as they arrive must lose; they say how far a
result is from the best packing of the same shares, which is what tells a tuning target that is still
within reach from one that is not (docs/architecture.md, "Placement").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from scheduler.model import GPU_MILLI

_EPS = 1e-9
_MAX_ROUNDS = 1000
"""Column-generation rounds at most; the trace's ~25 share sizes converge in a few dozen."""


@dataclass(frozen=True, slots=True)
class Packing:
    """Shares of one GPU (milli-GPU each) and the GPUs that packers need for them."""

    shares: int
    demand_milli: int
    ffd_gpus: int
    """GPUs first-fit decreasing uses."""
    least_gpus: int
    """No packing uses fewer GPUs (the cutting-stock LP bound, rounded up)."""

    @property
    def ffd_room_milli(self) -> int:
        return self.ffd_gpus * GPU_MILLI - self.demand_milli

    @property
    def least_room_milli(self) -> int:
        """Room that every packing of these shares leaves on the GPUs holding them."""
        return self.least_gpus * GPU_MILLI - self.demand_milli


def pack(shares: Sequence[int], size: int = GPU_MILLI) -> Packing:
    """The FFD packing and the cutting-stock lower bound of `shares` (each 1..`size`) into bins of `size`."""
    if any(s <= 0 or s > size for s in shares):
        raise ValueError(f"every share must be in 1..{size} milli-GPU")
    demand = int(sum(shares))
    if not shares:
        return Packing(0, 0, 0, 0)
    return Packing(
        shares=len(shares),
        demand_milli=demand,
        ffd_gpus=first_fit_decreasing(shares, size),
        least_gpus=math.ceil(cutting_stock_bound(shares, size) - 1e-6),
    )


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


def cutting_stock_bound(shares: Sequence[int], size: int = GPU_MILLI) -> float:
    """The LP relaxation of the cutting-stock problem: the fewest bins, fractionally, that hold `shares`.

    Master: minimise the number of times each packing pattern is used, so that every share size is
    covered as often as it occurs. Pricing: the pattern worth most at the master's dual prices, a
    bounded knapsack over one bin; it enters while it is worth more than the bin it costs.
    """
    sizes, counts = np.unique(np.asarray(shares, dtype=np.int64), return_counts=True)
    n = sizes.size
    # Start from the patterns that repeat one size as often as it fits (and occurs).
    patterns = [np.where(np.arange(n) == i, min(size // int(sizes[i]), int(counts[i])), 0) for i in range(n)]
    for _ in range(_MAX_ROUNDS):
        columns = np.array(patterns, dtype=np.float64).T
        solved = linprog(
            np.ones(columns.shape[1]), A_ub=-columns, b_ub=-counts.astype(np.float64), method="highs"
        )
        if solved.status != 0:
            raise RuntimeError(f"the cutting-stock LP failed: {solved.message}")
        prices = -np.asarray(solved.ineqlin.marginals, dtype=np.float64)
        worth, pattern = _best_pattern(sizes, counts, prices, size)
        if worth <= 1.0 + _EPS:
            return float(solved.fun)
        patterns.append(pattern)
    raise RuntimeError(f"the cutting-stock LP did not converge in {_MAX_ROUNDS} rounds")


def _best_pattern(
    sizes: np.ndarray, counts: np.ndarray, prices: np.ndarray, size: int
) -> tuple[float, np.ndarray]:
    """Bounded knapsack by dynamic programming over the bin's room: each size taken at most as often as
    it occurs and fits, split into 1, 2, 4, ... copies so that it is a 0/1 knapsack over few items."""
    items: list[tuple[int, int]] = []  # (size index, copies)
    for i, (s, c) in enumerate(zip(sizes.tolist(), counts.tolist(), strict=True)):
        left, copies = min(int(c), size // int(s)), 1
        while left > 0:
            take = min(copies, left)
            items.append((i, take))
            left -= take
            copies *= 2
    best = np.zeros(size + 1)
    taken = np.zeros((len(items), size + 1), dtype=bool)
    for j, (i, copies) in enumerate(items):
        weight, value = int(sizes[i]) * copies, float(prices[i]) * copies
        if weight > size:
            continue
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
