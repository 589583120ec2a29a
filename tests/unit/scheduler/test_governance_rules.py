"""The governance rules on one pandas batch (the Ray Data pipeline around them is in tests/integration)."""

from __future__ import annotations

import pandas as pd
import pytest

from deploy.jobs.governance import RULE, MissingColumns, mark
from scheduler.kinds.params import GovernanceParams

PARAMS = GovernanceParams.model_validate(
    {
        "input": {"path": "/in.csv"},
        "output": "/out",
        "schema": {"meter": "string", "temperature": "float", "power": "float", "shift": "int"},
        "fill": {"shift": 0},
        "units": [{"column": "temperature", "unit_column": "temp_unit", "to": "degC"}],
        "ranges": {"power": {"min": 0, "max": 5000}},
        "dedupe_on": ["meter"],
    }
)

METERS = pd.DataFrame(
    {
        "meter": ["m1", "m2", "m3", "m4", "m5", "m6"],
        "temperature": ["20.5", "212", "abc", "30", "25", "26"],
        "temp_unit": ["degC", "degF", "degC", "degX", "degC", "degC"],
        "power": [100.0, 200.0, 300.0, 400.0, None, 99999.0],
        "shift": [1, None, 2, 3, 1, 2],
    }
)


def test_each_row_is_marked_with_the_first_rule_it_breaks() -> None:
    out = mark(METERS, PARAMS)
    assert list(out[RULE]) == ["", "", "schema", "unit", "null", "range:power"]
    assert out["temperature"][1] == pytest.approx(100.0)  # 212 °F
    assert out["shift"][1] == 0  # filled, not dropped
    assert "temp_unit" not in out.columns


def test_a_missing_column_is_named() -> None:
    with pytest.raises(MissingColumns, match="no column 'power'"):
        mark(METERS.drop(columns=["power"]), PARAMS)
