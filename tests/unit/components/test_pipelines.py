"""The built-in pipeline: its spec checks against the built-ins' cards, and the adapter between
energy_forecast and carbon_accounting converts what it says it does."""

from __future__ import annotations

import numpy as np

from components.carbon_accounting import formula as carbon_formula
from components.carbon_accounting.component import CarbonAccounting
from components.electricity_ledger import formula
from components.electricity_ledger.component import ElectricityLedger
from components.energy_forecast import component as energy
from components.pipelines import PIPELINES
from model_hub.card import Card
from model_hub.errors import PipelineInvalid
from model_hub.pipeline import PipelineSpec, check, order


def cards() -> dict[str, Card]:
    return {
        "energy_forecast": energy.card({}, 1, 1),
        "electricity_ledger": ElectricityLedger().train().card,
        "carbon_accounting": CarbonAccounting(evaluation_ledgers=5).train().card,
    }


def test_the_built_in_pipeline_checks_against_the_built_ins_cards() -> None:
    (builtin,) = PIPELINES
    spec = builtin.spec()
    found = cards()
    card = check(spec, lambda step: found.get(step.component))
    assert [s.name for s in order(spec.graph)] == ["forecast", "ledger", "carbon"]
    assert [(o.name, o.datatype, o.shape) for o in card.outputs] == [
        ("load_forecast", "FP32", [-1, 24]),
        ("daily_energy_kwh", "FP32", [-1]),
        ("electricity_tco2e", "FP64", [-1]),
    ]
    example = builtin.example()
    assert [i.name for i in card.inputs] == list(example)


def test_without_the_adapter_the_forecast_does_not_meet_the_account() -> None:
    (builtin,) = PIPELINES
    data = builtin.spec().document
    steps = [s for s in data["steps"] if s["name"] != "ledger"]
    steps[-1]["inputs"] = {
        "electricity_mwh": "forecast.daily_energy_kwh",
        "electricity_factor": "input.electricity_factor",
    }

    found = cards()
    try:
        check(PipelineSpec.parse({**data, "steps": steps}), lambda step: found.get(step.component))
    except PipelineInvalid as exc:
        assert "forecast.daily_energy_kwh -> carbon.electricity_mwh: FP32[-1] vs FP64[-1,2]" in exc.message
        assert "carbon.fuel_consumption: required input of carbon_accounting is not connected" in exc.message
    else:
        raise AssertionError("the pipeline without its adapter was accepted")


def test_the_ledger_is_the_days_purchased_electricity_and_zero_elsewhere() -> None:
    trained = ElectricityLedger().train()
    ledger = formula.compute(
        {"daily_energy_kwh": np.array([6500.0, 0.0], dtype=np.float32)}, trained.parameters or {}
    )
    assert ledger["electricity_mwh"].tolist() == [[6.5, 0.0], [0.0, 0.0]]
    assert ledger["fuel_consumption"].shape == (2, 8) and not ledger["fuel_consumption"].any()
    # Through the accounting: 6.5 MWh × 0.5703 tCO2/MWh (MEE-2022).
    params = carbon_formula.parameters()
    total = carbon_formula.compute(
        {**ledger, "electricity_factor": np.array(["MEE-2022", ""], dtype=object)}, params
    )["total_tco2e"]
    assert np.allclose(total, [6.5 * 0.5703, 0.0])
