"""The reactor mechanism by hand, the quality model against its linear baseline, and the recommender."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from components import Trained
from components.process_quality import data
from components.process_quality.component import RMSE_REDUCTION
from tests.unit.components.conftest import run_both


def test_reactor_yield_matches_the_series_reaction_by_hand() -> None:
    # 200 °C (the Arrhenius reference), 20 bar, B:A = 1, 30 min, fresh catalyst:
    # k1 = 0.08 × 1/(1 + 0.5) = 0.05333 /min, k2 = 0.004 /min
    # yield = k1/(k2 − k1) × (e^(−k1·30) − e^(−k2·30)) = −1.08108 × (0.20190 − 0.88692) = 0.74057
    # impurity = (1 − 0.74057 − 0.20190) / (1 − 0.20190) = 0.07209
    # P(defect) = σ((0.07209 − 0.10)/0.02) = 0.1985
    quality, defect = data.simulate(np.array([[200.0, 20.0, 1.0, 30.0, 0.0]]))
    assert quality[0] == pytest.approx(74.057, abs=1e-3)
    assert defect[0] == pytest.approx(0.1985, abs=1e-3)


def test_heat_trades_speed_for_impurity() -> None:
    cool, hot = data.simulate(np.array([[180.0, 20.0, 2.0, 30.0, 100.0], [235.0, 20.0, 2.0, 30.0, 100.0]]))[1]
    assert hot > 0.9 > 0.1 > cool  # the degradation's higher activation energy wins at high temperature


def test_quality_model_beats_linear_regression_by_the_stated_margin(
    train_small: Callable[[str], Trained],
) -> None:
    metrics = {m.name: m for m in train_small("process_quality").card.metrics}
    rmse = metrics["quality_rmse"]
    assert rmse.baseline is not None
    assert rmse.value <= (1 - RMSE_REDUCTION) * rmse.baseline
    assert rmse.value < 4.0  # lab noise is 1 point
    assert metrics["defect_auc"].value > 0.95


def test_quality_onnx_matches_torch(train_small: Callable[[str], Trained]) -> None:
    settings, _, _ = data.generate(7, seed=42)
    torch_out, onnx_out = run_both(train_small("process_quality"), {"process_parameters": settings})
    for a, b in zip(torch_out, onnx_out, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


def request(low: list[float], high: list[float], age: float, limit: float = 0.1) -> dict[str, np.ndarray]:
    return {
        "bounds_low": np.array([low], dtype=np.float32),
        "bounds_high": np.array([high], dtype=np.float32),
        "catalyst_age_days": np.array([age], dtype=np.float32),
        "max_defect_probability": np.array([limit], dtype=np.float32),
    }


def true_best(low: list[float], high: list[float], age: float, limit: float) -> float:
    """The true constrained optimum of the simulator, by dense random search."""
    rng = np.random.default_rng(0)
    settings = np.array(low) + (np.array(high) - np.array(low)) * rng.random((200_000, 4))
    quality, defect = data.simulate(np.hstack([settings, np.full((len(settings), 1), age)]))
    return float(quality[defect <= limit].max())


def test_recommendation_stays_in_bounds_and_is_near_the_true_optimum(
    train_small: Callable[[str], Trained],
) -> None:
    low, high, age = [170.0, 15.0, 1.2, 20.0], [230.0, 35.0, 2.5, 55.0], 120.0
    torch_out, onnx_out = run_both(train_small("process_setting_recommender"), request(low, high, age))
    settings = onnx_out[0][0]
    assert np.all(settings >= np.array(low) - 1e-4) and np.all(settings <= np.array(high) + 1e-4)
    assert onnx_out[2][0] <= 0.1 + 1e-6  # predicted defect probability within the limit
    quality, defect = data.simulate(np.hstack([settings, [age]])[None].astype(np.float64))
    assert quality[0] >= true_best(low, high, age, 0.1) - 5.0
    assert defect[0] < 0.2
    np.testing.assert_allclose(onnx_out[0], torch_out[0], atol=1e-3)


def test_bounds_outside_the_envelope_are_clipped(train_small: Callable[[str], Trained]) -> None:
    _, onnx_out = run_both(
        train_small("process_setting_recommender"),
        request([100.0, 0.0, 0.5, 1.0], [400.0, 90.0, 9.0, 300.0], 10.0),
    )
    settings = onnx_out[0][0]
    assert np.all(settings >= data.LOW[:4] - 1e-4) and np.all(settings <= data.HIGH[:4] + 1e-4)


def test_recommender_beats_the_best_batch_on_record(train_small: Callable[[str], Trained]) -> None:
    metrics = {m.name: m for m in train_small("process_setting_recommender").card.metrics}
    in_spec = metrics["expected_in_spec_quality"]
    assert in_spec.baseline is not None and in_spec.value > in_spec.baseline + 10.0
