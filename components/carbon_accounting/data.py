"""Synthetic annual energy and material ledgers of Shandong industrial enterprises.

Assumptions (nothing here is measured data):
- Five archetypes with their typical energy mix: cement (coal and limestone), chemicals (coal, natural gas,
  purchased steam, N2O from nitric acid), machinery (electricity, natural gas, diesel), textiles (purchased
  steam, electricity, natural gas), ceramics (natural gas, dolomite, LPG).
- Quantities are log-normal around an archetype's typical annual amount (sigma 0.5: enterprises of one sector
  differ by a factor of a few), and an item other than purchased electricity is absent with probability 0.2.
- A fifth of the enterprises run a rooftop PV or a heat-recovery unit and export some electricity or heat;
  chemical plants recover a little CO2 for sale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Typical annual amounts per archetype, in the units of the factor tables (t, 10^4 Nm3, MWh, GJ).
_ARCHETYPES: dict[str, dict[str, float]] = {
    "cement": {"raw_coal": 120_000, "diesel": 800, "limestone_caco3": 900_000, "purchased_mwh": 90_000},
    "chemicals": {
        "raw_coal": 60_000,
        "natural_gas": 2_000,
        "fuel_oil": 3_000,
        "purchased_mwh": 150_000,
        "purchased_heat_gj": 400_000,
        "n2o_t": 60,
        "recovered_t": 8_000,
    },
    "machinery": {"natural_gas": 300, "diesel": 400, "gasoline": 80, "purchased_mwh": 40_000},
    "textiles": {"natural_gas": 200, "purchased_mwh": 30_000, "purchased_heat_gj": 250_000},
    "ceramics": {"natural_gas": 1_500, "lpg": 500, "dolomite_camgco3_2": 20_000, "purchased_mwh": 15_000},
}


@dataclass
class Ledgers:
    """A batch of ledgers as the component's input tensors, plus each row's archetype."""

    inputs: dict[str, np.ndarray]
    archetypes: list[str]


def generate(n: int, fuels: list[str], carbonates: list[str], seed: int = 0) -> Ledgers:
    """`n` synthetic ledgers; `fuels` and `carbonates` give the column order of the factor tables."""
    rng = np.random.default_rng(seed)
    names = sorted(_ARCHETYPES)
    fuel = np.zeros((n, len(fuels)))
    carbonate = np.zeros((n, len(carbonates)))
    non_co2 = np.zeros((n, 2))
    electricity = np.zeros((n, 2))
    heat = np.zeros((n, 2))
    recovered = np.zeros((n, 1))
    archetypes = []
    for i in range(n):
        kind = names[rng.integers(len(names))]
        archetypes.append(kind)
        for item, typical in _ARCHETYPES[kind].items():
            # Every enterprise buys electricity; any other item may be absent.
            present = item == "purchased_mwh" or rng.random() > 0.2
            amount = typical * rng.lognormal(0.0, 0.5) * present
            if item in fuels:
                fuel[i, fuels.index(item)] = amount
            elif item in carbonates:
                carbonate[i, carbonates.index(item)] = amount
            elif item == "purchased_mwh":
                electricity[i, 0] = amount
            elif item == "purchased_heat_gj":
                heat[i, 0] = amount
            elif item == "n2o_t":
                non_co2[i, 1] = amount
            elif item == "recovered_t":
                recovered[i, 0] = amount
        # Fugitive methane from gas pipework, small everywhere gas is burnt.
        if "natural_gas" in fuels:
            non_co2[i, 0] = fuel[i, fuels.index("natural_gas")] * rng.uniform(0.0, 0.02)
        if rng.random() < 0.2:
            electricity[i, 1] = electricity[i, 0] * rng.uniform(0.02, 0.15)
            heat[i, 1] = heat[i, 0] * rng.uniform(0.0, 0.1)
    editions = np.array([rng.choice(["MEE-2021", "MEE-2022", ""]) for _ in range(n)], dtype=object)
    return Ledgers(
        inputs={
            "fuel_consumption": fuel,
            "carbonate_consumption": carbonate,
            "non_co2_emissions_t": non_co2,
            "electricity_mwh": electricity,
            "heat_gj": heat,
            "co2_recovered_t": recovered,
            "electricity_factor": editions,
        },
        archetypes=archetypes,
    )
