"""Enterprise greenhouse-gas accounting in the shape of GB/T 32150-2015 (a pure formula, no pickle).

    E = E_combustion + E_process + E_non_co2 + E_purchased_electricity + E_purchased_heat
        - E_exported_electricity_and_heat - E_co2_recovered

- fuel combustion: consumption × NCV × carbon per unit heat × oxidation rate × 44/12
- process (carbonate decomposition): carbonate mass × stoichiometric CO2 factor
- non-CO2 gases: mass × GWP100 (CH4, N2O)
- electricity: MWh × grid factor of the requested edition; heat: GJ × heat factor
- exported electricity and heat and recovered CO2 are subtracted.

`compute` is a pure function of its input tensors and the JSON parameters built by `parameters()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from components.tensors import as_float, as_text, require

FACTORS_FILE = Path(__file__).with_name("factors.yaml")
CO2_PER_C = 44.0 / 12.0
#: The order of the columns of `breakdown_tco2e`.
BREAKDOWN = (
    "fuel_combustion",
    "process",
    "non_co2_gases",
    "purchased_electricity",
    "purchased_heat",
    "exported_electricity_and_heat",
    "co2_recovered",
)
INPUTS = (
    "fuel_consumption",
    "carbonate_consumption",
    "non_co2_emissions_t",
    "electricity_mwh",
    "heat_gj",
    "co2_recovered_t",
    "electricity_factor",
)


def parameters(gwp_edition: str | None = None) -> dict[str, Any]:
    """The JSON parameters: the factor tables, flattened into the order of the input columns."""
    tables = yaml.safe_load(FACTORS_FILE.read_text(encoding="utf-8"))
    gwp_code = gwp_edition or tables["gwp"]["default"]
    gwp = next((g for g in tables["gwp"]["editions"] if g["code"] == gwp_code), None)
    if gwp is None:
        codes = [g["code"] for g in tables["gwp"]["editions"]]
        raise ValueError(f"unknown GWP edition {gwp_code!r}; use one of {codes}")
    m_co2 = tables["carbonates"]["co2_molar_mass"]
    return {
        "version": tables["version"],
        "fuels": [
            {
                **f,
                # Factor per unit consumed, so compute() is one matrix product.
                "tco2_per_unit": f["ncv_gj"] * f["carbon_tc_per_gj"] * f["oxidation"] * CO2_PER_C,
            }
            for f in tables["fuels"]["table"]
        ],
        "fuel_source": tables["fuels"]["source"],
        "carbonates": [
            {**c, "tco2_per_t": m_co2 * c["co2_per_formula"] / c["molar_mass"]}
            for c in tables["carbonates"]["table"]
        ],
        "carbonate_source": tables["carbonates"]["source"],
        "electricity": tables["electricity"],
        "heat": tables["heat"],
        "gwp": gwp,
    }


def compute(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    """Account a batch of enterprise energy and material ledgers; one row per enterprise and period."""
    require(inputs, *INPUTS)
    fuel_factors = np.array([f["tco2_per_unit"] for f in parameters["fuels"]], dtype=np.float64)
    carbonate_factors = np.array([c["tco2_per_t"] for c in parameters["carbonates"]], dtype=np.float64)
    fuel = as_float(inputs["fuel_consumption"], "fuel_consumption", len(fuel_factors))
    carbonate = as_float(inputs["carbonate_consumption"], "carbonate_consumption", len(carbonate_factors))
    non_co2 = as_float(inputs["non_co2_emissions_t"], "non_co2_emissions_t", 2)
    electricity = as_float(inputs["electricity_mwh"], "electricity_mwh", 2)
    heat = as_float(inputs["heat_gj"], "heat_gj", 2)
    recovered = as_float(inputs["co2_recovered_t"], "co2_recovered_t", 1)[:, 0]
    editions = as_text(inputs["electricity_factor"])
    batch = fuel.shape[0]
    for name, arr in (
        ("carbonate_consumption", carbonate),
        ("non_co2_emissions_t", non_co2),
        ("electricity_mwh", electricity),
        ("heat_gj", heat),
    ):
        if arr.shape[0] != batch:
            raise ValueError(f"input {name!r} has {arr.shape[0]} rows, fuel_consumption has {batch}")
    if len(editions) != batch or recovered.shape[0] != batch:
        raise ValueError(
            f"electricity_factor and co2_recovered_t must have {batch} rows like the other inputs"
        )
    for name, arr in (
        ("fuel_consumption", fuel),
        ("carbonate_consumption", carbonate),
        ("non_co2_emissions_t", non_co2),
        ("electricity_mwh", electricity),
        ("heat_gj", heat),
        ("co2_recovered_t", recovered),
    ):
        if np.any(arr < 0):
            raise ValueError(
                f"input {name!r} holds negative quantities; report consumption as positive amounts"
            )

    grid = {e["code"]: e["tco2_per_mwh"] for e in parameters["electricity"]["editions"]}
    default = parameters["electricity"]["default"]
    unknown = sorted({e for e in editions if e and e not in grid})
    if unknown:
        raise ValueError(f"unknown electricity factor edition(s) {unknown}; use one of {sorted(grid)}")
    grid_factor = np.array([grid[e or default] for e in editions], dtype=np.float64)
    heat_factor = float(parameters["heat"]["tco2_per_gj"])
    gwp = np.array([parameters["gwp"]["ch4"], parameters["gwp"]["n2o"]], dtype=np.float64)

    breakdown = np.stack(
        [
            fuel @ fuel_factors,
            carbonate @ carbonate_factors,
            non_co2 @ gwp,
            electricity[:, 0] * grid_factor,
            heat[:, 0] * heat_factor,
            -(electricity[:, 1] * grid_factor + heat[:, 1] * heat_factor),
            -recovered,
        ],
        axis=1,
    )
    return {"total_tco2e": breakdown.sum(axis=1), "breakdown_tco2e": breakdown}
