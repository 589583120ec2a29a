"""The electricity ledger adapter: card and parameters (no training: a unit conversion)."""

from __future__ import annotations

import numpy as np

from components.base import LICENSE, OWNER, BuiltinComponent, Trained
from components.carbon_accounting import formula as carbon
from components.electricity_ledger import formula
from model_hub.card import Card, Names, TensorSpec
from model_hub.taxonomy import Kind, Visibility

#: The industries the built-in pipeline serves: those of both energy_forecast and carbon_accounting.
INDUSTRIES = [
    "high-end-equipment",
    "high-end-chemicals",
    "advanced-materials",
    "light-industry",
    "textiles-apparel",
]


class ElectricityLedger(BuiltinComponent):
    name = "electricity_ledger"

    def train(self, seed: int = 0) -> Trained:
        params = carbon.parameters()
        parameters = {"fuels": len(params["fuels"]), "carbonates": len(params["carbonates"])}
        return Trained(card=card(parameters), formula=f"{formula.__name__}:compute", parameters=parameters)

    def example(self) -> dict[str, np.ndarray]:
        return {"daily_energy_kwh": np.array([6499.74, 48_000.0], dtype=np.float32)}


def card(parameters: dict[str, int]) -> Card:
    fuels, carbonates = parameters["fuels"], parameters["carbonates"]

    def ledger(name: str, columns: int, meaning: str) -> TensorSpec:
        return TensorSpec(name=name, datatype="FP64", shape=[-1, columns], description=meaning)

    return Card(
        name="electricity_ledger",
        display=Names(zh="用电量转排放核算台账", en="Electricity use as an emissions ledger"),
        kind=Kind.mechanism,
        industries=INDUSTRIES,
        task="unit conversion",
        owner=OWNER,
        license=LICENSE,
        visibility=Visibility.public,
        intended_use=(
            "把一天的用电量（kWh）转为温室气体核算台账（外购电力 MWh，其余为零），"
            "连接用电负荷预测与碳排放核算。"
            "Turns a day's electricity use (kWh) into the greenhouse-gas ledger of carbon_accounting "
            "(purchased electricity in MWh, every other source zero): the adapter between energy_forecast "
            "and carbon_accounting in the pipeline energy_carbon_forecast."
        ),
        limitations="Scope 2 only: fuels, process emissions, heat and recovered CO2 are left at zero.",
        inputs=[
            TensorSpec(
                name="daily_energy_kwh", datatype="FP32", shape=[-1], description="energy of the day, kWh"
            )
        ],
        outputs=[
            ledger("fuel_consumption", fuels, "zero: no fuel in this ledger"),
            ledger("carbonate_consumption", carbonates, "zero: no carbonates in this ledger"),
            ledger("non_co2_emissions_t", 2, "zero: no CH4 or N2O"),
            ledger("electricity_mwh", 2, "electricity purchased (the day's energy) and exported (0), MWh"),
            ledger("heat_gj", 2, "zero: no heat"),
            ledger("co2_recovered_t", 1, "zero: nothing recovered"),
        ],
    )
