"""Scorers that follow the pool's electricity price or grid carbon intensity.

Both break ties by best-fit, so work still packs inside the cheapest (or greenest) pool.
"""

from __future__ import annotations

import numpy as np

from scheduler.model import Resources
from scheduler.policy.scorers.base import Scorer, leftover_fraction
from scheduler.state import Allocation, Capacity

# Leftover fractions sum to at most 3, so this weight keeps the tie-break below one price/carbon unit.
_TIE_BREAK = 0.01


class Price(Scorer):
    name = "price"

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        price = cap.pool_price[cap.node_pool[nodes]]
        return np.asarray(price + _TIE_BREAK * leftover_fraction(cap, alloc, bundle, nodes), dtype=np.float64)


class Carbon(Scorer):
    name = "carbon"

    def score(self, cap: Capacity, alloc: Allocation, bundle: Resources, nodes: np.ndarray) -> np.ndarray:
        carbon = cap.pool_carbon[cap.node_pool[nodes]]
        return np.asarray(
            carbon + _TIE_BREAK * leftover_fraction(cap, alloc, bundle, nodes), dtype=np.float64
        )
