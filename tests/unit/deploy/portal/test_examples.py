"""What the component page builds without an API: the pre-filled example, the OIP body, the answer's view."""

from __future__ import annotations

import json

import pytest

from deploy.portal.app import _daily_series, _local
from deploy.portal.examples import BadInput, answer_view, example_inputs, oip_body, request_examples

SCHEMA = [
    {"name": "x", "datatype": "FP32", "shape": [-1, 3]},
    {"name": "k", "datatype": "INT64", "shape": [-1, 1]},
]


def test_an_example_follows_the_schema_and_makes_a_valid_body() -> None:
    example = example_inputs("not-a-builtin", SCHEMA)
    assert example == {"x": [[1.0, 1.0, 1.0]], "k": [[1]]}
    body = oip_body(SCHEMA, {k: json.dumps(v) for k, v in example.items()})
    assert body["inputs"][0] == {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 1.0, 1.0]}


def test_a_builtin_component_brings_its_own_example() -> None:
    schema = [{"name": "load_history", "datatype": "FP32", "shape": [-1, 168]}]
    example = example_inputs("energy_forecast", schema)
    assert len(example["load_history"][0]) == 168 and example["load_history"][0][0] > 1.0


@pytest.mark.parametrize(
    "field,message",
    [("", "empty"), ("[1, 2", "not a JSON array"), ("[[1], [2, 3]]", "JSON array"), ("7", "array")],
)
def test_a_bad_field_is_named(field: str, message: str) -> None:
    with pytest.raises(BadInput, match=message) as refused:
        oip_body(SCHEMA, {"x": field, "k": "[[1]]"})
    assert "'x'" in str(refused.value)


def test_a_series_gets_a_chart_and_a_scalar_does_not() -> None:
    shown = answer_view(
        {
            "outputs": [
                {
                    "name": "load",
                    "datatype": "FP32",
                    "shape": [1, 8],
                    "data": [1.0, 2.0, float("nan"), *[4.0] * 5],
                },
                {"name": "total", "datatype": "FP32", "shape": [2], "data": [6.5, 7.0]},
                {
                    "name": "parts",
                    "datatype": "FP32",
                    "shape": [2, 3],
                    "data": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                },
            ]
        }
    )
    assert shown[0]["chart"] == [[1.0, 2.0, None, *[4.0] * 5]] and len(shown[0]["rows"][0]) == 8
    assert shown[1]["chart"] is None and shown[1]["rows"] == [[6.5, 7.0]]  # one value per row
    assert shown[2]["chart"] is None and shown[2]["rows"] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]  # categories


def test_request_examples_carry_the_body_and_no_key() -> None:
    body = oip_body(SCHEMA, {"x": "[[1, 2, 3]]", "k": "[[1]]"})
    snippets = request_examples("http://127.0.0.1:8000", "m", body, "y")
    assert set(snippets) == {"curl", "tritonclient", "python"}
    assert all("$BRAIN_API_KEY" in s or "BRAIN_API_KEY" in s for s in snippets.values())
    assert "/v2/models/m/infer" in snippets["curl"] and "as_numpy('y')" in snippets["tritonclient"]


def test_redirects_stay_inside_the_portal() -> None:
    assert _local("/usage?month=2026-11") == "/usage?month=2026-11"
    for outside in ("//evil.example", "https://evil.example", "/\\evil.example", "usage"):
        assert _local(outside) == "/catalogue"


def test_daily_series_and_the_assessment_view() -> None:
    days = [
        {"day": "2026-11-02", "tenant": "a", "component": "c1", "calls": 2, "errors": 0},
        {"day": "2026-11-01", "tenant": "b", "component": "c1", "calls": 1, "errors": 0},
        {"day": "2026-11-02", "tenant": "b", "component": "c2", "calls": 5, "errors": 1},
    ]
    assert _daily_series(days) == {
        "names": ["2026-11-01", "2026-11-02"],
        "series": {"c1": [1, 2], "c2": [0, 5]},
    }
