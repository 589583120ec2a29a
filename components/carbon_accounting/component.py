"""The carbon accounting component: card, evaluation and the formula's parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from components.base import LICENSE, OWNER, BuiltinComponent, Trained
from components.carbon_accounting import data, formula
from model_hub.card import Card, Metric, Names, TensorSpec
from model_hub.taxonomy import Kind, Visibility

#: Standard coal equivalent of 1 GJ (29.3076 GJ/tce) and of 1 MWh of electricity at its calorific
#: equivalent (0.1229 tce/MWh, GB/T 2589-2020); 2.66 tCO2/tce is the rule-of-thumb proxy the baseline uses.
GJ_PER_TCE = 29.3076
TCE_PER_MWH = 0.1229
PROXY_TCO2_PER_TCE = 2.66


def reference(row: dict[str, Any], parameters: dict[str, Any]) -> float:
    """The same accounting written out line by line in plain Python, as an auditor would on paper."""
    total = 0.0
    for f, amount in zip(parameters["fuels"], row["fuel_consumption"], strict=True):
        total += amount * f["ncv_gj"] * f["carbon_tc_per_gj"] * f["oxidation"] * 44 / 12
    m_co2 = 44.009
    for c, amount in zip(parameters["carbonates"], row["carbonate_consumption"], strict=True):
        total += amount * m_co2 * c["co2_per_formula"] / c["molar_mass"]
    total += row["non_co2_emissions_t"][0] * parameters["gwp"]["ch4"]
    total += row["non_co2_emissions_t"][1] * parameters["gwp"]["n2o"]
    grid = {e["code"]: e["tco2_per_mwh"] for e in parameters["electricity"]["editions"]}
    factor = grid[row["electricity_factor"] or parameters["electricity"]["default"]]
    total += (row["electricity_mwh"][0] - row["electricity_mwh"][1]) * factor
    total += (row["heat_gj"][0] - row["heat_gj"][1]) * parameters["heat"]["tco2_per_gj"]
    return float(total - row["co2_recovered_t"][0])


def energy_proxy(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> np.ndarray:
    """Baseline: total energy in standard coal equivalent × 2.66 tCO2/tce, the shortcut replaced."""
    ncv = np.array([f["ncv_gj"] for f in parameters["fuels"]])
    tce = inputs["fuel_consumption"] @ ncv / GJ_PER_TCE
    tce = tce + (inputs["electricity_mwh"][:, 0] - inputs["electricity_mwh"][:, 1]) * TCE_PER_MWH
    tce = tce + (inputs["heat_gj"][:, 0] - inputs["heat_gj"][:, 1]) / GJ_PER_TCE
    return np.asarray(tce * PROXY_TCO2_PER_TCE)


class CarbonAccounting(BuiltinComponent):
    name = "carbon_accounting"

    def __init__(self, evaluation_ledgers: int = 500) -> None:
        self.evaluation_ledgers = evaluation_ledgers

    def train(self, seed: int = 0) -> Trained:
        params = formula.parameters()
        fuels = [f["code"] for f in params["fuels"]]
        carbonates = [c["code"] for c in params["carbonates"]]
        ledgers = data.generate(self.evaluation_ledgers, fuels, carbonates, seed=seed)
        got = formula.compute(ledgers.inputs, params)["total_tco2e"]
        rows = [
            {k: (v[i] if k != "electricity_factor" else str(v[i])) for k, v in ledgers.inputs.items()}
            for i in range(self.evaluation_ledgers)
        ]
        expected = np.array([reference(r, params) for r in rows])
        mape = float(np.mean(np.abs(got - expected) / np.abs(expected)) * 100)
        proxy_mape = float(
            np.mean(np.abs(energy_proxy(ledgers.inputs, params) - expected) / np.abs(expected)) * 100
        )
        return Trained(
            card=card(params, mape, proxy_mape, self.evaluation_ledgers),
            formula=f"{formula.__name__}:compute",
            parameters=params,
        )

    def example(self) -> dict[str, np.ndarray]:
        """Two ledgers: the worked example of the tests, and a cement plant under the 2021 grid factor."""
        params = formula.parameters()
        fuels = [f["code"] for f in params["fuels"]]
        carbonates = [c["code"] for c in params["carbonates"]]
        fuel = np.zeros((2, len(fuels)))
        carbonate = np.zeros((2, len(carbonates)))
        fuel[0, fuels.index("raw_coal")], fuel[0, fuels.index("natural_gas")] = 1000.0, 10.0
        carbonate[0, carbonates.index("limestone_caco3")] = 1000.0
        fuel[1, fuels.index("raw_coal")], fuel[1, fuels.index("diesel")] = 120_000.0, 800.0
        carbonate[1, carbonates.index("limestone_caco3")] = 900_000.0
        return {
            "fuel_consumption": fuel,
            "carbonate_consumption": carbonate,
            "non_co2_emissions_t": np.array([[2.0, 0.5], [0.0, 0.0]]),
            "electricity_mwh": np.array([[5000.0, 200.0], [90_000.0, 0.0]]),
            "heat_gj": np.array([[3000.0, 0.0], [0.0, 0.0]]),
            "co2_recovered_t": np.array([[100.0], [0.0]]),
            "electricity_factor": np.array(["MEE-2022", "MEE-2021"], dtype=object),
        }


def card(params: dict[str, Any], mape: float, proxy_mape: float, ledgers: int) -> Card:
    fuels = ", ".join(f"{f['code']} ({f['zh']}, {f['unit']})" for f in params["fuels"])
    carbonates = ", ".join(f"{c['code']} ({c['zh']}, t)" for c in params["carbonates"])
    editions = ", ".join(e["code"] for e in params["electricity"]["editions"])
    dataset = f"{ledgers} synthetic enterprise ledgers (5 sectors), against a line-by-line hand calculation"
    return Card(
        name="carbon_accounting",
        display=Names(zh="企业温室气体排放核算", en="Enterprise greenhouse-gas accounting"),
        kind=Kind.mechanism,
        industries=[
            "high-end-chemicals",
            "advanced-materials",
            "high-end-equipment",
            "light-industry",
            "textiles-apparel",
            "construction-machinery",
        ],
        task="greenhouse-gas accounting",
        owner=OWNER,
        license=LICENSE,
        visibility=Visibility.public,
        intended_use=(
            "绿色低碳治理：按 GB/T 32150-2015 的核算边界计算工业企业年度（或月度）温室气体排放量，"
            "包括化石燃料燃烧、碳酸盐分解过程排放、CH4/N2O（按 GWP 折算）、购入电力和热力，扣除输出的电力热力"
            "和回收利用的 CO2。Annual or monthly greenhouse-gas inventory of an industrial enterprise in the "
            "shape of GB/T 32150-2015: fossil-fuel combustion, carbonate process emissions, CH4/N2O by GWP, "
            "purchased electricity and heat, minus exported electricity and heat and recovered CO2."
        ),
        out_of_scope_use=(
            "不替代行业核算指南（GB/T 32151 系列）中的行业特定排放源，也不用于碳市场履约的第三方核查。"
            "Sector-specific sources of the GB/T 32151 series, and verified reporting for the carbon market."
        ),
        limitations=(
            "使用缺省排放因子；有实测低位发热量和含碳量时应使用实测值。Uses default factors (factor tables "
            f"version {params['version']}); measured NCV and carbon content should replace them where an "
            "enterprise has them. Factor values are as commonly reproduced from the cited sources; "
            "check them against the printed documents before official reporting."
        ),
        metrics=[
            Metric(
                name="mape_percent_vs_hand_calculation",
                value=mape,
                baseline=proxy_mape,
                higher_is_better=False,
                dataset=dataset + "; baseline: standard-coal-equivalent × 2.66 tCO2/tce shortcut",
            )
        ],
        standards=["GB/T 32150-2015", "IPCC AR5 GWP100"],
        inputs=[
            TensorSpec(
                name="fuel_consumption",
                datatype="FP64",
                shape=[-1, len(params["fuels"])],
                description=f"fossil fuel consumed, columns: {fuels}",
            ),
            TensorSpec(
                name="carbonate_consumption",
                datatype="FP64",
                shape=[-1, len(params["carbonates"])],
                description=f"pure carbonate decomposed, t; columns: {carbonates}",
            ),
            TensorSpec(
                name="non_co2_emissions_t",
                datatype="FP64",
                shape=[-1, 2],
                description="CH4 and N2O emitted, t",
            ),
            TensorSpec(
                name="electricity_mwh",
                datatype="FP64",
                shape=[-1, 2],
                description="electricity purchased and exported, MWh",
            ),
            TensorSpec(
                name="heat_gj", datatype="FP64", shape=[-1, 2], description="heat purchased and exported, GJ"
            ),
            TensorSpec(
                name="co2_recovered_t",
                datatype="FP64",
                shape=[-1, 1],
                description="CO2 recovered and used or sold, t",
            ),
            TensorSpec(
                name="electricity_factor",
                datatype="BYTES",
                shape=[-1],
                description=f"grid emission factor edition: {editions}; empty for "
                f"{params['electricity']['default']}",
            ),
        ],
        outputs=[
            TensorSpec(name="total_tco2e", datatype="FP64", shape=[-1], description="total emissions, tCO2e"),
            TensorSpec(
                name="breakdown_tco2e",
                datatype="FP64",
                shape=[-1, len(formula.BREAKDOWN)],
                description="tCO2e by source, columns: " + ", ".join(formula.BREAKDOWN),
            ),
        ],
        version_notes=f"factor tables {params['version']}; GWP edition {params['gwp']['code']}",
    )
