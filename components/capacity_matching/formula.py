"""Match a round of demand orders to enterprises with spare capacity, optimally, and explain each match.

An enterprise can take an order when it has the capability, its spare capacity covers the order and its load
after accepting stays at or under the ceiling (95 %: a fully booked plant delivers late). The cost of a
feasible pair weighs transport distance, the load after accepting (congestion risk) and the enterprise's
quality rating; leaving an order unmatched costs more than any feasible pair, so the assignment first
matches as many orders as it can and then minimises the total cost. Each enterprise receives at most one
order per round, so its declared spare capacity is never over-committed by two orders at once.
The assignment is joint over the rows of one request (scipy's linear_sum_assignment, Hungarian method).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from components.tensors import as_float, as_text, require

EARTH_RADIUS_KM = 6371.0
INFEASIBLE = 1e9


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a)))


def costs(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    """The pairwise terms: distance, load after accepting, feasibility and cost, each [orders, suppliers]."""
    require(inputs, "capability", "quantity_machine_hours", "location")
    capability = as_text(inputs["capability"])
    quantity = as_float(inputs["quantity_machine_hours"], "quantity_machine_hours").reshape(-1)
    location = as_float(inputs["location"], "location", 2)
    if not len(capability) == len(quantity) == len(location):
        raise ValueError("capability, quantity_machine_hours and location must have the same number of rows")
    if np.any(quantity <= 0):
        raise ValueError("quantity_machine_hours must be positive")
    known = set(parameters["capabilities"])
    unknown = sorted(set(capability) - known)
    if unknown:
        raise ValueError(f"unknown capability {unknown}; use one of {sorted(known)}")
    suppliers = parameters["suppliers"]
    weights = parameters["weights"]
    lat = np.array([s["lat"] for s in suppliers])
    lon = np.array([s["lon"] for s in suppliers])
    capacity = np.array([s["capacity_machine_hours"] for s in suppliers])
    load = np.array([s["load"] for s in suppliers])
    rating = np.array([s["rating"] for s in suppliers])
    distance = haversine_km(location[:, :1], location[:, 1:], lat[None, :], lon[None, :])
    load_after = load[None, :] + quantity[:, None] / capacity[None, :]
    able = np.array([[c in s["capabilities"] for s in suppliers] for c in capability], dtype=bool)
    feasible = able & (load_after <= parameters["max_load"])
    cost = (
        weights["per_100_km"] * distance / 100.0
        + weights["load_after"] * load_after
        + weights["rating_shortfall"] * (1.0 - rating)[None, :]
    )
    return {"distance": distance, "load_after": load_after, "able": able, "feasible": feasible, "cost": cost}


def compute(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    terms = costs(inputs, parameters)
    n_orders, n_suppliers = terms["cost"].shape
    # One dummy column per order stands for "unmatched"; an order may only use its own dummy.
    dummy = np.full((n_orders, n_orders), INFEASIBLE)
    np.fill_diagonal(dummy, parameters["unmatched_cost"])
    matrix = np.hstack([np.where(terms["feasible"], terms["cost"], INFEASIBLE), dummy])
    rows, cols = linear_sum_assignment(matrix)
    chosen = np.full(n_orders, -1)
    chosen[rows] = np.where(cols < n_suppliers, cols, -1)
    return explain(inputs, parameters, terms, chosen)


def explain(
    inputs: dict[str, np.ndarray],
    parameters: dict[str, Any],
    terms: dict[str, np.ndarray],
    chosen: np.ndarray,
) -> dict[str, np.ndarray]:
    """The output tensors for an assignment (`chosen[i]` = supplier index or -1), with a reason per row."""
    suppliers = parameters["suppliers"]
    names_zh = parameters["capabilities"]
    capability = as_text(inputs["capability"])
    quantity = np.asarray(inputs["quantity_machine_hours"], dtype=np.float64).reshape(-1)
    ids, distance, cost, text = [], [], [], []
    for i, j in enumerate(chosen):
        cap_zh = names_zh[capability[i]]
        options = np.flatnonzero(terms["feasible"][i])
        if j < 0:
            able = int(terms["able"][i].sum())
            if len(options) == 0:
                reason = (
                    f"未匹配：{able} 家企业具备{cap_zh}能力，但接单 {quantity[i]:.0f} 机时后负荷均超过 "
                    f"{parameters['max_load']:.0%}。Unmatched: {able} "
                    f"enterprises have {capability[i]}, none has "
                    f"spare capacity for {quantity[i]:.0f} machine-hours "
                    f"under the {parameters['max_load']:.0%} ceiling."
                )
            else:
                reason = (
                    f"未匹配：{len(options)} 家可接单企业均已分配给本轮其他订单。"
                    f"Unmatched: all {len(options)} "
                    "feasible enterprises were assigned to other orders of this round."
                )
            ids.append("")
            distance.append(0.0)
            cost.append(0.0)
            text.append(reason)
            continue
        s = suppliers[j]
        rank = int(np.sum(terms["cost"][i, options] < terms["cost"][i, j])) + 1
        d, after = float(terms["distance"][i, j]), float(terms["load_after"][i, j])
        reason = (
            f"匹配{s['name']}（{s['city']}）：具备{cap_zh}能力，距离 "
            f"{d:.0f} km，负荷 {s['load']:.0%}→{after:.0%}，"
            f"质量评分 {s['rating']:.2f}；在 {len(options)} 家可接单企业中成本排第 {rank}。"
            f"Matched to {s['id']} in {s['city']}: has "
            f"{capability[i]}, {d:.0f} km away, load {s['load']:.0%}→"
            f"{after:.0%}, rating {s['rating']:.2f}; cost rank {rank} of {len(options)} feasible enterprises"
            + (
                "."
                if rank == 1
                else " (a closer option served another order, lowering the round's total cost)."
            )
        )
        ids.append(s["id"])
        distance.append(d)
        cost.append(float(terms["cost"][i, j]))
        text.append(reason)
    return {
        "supplier_id": np.array(ids, dtype=object),
        "matched": chosen >= 0,
        "distance_km": np.array(distance),
        "cost": np.array(cost),
        "explanation": np.array(text, dtype=object),
    }


def greedy(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    """Baseline: first come, first served; each order takes the cheapest feasible enterprise still free."""
    terms = costs(inputs, parameters)
    taken: set[int] = set()
    chosen = np.full(terms["cost"].shape[0], -1)
    for i in range(len(chosen)):
        options = [j for j in np.argsort(terms["cost"][i]) if terms["feasible"][i, j] and j not in taken]
        if options:
            chosen[i] = options[0]
            taken.add(int(options[0]))
    return explain(inputs, parameters, terms, chosen)
