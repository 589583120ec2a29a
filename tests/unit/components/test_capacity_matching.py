"""The assignment is optimal (against brute force), feasible, explained, and beats first come first served."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from components import Trained
from components.capacity_matching.component import parameters
from components.capacity_matching.data import CITIES, generate_orders, generate_suppliers
from components.capacity_matching.formula import compute, costs, greedy, haversine_km


def test_haversine_jinan_qingdao() -> None:
    (lat1, lon1), (lat2, lon2) = CITIES["济南"], CITIES["青岛"]
    # Spherical law of cosines, an independent formula for the same great circle.
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    expected = 6371.0 * math.acos(math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl))
    got = float(haversine_km(np.array(lat1), np.array(lon1), np.array(lat2), np.array(lon2)))
    assert got == pytest.approx(expected, rel=1e-9)
    assert 290 < got < 310


def small_market(seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    params = parameters(generate_suppliers(6, seed=seed))
    params["capabilities"] = {"cnc_machining": "数控加工"}
    for s in params["suppliers"]:
        s["capabilities"] = ["cnc_machining"]
    orders = generate_orders(4, np.random.default_rng(seed))
    orders["capability"] = np.array(["cnc_machining"] * 4, dtype=object)
    return orders, params


@pytest.mark.parametrize("seed", range(5))
def test_assignment_equals_brute_force_optimum(seed: int) -> None:
    orders, params = small_market(seed)
    terms = costs(orders, params)
    best = (-1, math.inf)  # (matched, cost): most orders first, then least cost
    for perm in itertools.permutations(range(len(params["suppliers"])), 4):
        pairs = [(i, j) for i, j in enumerate(perm) if terms["feasible"][i, j]]
        score = (len(pairs), sum(terms["cost"][i, j] for i, j in pairs))
        if score[0] > best[0] or (score[0] == best[0] and score[1] < best[1] - 1e-9):
            best = score
    out = compute(orders, params)
    assert int(out["matched"].sum()) == best[0]
    assert float(out["cost"].sum()) == pytest.approx(best[1])


def test_matches_are_feasible_and_explained() -> None:
    params = parameters(generate_suppliers(40, seed=1))
    orders = generate_orders(30, np.random.default_rng(2))
    out = compute(orders, params)
    by_id = {s["id"]: s for s in params["suppliers"]}
    for i, sid in enumerate(out["supplier_id"]):
        if not out["matched"][i]:
            assert sid == "" and "Unmatched" in out["explanation"][i]
            continue
        s = by_id[sid]
        assert orders["capability"][i] in s["capabilities"]
        assert s["load"] + orders["quantity_machine_hours"][i] / s["capacity_machine_hours"] <= 0.95 + 1e-9
        assert sid in out["explanation"][i] and "km" in out["explanation"][i]
    assert len(set(out["supplier_id"][out["matched"]])) == int(out["matched"].sum())  # one order each


def test_an_order_nobody_can_serve_is_unmatched_with_the_reason() -> None:
    orders, params = small_market(0)
    orders["quantity_machine_hours"] = np.array([1e6, 10.0, 10.0, 10.0])
    out = compute(orders, params)
    assert not out["matched"][0] and out["matched"][1:].all()
    assert "none has spare capacity" in out["explanation"][0]


def test_bytes_capabilities_are_accepted_and_unknown_ones_refused() -> None:
    orders, params = small_market(0)
    orders["capability"] = np.array([b"cnc_machining"] * 4, dtype=object)
    assert compute(orders, params)["matched"].all()
    orders["capability"] = np.array([b"teleportation"] * 4, dtype=object)
    with pytest.raises(ValueError, match="unknown capability"):
        compute(orders, params)


def test_optimal_never_loses_to_greedy_on_a_round() -> None:
    params = parameters(generate_suppliers(50, seed=3))
    rng = np.random.default_rng(4)
    for _ in range(5):
        orders = generate_orders(30, rng)
        opt, fcfs = compute(orders, params), greedy(orders, params)
        assert opt["matched"].sum() >= fcfs["matched"].sum()
        if opt["matched"].sum() == fcfs["matched"].sum():
            assert opt["cost"].sum() <= fcfs["cost"].sum() + 1e-9


def test_card_figures_beat_first_come_first_served(train_small: Callable[[str], Trained]) -> None:
    metrics = {m.name: m for m in train_small("capacity_matching").card.metrics}
    assert metrics["matched_share"].value >= metrics["matched_share"].baseline  # type: ignore[operator]
    assert metrics["mean_distance_km"].value < metrics["mean_distance_km"].baseline  # type: ignore[operator]
