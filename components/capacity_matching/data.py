"""Synthetic spare-capacity registry and demand orders for capacity sharing (产能共享) in Shandong.

Assumptions (nothing here is real enterprise data):
- Enterprises sit within about 20 km of one of the 16 city centres (coordinates rounded to 0.01°).
- Each has 2–4 of 12 manufacturing capabilities, a monthly capacity of 500–5000 machine-hours, a current
  load of 30–95 % and a quality rating of 0.80–1.00 from past shared orders.
- Orders come from enterprises in the same cities, need one capability and 50–1500 machine-hours
  (log-uniform: most shared orders are small), and arrive in rounds that are matched together.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CITIES: dict[str, tuple[float, float]] = {
    "济南": (36.65, 117.12),
    "青岛": (36.07, 120.38),
    "淄博": (36.81, 118.05),
    "枣庄": (34.81, 117.32),
    "东营": (37.43, 118.67),
    "烟台": (37.46, 121.45),
    "潍坊": (36.71, 119.16),
    "济宁": (35.41, 116.59),
    "泰安": (36.20, 117.09),
    "威海": (37.51, 122.12),
    "日照": (35.42, 119.53),
    "临沂": (35.10, 118.36),
    "德州": (37.43, 116.36),
    "聊城": (36.46, 115.99),
    "滨州": (37.38, 117.97),
    "菏泽": (35.23, 115.48),
}

CAPABILITIES: dict[str, str] = {
    "cnc_machining": "数控加工",
    "sheet_metal": "钣金加工",
    "casting": "铸造",
    "forging": "锻造",
    "injection_moulding": "注塑成型",
    "welding": "焊接",
    "heat_treatment": "热处理",
    "surface_coating": "表面涂装",
    "smt_assembly": "电路板贴装",
    "weaving": "织造",
    "garment_sewing": "服装缝制",
    "chemical_blending": "化工复配",
}
_KM_PER_DEGREE = 111.0


def generate_suppliers(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cities, capabilities = list(CITIES), list(CAPABILITIES)
    suppliers = []
    for i in range(n):
        city = cities[rng.integers(len(cities))]
        lat, lon = CITIES[city]
        suppliers.append(
            {
                "id": f"S{i + 1:04d}",
                "name": f"{city}共享工厂{i + 1:03d}",
                "city": city,
                "lat": round(lat + rng.normal(0, 20 / _KM_PER_DEGREE / 2), 2),
                "lon": round(lon + rng.normal(0, 20 / _KM_PER_DEGREE / 2), 2),
                "capabilities": sorted(rng.choice(capabilities, size=int(rng.integers(2, 5)), replace=False)),
                "capacity_machine_hours": round(float(rng.uniform(500, 5000)), -1),
                "load": round(float(rng.uniform(0.3, 0.95)), 2),
                "rating": round(float(rng.uniform(0.8, 1.0)), 2),
            }
        )
    return suppliers


def generate_orders(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One round of `n` orders as the component's input tensors."""
    cities, capabilities = list(CITIES), list(CAPABILITIES)
    where = [CITIES[cities[i]] for i in rng.integers(len(cities), size=n)]
    location = np.array(where) + rng.normal(0, 20 / _KM_PER_DEGREE / 2, (n, 2))
    return {
        "capability": np.array(
            [capabilities[i] for i in rng.integers(len(capabilities), size=n)], dtype=object
        ),
        "quantity_machine_hours": np.exp(rng.uniform(np.log(50), np.log(1500), n)).round(),
        "location": location.round(2),
    }
