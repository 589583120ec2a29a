"""A day's electricity use (kWh, FP32, one value per row) as the ledger `carbon_accounting` reads.

The two components do not meet directly: the forecast gives energy in kWh as FP32 ``[-1]``, while the
accounting takes purchased and exported electricity in MWh as FP64 ``[-1, 2]`` and six more ledger
tensors (fuels, carbonates, CH₄/N₂O, heat, recovered CO₂). This formula converts the unit, the
datatype and the shape, and fills the rest of the ledger with zeros: the emissions are those of the
purchased electricity alone (scope 2). Parameters: the numbers of fuel and carbonate columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from components.tensors import as_float, require

KWH_PER_MWH = 1000.0


def compute(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    require(inputs, "daily_energy_kwh")
    kwh = as_float(inputs["daily_energy_kwh"], "daily_energy_kwh").reshape(-1)
    if np.any(kwh < 0):
        raise ValueError("daily_energy_kwh must not be negative")
    rows = kwh.shape[0]
    electricity = np.zeros((rows, 2))
    electricity[:, 0] = kwh / KWH_PER_MWH  # purchased; nothing exported
    return {
        "fuel_consumption": np.zeros((rows, int(parameters["fuels"]))),
        "carbonate_consumption": np.zeros((rows, int(parameters["carbonates"]))),
        "non_co2_emissions_t": np.zeros((rows, 2)),
        "electricity_mwh": electricity,
        "heat_gj": np.zeros((rows, 2)),
        "co2_recovered_t": np.zeros((rows, 1)),
    }
