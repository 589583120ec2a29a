"""The pipeline validator (pure): every refusal names its edge or step; a valid spec gets its card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model_hub.card import Card, TensorSpec
from model_hub.errors import CardInvalid, PipelineInvalid
from model_hub.pipeline import PipelineSpec, Step, check, compatible, order
from tests.cards import card_data

FORECAST = Card.parse(
    card_data(
        name="forecast",
        owner="province",
        inputs=[
            {"name": "load_history", "datatype": "FP32", "shape": [-1, 168]},
            {"name": "day_kind", "datatype": "INT64", "shape": [-1, 8]},
        ],
        outputs=[
            {"name": "load", "datatype": "FP32", "shape": [-1, 24]},
            {"name": "energy_kwh", "datatype": "FP32", "shape": [-1]},
        ],
    )
)
LEDGER = Card.parse(
    card_data(
        name="ledger",
        owner="province",
        inputs=[{"name": "energy_kwh", "datatype": "FP32", "shape": [-1]}],
        outputs=[{"name": "electricity_mwh", "datatype": "FP64", "shape": [-1, 2]}],
    )
)
CARBON = Card.parse(
    card_data(
        name="carbon",
        owner="province",
        inputs=[
            {"name": "electricity_mwh", "datatype": "FP64", "shape": [-1, 2]},
            {"name": "edition", "datatype": "BYTES", "shape": [-1]},
        ],
        outputs=[{"name": "total_tco2e", "datatype": "FP64", "shape": [-1], "description": "total"}],
    )
)
CARDS = {c.name: c for c in (FORECAST, LEDGER, CARBON)}


def spec_data(**overrides: Any) -> dict[str, Any]:
    data = card_data(
        name="forecast-carbon",
        owner="province",
        inputs=[
            {"name": "load_history", "datatype": "FP32", "shape": [-1, 168]},
            {"name": "day_kind", "datatype": "INT64", "shape": [-1, 8]},
            {"name": "edition", "datatype": "BYTES", "shape": [-1]},
        ],
    )
    data.pop("outputs")
    data["steps"] = [
        {
            "name": "forecast",
            "component": "forecast",
            "inputs": {"load_history": "input.load_history", "day_kind": "input.day_kind"},
        },
        {
            "name": "ledger",
            "component": "ledger",
            "version": 2,
            "inputs": {"energy_kwh": "forecast.energy_kwh"},
        },
        {
            "name": "carbon",
            "component": "carbon",
            "inputs": {"electricity_mwh": "ledger.electricity_mwh", "edition": "input.edition"},
        },
    ]
    data["outputs"] = [
        {"name": "load", "from": "forecast.load"},
        {"name": "tco2e", "from": "carbon.total_tco2e"},
    ]
    data.update(overrides)
    return data


def resolve(cards: dict[str, Card] | None = None) -> Any:
    found = CARDS if cards is None else cards
    return lambda step: found.get(step.component)


def refusal(data: dict[str, Any], cards: dict[str, Card] | None = None) -> str:
    with pytest.raises(PipelineInvalid) as caught:
        check(PipelineSpec.parse(data), resolve(cards))
    return caught.value.message


def steps_with(step: str, **changes: Any) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = spec_data()["steps"]
    return [{**s, **changes} if s["name"] == step else s for s in steps]


def test_a_valid_pipeline_gets_a_card_with_the_steps_outputs() -> None:
    spec = PipelineSpec.parse(spec_data())
    card = check(spec, resolve())
    assert card.name == "forecast-carbon"
    assert [(o.name, o.datatype, o.shape) for o in card.outputs] == [
        ("load", "FP32", [-1, 24]),
        ("tco2e", "FP64", [-1]),
    ]
    assert card.outputs[1].description == "total"  # from the step's card when the spec gives none
    assert [s.name for s in order(spec.graph)] == ["forecast", "ledger", "carbon"]
    assert spec.graph.steps[1].version == 2 and spec.graph.steps[0].version == "production"


def test_steps_run_in_data_order_whatever_order_they_are_declared_in() -> None:
    reversed_steps = list(reversed(spec_data()["steps"]))
    spec = PipelineSpec.parse(spec_data(steps=reversed_steps))
    check(spec, resolve())
    assert [s.name for s in order(spec.graph)] == ["forecast", "ledger", "carbon"]


def test_a_type_mismatch_names_the_edge() -> None:
    steps = steps_with("carbon", inputs={"electricity_mwh": "forecast.load", "edition": "input.edition"})
    message = refusal(spec_data(steps=steps))
    assert "forecast.load -> carbon.electricity_mwh: FP32[-1,24] vs FP64[-1,2]" in message
    assert "input.load_history" not in message  # only the faults are listed


def test_a_shape_mismatch_names_the_edge_and_minus_one_is_a_wildcard() -> None:
    wide = Card.parse(
        {
            **LEDGER.model_dump(mode="json"),
            "inputs": [{"name": "energy_kwh", "datatype": "FP32", "shape": [-1, 24]}],
        }
    )
    message = refusal(spec_data(), {**CARDS, "ledger": wide})
    assert "forecast.energy_kwh -> ledger.energy_kwh: FP32[-1] vs FP32[-1,24]" in message
    assert compatible(tensor("FP32", [-1, 24]), tensor("FP32", [3, -1]))
    assert not compatible(tensor("FP32", [-1, 24]), tensor("FP32", [-1, 23]))
    assert not compatible(tensor("FP32", [-1]), tensor("FP64", [-1]))
    assert not compatible(tensor("FP32", [-1]), tensor("FP32", [-1, 1]))


def tensor(datatype: str, shape: list[int]) -> TensorSpec:
    return TensorSpec.model_validate({"name": "t", "datatype": datatype, "shape": shape})


def test_a_cycle_is_refused_with_its_steps() -> None:
    steps = steps_with(
        "forecast", inputs={"load_history": "input.load_history", "day_kind": "carbon.total_tco2e"}
    )
    # The types do not match either; a cycle of matching types is refused on its own.
    assert "carbon.total_tco2e -> forecast.day_kind" in refusal(spec_data(steps=steps))
    loop_card = Card.parse(
        card_data(
            name="loop",
            owner="province",
            inputs=[{"name": "x", "datatype": "FP32", "shape": [-1]}],
            outputs=[{"name": "y", "datatype": "FP32", "shape": [-1]}],
        )
    )
    data = spec_data(
        inputs=[{"name": "x", "datatype": "FP32", "shape": [-1]}],
        steps=[
            {"name": "a", "component": "loop", "inputs": {"x": "b.y"}},
            {"name": "b", "component": "loop", "inputs": {"x": "a.y"}},
            {"name": "c", "component": "loop", "inputs": {"x": "input.x"}},
        ],
        outputs=[{"name": "y", "from": "c.y"}],
    )
    message = refusal(data, {"loop": loop_card})
    assert "the steps form a cycle: a -> b -> a" in message or "b -> a -> b" in message
    self_loop = dict(data, steps=[{"name": "a", "component": "loop", "inputs": {"x": "a.y"}}])
    assert "a.y -> a.x: a step cannot read its own output" in refusal(self_loop, {"loop": loop_card})


def test_unknown_step_component_and_tensors_are_named() -> None:
    assert "ledger.energy_kwh: there is no step 'forcast'" in refusal(
        spec_data(steps=steps_with("ledger", inputs={"energy_kwh": "forcast.energy_kwh"}))
    )
    assert "step 'ledger': no component 'nowhere' version 2" in refusal(
        spec_data(steps=steps_with("ledger", component="nowhere"))
    )
    assert "forecast.kwh -> ledger.energy_kwh: step 'forecast' (forecast) has no output 'kwh'" in refusal(
        spec_data(steps=steps_with("ledger", inputs={"energy_kwh": "forecast.kwh"}))
    )
    unknown_target = steps_with(
        "ledger", inputs={"energy_kwh": "forecast.energy_kwh", "kwh": "input.edition"}
    )
    assert "input.edition -> ledger.kwh: ledger has no input 'kwh'" in refusal(
        spec_data(steps=unknown_target)
    )
    assert "input.nothing -> ledger.energy_kwh: the pipeline has no input 'nothing'" in refusal(
        spec_data(steps=steps_with("ledger", inputs={"energy_kwh": "input.nothing"}))
    )
    assert "carbon.nothing -> output tco2e: step 'carbon' (carbon) has no output 'nothing'" in refusal(
        spec_data(outputs=[{"name": "tco2e", "from": "carbon.nothing"}])
    )
    assert "bad -> ledger.energy_kwh: a source is `input.NAME` or `STEP.TENSOR`" in refusal(
        spec_data(steps=steps_with("ledger", inputs={"energy_kwh": "bad"}))
    )


def test_an_unconnected_input_and_an_unused_pipeline_input_are_refused() -> None:
    steps = steps_with("carbon", inputs={"electricity_mwh": "ledger.electricity_mwh"})
    message = refusal(spec_data(steps=steps))
    assert "carbon.edition: required input of carbon is not connected" in message
    assert "input.edition: the pipeline input feeds no step" in message


def test_bad_specs_say_what_is_wrong() -> None:
    with pytest.raises(PipelineInvalid, match="steps: required field is missing"):
        PipelineSpec.parse({k: v for k, v in spec_data().items() if k != "steps"})
    with pytest.raises(PipelineInvalid, match="step name 'input'"):
        PipelineSpec.parse(spec_data(steps=steps_with("ledger", name="input")))
    with pytest.raises(PipelineInvalid, match="steps.1.version"):
        PipelineSpec.parse(spec_data(steps=steps_with("ledger", version=0)))
    with pytest.raises(CardInvalid, match="kind"):
        PipelineSpec.parse(spec_data(kind="workflow"))
    with pytest.raises(PipelineInvalid, match="step names must be unique: ledger"):
        check(PipelineSpec.parse(spec_data(steps=steps_with("carbon", name="ledger"))), resolve())


@pytest.mark.parametrize(
    ("pipeline", "industries", "step_visibility", "refused"),
    [
        ("public", ["high-end-chemicals"], "public", None),
        ("public", ["high-end-chemicals"], "industry", "the pipeline is public but ledger is industry"),
        ("industry", ["high-end-chemicals"], "industry", None),
        ("industry", ["high-end-chemicals", "transport"], "industry", "visible to industries ['transport']"),
        ("industry", ["high-end-chemicals"], "private", "the pipeline is industry but ledger is private"),
        ("private", ["high-end-chemicals"], "private", None),
    ],
)
def test_a_pipeline_is_never_wider_than_its_narrowest_step(
    pipeline: str, industries: list[str], step_visibility: str, refused: str | None
) -> None:
    ledger = Card.parse({**LEDGER.model_dump(mode="json"), "visibility": step_visibility})
    data = spec_data(visibility=pipeline, industries=industries)
    if refused is None:
        check(PipelineSpec.parse(data), resolve({**CARDS, "ledger": ledger}))
    else:
        message = refusal(data, {**CARDS, "ledger": ledger})
        assert "step 'ledger': " in message and refused in message


def test_another_tenants_private_step_is_refused() -> None:
    ledger = Card.parse({**LEDGER.model_dump(mode="json"), "visibility": "private", "owner": "hualu-chem"})
    message = refusal(spec_data(visibility="private"), {**CARDS, "ledger": ledger})
    assert "step 'ledger': ledger is private to another tenant" in message


def test_the_spec_round_trips_through_its_json_and_takes_the_owner() -> None:
    spec = PipelineSpec.parse(spec_data()).with_owner("lubei-chem")
    again = PipelineSpec.from_json(spec.to_json())
    assert again.card.owner == "lubei-chem" and again.graph == spec.graph
    assert isinstance(again.graph.steps[0], Step)


def test_unreadable_pipeline_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(PipelineInvalid, match="cannot read pipeline file .*missing.yaml"):
        PipelineSpec.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(PipelineInvalid, match="pipeline file .*bad.json' is not valid YAML/JSON"):
        PipelineSpec.load(tmp_path / "bad.json")
    (tmp_path / "list.yaml").write_text("- a\n", encoding="utf-8")
    with pytest.raises(PipelineInvalid, match="pipeline file .*list.yaml' must hold a mapping$"):
        PipelineSpec.load(tmp_path / "list.yaml")
