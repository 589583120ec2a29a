"""The offline packings the fill report compares placement with: first-fit decreasing and the
cutting-stock LP bound, checked against exact optima found by search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scheduler.sim._packing import cutting_stock_bound, first_fit_decreasing, pack


def optimum(shares: list[int], size: int) -> int:
    """The fewest bins that hold `shares`, by exhaustive search (small instances only)."""
    best = len(shares)

    def place(i: int, room: list[int]) -> None:
        nonlocal best
        if len(room) >= best:
            return
        if i == len(shares):
            best = len(room)
            return
        tried: set[int] = set()
        for j, left in enumerate(room):
            if left >= shares[i] and left not in tried:
                tried.add(left)
                room[j] -= shares[i]
                place(i + 1, room)
                room[j] += shares[i]
        place(i + 1, [*room, size - shares[i]])

    place(0, [])
    return best


def test_ffd_is_beaten_and_the_bound_finds_the_optimum() -> None:
    # First-fit decreasing puts the two 3s together and needs a third bin; 3+2+2 twice needs two.
    shares = [3, 3, 2, 2, 2, 2]
    assert first_fit_decreasing(shares, size=7) == 3
    assert cutting_stock_bound(shares, size=7) == pytest.approx(2.0)
    packing = pack(shares, size=7)
    assert (packing.ffd_gpus, packing.least_gpus) == (3, 2)


def test_shares_that_cannot_share_a_gpu() -> None:
    packing = pack([510, 510, 510])
    assert (packing.ffd_gpus, packing.least_gpus) == (3, 3)
    assert packing.least_room_milli == 3 * 1000 - 1530
    halves = pack([500] * 4)
    assert (halves.least_gpus, halves.least_room_milli, halves.ffd_room_milli) == (2, 0, 0)


@pytest.mark.parametrize("seed", range(12))
def test_bound_never_exceeds_the_optimum(seed: int) -> None:
    """On random trace-like shares, ceil(demand) <= LP bound <= optimum <= FFD."""
    rng = np.random.default_rng(seed)
    sizes = [50, 110, 160, 230, 320, 470, 550, 650, 810]
    shares = [int(s) for s in rng.choice(sizes, size=int(rng.integers(3, 10)))]
    packing = pack(shares)
    best = optimum(sorted(shares, reverse=True), 1000)
    assert math.ceil(sum(shares) / 1000) <= packing.least_gpus <= best <= packing.ffd_gpus


def test_a_trace_sized_instance_is_quick_and_consistent() -> None:
    rng = np.random.default_rng(7)
    sizes = np.array([810, 470, 320, 650, 230, 460, 590, 160, 550, 220, 370, 110, 480, 50])
    weights = np.array([1078, 750, 328, 253, 140, 128, 75, 74, 72, 62, 47, 24, 19, 7], dtype=float)
    shares = [int(s) for s in rng.choice(sizes, size=3000, p=weights / weights.sum())]
    packing = pack(shares)
    assert math.ceil(packing.demand_milli / 1000) <= packing.least_gpus <= packing.ffd_gpus
    # Every 0.81 share needs a GPU of its own: the bound must see that the small shares cannot
    # fill the 0.19 left beside each of them.
    big = shares.count(810)
    small = sum(s for s in shares if s <= 190)
    assert packing.least_room_milli >= big * 190 - small - 1000


def test_bad_shares_are_refused() -> None:
    with pytest.raises(ValueError, match="1..1000"):
        pack([0, 500])
    with pytest.raises(ValueError, match="1..1000"):
        pack([1001])
    assert pack([]).least_gpus == 0
