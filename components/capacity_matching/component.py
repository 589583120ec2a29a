"""The capacity matching component: parameters, evaluation against first-come-first-served, and the card."""

from __future__ import annotations

from typing import Any

import numpy as np

from components.base import LICENSE, OWNER, BuiltinComponent, Trained
from components.capacity_matching import data, formula
from model_hub.card import Card, Metric, Names, TensorSpec
from model_hub.taxonomy import Kind, Visibility

WEIGHTS = {"per_100_km": 1.0, "load_after": 2.0, "rating_shortfall": 2.0}


class CapacityMatching(BuiltinComponent):
    name = "capacity_matching"

    def __init__(self, suppliers: int = 100, rounds: int = 30, orders_per_round: int = 60) -> None:
        self.suppliers = suppliers
        self.rounds = rounds
        self.orders_per_round = orders_per_round

    def train(self, seed: int = 0) -> Trained:
        params = parameters(data.generate_suppliers(self.suppliers, seed=seed))
        rng = np.random.default_rng(seed + 1)
        optimal: dict[str, list[float]] = {"matched": [], "cost": [], "distance": []}
        greedy: dict[str, list[float]] = {"matched": [], "cost": [], "distance": []}
        for _ in range(self.rounds):
            orders = data.generate_orders(self.orders_per_round, rng)
            for result, out in (
                (optimal, formula.compute(orders, params)),
                (greedy, formula.greedy(orders, params)),
            ):
                result["matched"].append(float(out["matched"].mean()))
                result["cost"].extend(out["cost"][out["matched"]].tolist())
                result["distance"].extend(out["distance_km"][out["matched"]].tolist())
        metrics = {
            "matched_share": (float(np.mean(optimal["matched"])), float(np.mean(greedy["matched"])), True),
            "mean_cost_per_match": (float(np.mean(optimal["cost"])), float(np.mean(greedy["cost"])), False),
            "mean_distance_km": (
                float(np.mean(optimal["distance"])),
                float(np.mean(greedy["distance"])),
                False,
            ),
        }
        return Trained(
            card=card(params, metrics, self.rounds, self.orders_per_round),
            formula=f"{formula.__name__}:compute",
            parameters=params,
        )

    def example(self) -> dict[str, np.ndarray]:
        """Three orders of one round: two for CNC machining near Jinan, one for weaving near Binzhou."""
        return {
            "capability": np.array(["cnc_machining", "cnc_machining", "weaving"], dtype=object),
            "quantity_machine_hours": np.array([400.0, 120.0, 800.0]),
            "location": np.array([[36.66, 117.05], [36.70, 117.20], [37.38, 117.97]]),
        }


def parameters(suppliers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "suppliers": suppliers,
        "capabilities": data.CAPABILITIES,
        "weights": WEIGHTS,
        "max_load": 0.95,
        # Above any feasible pair's cost (a cross-province trip is ~10), so matching more orders always wins.
        "unmatched_cost": 100.0,
    }


def card(
    params: dict[str, Any], metrics: dict[str, tuple[float, float, bool]], rounds: int, orders: int
) -> Card:
    caps = ", ".join(f"{k} ({v})" for k, v in data.CAPABILITIES.items())
    return Card(
        name="capacity_matching",
        display=Names(zh="产能共享撮合", en="Shared capacity matching"),
        kind=Kind.knowledge,
        industries=[
            "high-end-equipment",
            "construction-machinery",
            "agricultural-machinery",
            "light-industry",
            "textiles-apparel",
            "commerce-distribution",
        ],
        task="order matching",
        owner=OWNER,
        license=LICENSE,
        visibility=Visibility.public,
        intended_use=(
            "产能共享与交易撮合：把一轮需求订单与有闲置产能的企业做最优匹配（能力、距离、负荷、质量评分），"
            "并给出每个匹配的理由。Matches one round of demand orders to enterprises with spare capacity by "
            "capability, distance, load and quality rating with "
            "an optimal assignment, and explains each match."
        ),
        out_of_scope_use=(
            "价格谈判与合同；跨轮次的排产。Price negotiation and contracts; multi-round scheduling."
        ),
        limitations=(
            f"企业名录为合成数据（{len(params['suppliers'])} "
            "家）；每家企业每轮最多接一单。The enterprise registry "
            "is synthetic; each enterprise takes at most one "
            "order per round; an order is not split. Weights: "
            + ", ".join(f"{k}={v}" for k, v in WEIGHTS.items())
        ),
        metrics=[
            Metric(
                name=name,
                value=value,
                baseline=base,
                higher_is_better=higher,
                dataset=(
                    f"{rounds} synthetic rounds of {orders} orders; baseline: first come, first served (each "
                    "order takes the cheapest free enterprise)"
                ),
            )
            for name, (value, base, higher) in metrics.items()
        ],
        inputs=[
            TensorSpec(
                name="capability", datatype="BYTES", shape=[-1], description=f"capability needed: {caps}"
            ),
            TensorSpec(
                name="quantity_machine_hours", datatype="FP64", shape=[-1], description="machine-hours needed"
            ),
            TensorSpec(
                name="location",
                datatype="FP64",
                shape=[-1, 2],
                description="latitude and longitude of the ordering enterprise, degrees",
            ),
        ],
        outputs=[
            TensorSpec(
                name="supplier_id", datatype="BYTES", shape=[-1], description="matched enterprise, '' if none"
            ),
            TensorSpec(name="matched", datatype="BOOL", shape=[-1]),
            TensorSpec(
                name="distance_km",
                datatype="FP64",
                shape=[-1],
                description="great-circle distance, 0 if none",
            ),
            TensorSpec(
                name="cost", datatype="FP64", shape=[-1], description="weighted cost of the match, 0 if none"
            ),
            TensorSpec(
                name="explanation", datatype="BYTES", shape=[-1], description="why, in Chinese and English"
            ),
        ],
    )
