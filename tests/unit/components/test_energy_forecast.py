"""The 2024-2025 calendar, the synthetic load's structure, and the backtest against seasonal naive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pytest

from components import Trained
from components.energy_forecast.component import MAPE_REDUCTION, mape
from components.energy_forecast.data import (
    HOLIDAY,
    MAKEUP_WORKDAY,
    SATURDAY,
    SUNDAY,
    WEEKDAY,
    day_index,
    day_kind,
    generate,
    windows,
)
from tests.unit.components.conftest import run_both


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        ("2024-02-12", HOLIDAY),  # 春节 2024, a Monday
        ("2024-09-14", MAKEUP_WORKDAY),  # Saturday worked before the Mid-Autumn Festival
        ("2025-01-29", HOLIDAY),  # 春节 2025, a Wednesday
        ("2025-01-26", MAKEUP_WORKDAY),  # Sunday worked before the Spring Festival
        ("2025-10-01", HOLIDAY),
        ("2025-10-11", MAKEUP_WORKDAY),  # Saturday worked after National Day
        ("2025-03-03", WEEKDAY),
        ("2025-03-08", SATURDAY),
        ("2025-03-09", SUNDAY),
    ],
)
def test_official_calendar(day: str, kind: int) -> None:
    assert day_kind(dt.date.fromisoformat(day)) == kind


def test_one_shift_site_rests_on_sundays_and_holidays() -> None:
    sites, kinds = generate(1, seed=0)  # site 0 is a one-shift workshop
    daily = sites[0].load_kw.mean(axis=1)
    working = daily[(kinds == WEEKDAY) | (kinds == MAKEUP_WORKDAY)].mean()
    assert daily[kinds == SUNDAY].mean() < 0.5 * working
    assert daily[kinds == HOLIDAY].mean() < 0.5 * working


def test_windows_end_at_midnight_before_the_target_day() -> None:
    sites, kinds = generate(1, seed=0)
    w = windows(sites, kinds, 100, 100)
    np.testing.assert_array_equal(w["load_history"][0], sites[0].load_kw[93:100].reshape(-1))
    np.testing.assert_array_equal(w["target"][0], sites[0].load_kw[100])
    np.testing.assert_array_equal(w["day_kind"][0], kinds[93:101])


def test_mape_by_hand() -> None:
    assert mape(np.array([110.0, 90.0]), np.array([100.0, 100.0])) == pytest.approx(10.0)


def test_model_beats_seasonal_naive_by_the_stated_margin(train_small: Callable[[str], Trained]) -> None:
    metrics = {m.name: m for m in train_small("energy_forecast").card.metrics}
    hourly = metrics["hourly_mape_percent"]
    assert hourly.baseline is not None and not hourly.higher_is_better
    assert hourly.value <= (1 - MAPE_REDUCTION) * hourly.baseline
    holiday = metrics["holiday_hourly_mape_percent"]
    assert holiday.baseline is not None and holiday.value < holiday.baseline


def test_onnx_export_matches_torch(train_small: Callable[[str], Trained]) -> None:
    result = train_small("energy_forecast")
    sites, kinds = generate(2, seed=5)
    w = windows(sites, kinds, 270, 272)  # 6 rows, National Day not included
    torch_out, onnx_out = run_both(result, {"load_history": w["load_history"], "day_kind": w["day_kind"]})
    np.testing.assert_allclose(onnx_out[0], torch_out[0], rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(onnx_out[1], onnx_out[0].sum(axis=1), rtol=1e-5)


def test_factories_stop_around_the_spring_festival() -> None:
    sites, _ = generate(1, seed=0)
    daily = sites[0].load_kw.mean(axis=1)
    festival = day_index("2024-02-10")
    normal = daily[day_index("2024-03-04") : day_index("2024-03-09")].mean()  # a normal working week
    assert daily[festival - 4 : festival + 12].max() < 0.5 * normal
