"""Carbon accounting checked against examples computed by hand from GB/T 32150-2015's formulas."""

from __future__ import annotations

import json

import numpy as np
import pytest

from components.carbon_accounting.component import CarbonAccounting
from components.carbon_accounting.formula import BREAKDOWN, compute, parameters

FUELS = [f["code"] for f in parameters()["fuels"]]
CARBONATES = [c["code"] for c in parameters()["carbonates"]]


def ledger(**amounts: float) -> dict[str, np.ndarray]:
    """One enterprise's ledger with the named amounts and zero elsewhere."""
    fuel = np.zeros((1, len(FUELS)))
    carbonate = np.zeros((1, len(CARBONATES)))
    for code, value in amounts.items():
        if code in FUELS:
            fuel[0, FUELS.index(code)] = value
        elif code in CARBONATES:
            carbonate[0, CARBONATES.index(code)] = value
    return {
        "fuel_consumption": fuel,
        "carbonate_consumption": carbonate,
        "non_co2_emissions_t": np.array([[amounts.get("ch4", 0.0), amounts.get("n2o", 0.0)]]),
        "electricity_mwh": np.array([[amounts.get("mwh_in", 0.0), amounts.get("mwh_out", 0.0)]]),
        "heat_gj": np.array([[amounts.get("gj_in", 0.0), amounts.get("gj_out", 0.0)]]),
        "co2_recovered_t": np.array([[amounts.get("recovered", 0.0)]]),
        "electricity_factor": np.array([b"MEE-2022"], dtype=object),
    }


def test_coal_combustion_matches_hand_calculation() -> None:
    # 1000 t raw coal × 20.908 GJ/t × 0.02637 tC/GJ × 0.94 × 44/12 = 1900.2988 tCO2
    out = compute(ledger(raw_coal=1000), parameters())
    assert out["total_tco2e"][0] == pytest.approx(1900.2988, abs=1e-3)


def test_natural_gas_combustion_matches_hand_calculation() -> None:
    # 10 × 10^4 Nm3 × 389.31 GJ/10^4 Nm3 × 0.0153 tC/GJ × 0.99 × 44/12 = 216.2189 tCO2
    out = compute(ledger(natural_gas=10), parameters())
    assert out["total_tco2e"][0] == pytest.approx(216.2189, abs=1e-3)


def test_carbonate_factors_are_stoichiometric() -> None:
    # CaCO3 → CaO + CO2: 44.009 / 100.086 = 0.43971; CaMg(CO3)2 releases two CO2: 88.018 / 184.399 = 0.47732
    factors = {c["code"]: c["tco2_per_t"] for c in parameters()["carbonates"]}
    assert factors["limestone_caco3"] == pytest.approx(0.43971, abs=1e-5)
    assert factors["dolomite_camgco3_2"] == pytest.approx(0.47732, abs=1e-5)


def test_full_ledger_matches_hand_calculation() -> None:
    # coal 1900.2988 + gas 216.2189 + limestone 1000 t × 0.43971 = 439.7118
    # + CH4 2 t × 28 + N2O 0.5 t × 265 = 188.5 (IPCC AR5)
    # + purchased 5000 MWh × 0.5703 = 2851.5 − exported 200 MWh × 0.5703 = 114.06
    # + purchased heat 3000 GJ × 0.11 = 330 − recovered CO2 100 t  →  5712.1695 tCO2e
    out = compute(
        ledger(
            raw_coal=1000,
            natural_gas=10,
            limestone_caco3=1000,
            ch4=2,
            n2o=0.5,
            mwh_in=5000,
            mwh_out=200,
            gj_in=3000,
            recovered=100,
        ),
        parameters(),
    )
    breakdown = dict(zip(BREAKDOWN, out["breakdown_tco2e"][0], strict=True))
    assert breakdown["fuel_combustion"] == pytest.approx(2116.5177, abs=1e-3)
    assert breakdown["process"] == pytest.approx(439.7118, abs=1e-3)
    assert breakdown["non_co2_gases"] == pytest.approx(188.5)
    assert breakdown["purchased_electricity"] == pytest.approx(2851.5)
    assert breakdown["purchased_heat"] == pytest.approx(330.0)
    assert breakdown["exported_electricity_and_heat"] == pytest.approx(-114.06)
    assert breakdown["co2_recovered"] == pytest.approx(-100.0)
    assert out["total_tco2e"][0] == pytest.approx(5712.1695, abs=1e-3)


def test_electricity_edition_is_chosen_per_row_and_str_is_accepted() -> None:
    rows = ledger(mwh_in=1000)
    batch = {k: np.concatenate([v, v]) for k, v in rows.items()}
    batch["electricity_factor"] = np.array(["MEE-2021", ""], dtype=object)  # "" is the default, MEE-2022
    out = compute(batch, parameters())
    assert out["total_tco2e"].tolist() == pytest.approx([581.0, 570.3])


def test_gwp_edition_changes_non_co2_weights() -> None:
    out = compute(ledger(ch4=1, n2o=1), parameters(gwp_edition="IPCC-AR4"))
    assert out["total_tco2e"][0] == pytest.approx(25 + 298)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"electricity_factor": np.array([b"IEA-2019"], dtype=object)}, "unknown electricity factor"),
        ({"heat_gj": np.array([[-1.0, 0.0]])}, "negative"),
        ({"fuel_consumption": np.zeros((1, 3))}, "shape"),
        ({"heat_gj": np.array([[np.nan, 0.0]])}, "NaN"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(change: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute({**ledger(raw_coal=1), **change}, parameters())


def test_trained_component_is_a_json_formula_that_beats_the_energy_proxy() -> None:
    trained = CarbonAccounting(evaluation_ledgers=100).train(seed=1)
    assert trained.formula == "components.carbon_accounting.formula:compute"
    params = json.loads(json.dumps(trained.parameters))  # what the registry stores
    assert compute(ledger(raw_coal=1000), params)["total_tco2e"][0] == pytest.approx(1900.2988, abs=1e-3)
    (metric,) = trained.card.metrics
    assert metric.value < 1e-9
    assert metric.baseline is not None and metric.baseline > 5.0
