"""Bearing kinematics against the published 6205 defect orders, the envelope features, and the classifier."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from components import Trained
from components.equipment_health.bearing import BEARING_6205, BearingGeometry, defect_orders
from components.equipment_health.component import ACCURACY_MARGIN
from components.equipment_health.data import CLASSES, SAMPLE_RATE_HZ, WINDOW, generate
from components.equipment_health.model import BearingFeatures
from tests.unit.components.conftest import run_both


def test_6205_defect_orders_match_the_published_table() -> None:
    # d/D = 7.94/39.04 = 0.20338: BPFO = 4.5 × 0.79662 = 3.5848, BPFI = 4.5 × 1.20338 = 5.4152,
    # FTF = 0.5 × 0.79662 = 0.3983, BSF = 39.04/15.88 × (1 − 0.20338²) = 2.3568
    # (the CWRU bearing data centre's table lists 2×BSF = 4.7135).
    orders = defect_orders(BEARING_6205)
    assert orders.bpfo == pytest.approx(3.5848, abs=1e-4)
    assert orders.bpfi == pytest.approx(5.4152, abs=1e-4)
    assert orders.ftf == pytest.approx(0.3983, abs=1e-4)
    assert 2 * orders.bsf == pytest.approx(4.7135, abs=1e-4)


def test_defect_frequency_identities_hold_for_any_geometry() -> None:
    bearing = BearingGeometry(
        "angular", rolling_elements=13, ball_diameter_mm=11.0, pitch_diameter_mm=60.0, contact_angle_deg=40.0
    )
    hz = defect_orders(bearing).at(25.0)
    assert hz.bpfo + hz.bpfi == pytest.approx(
        13 * 25.0
    )  # every ball passes a race point once per relative turn
    assert hz.bpfo == pytest.approx(13 * hz.ftf)  # outer-race passes are the cage turning past n balls


def features_of(signal: np.ndarray, shaft_hz: float) -> np.ndarray:
    module = BearingFeatures(defect_orders(BEARING_6205))
    with torch.no_grad():
        out = module(torch.from_numpy(signal[None].astype(np.float32)), torch.tensor([shaft_hz]))
    return out.numpy()[0]


def test_envelope_feature_peaks_at_the_modulation_frequency() -> None:
    # A 3 kHz resonance amplitude-modulated at exactly BPFO: the BPFO feature must stand out.
    shaft = 25.0
    t = np.arange(WINDOW) / SAMPLE_RATE_HZ
    bpfo = defect_orders(BEARING_6205).bpfo * shaft
    signal = (1 + np.cos(2 * np.pi * bpfo * t)) * np.sin(2 * np.pi * 3000 * t)
    feats = features_of(signal, shaft)
    inner, outer, ball = feats[3], feats[6], feats[9]  # first harmonic of each defect
    assert outer > 1.5
    assert max(inner, ball) < 0.1


def test_gaussian_noise_has_kurtosis_three_and_no_peaks() -> None:
    noise = np.random.default_rng(0).normal(0, 0.1, WINDOW)
    feats = features_of(noise, 25.0)
    assert np.exp(feats[0]) == pytest.approx(0.1, rel=0.05)  # RMS
    assert np.exp(feats[1]) == pytest.approx(3.0, abs=0.3)  # kurtosis of a normal distribution
    assert feats[3:].max() < 1.0  # a pure BPFO modulation scores about 1.9


def test_generator_is_seeded_and_balanced() -> None:
    a, shaft, labels = generate(5, seed=3)
    b, _, _ = generate(5, seed=3)
    assert a.shape == (20, WINDOW) and np.array_equal(a, b)
    assert np.bincount(labels).tolist() == [5] * len(CLASSES)
    assert shaft.min() >= 20 and shaft.max() <= 30


def test_classifier_beats_the_time_domain_baseline(train_small: Callable[[str], Trained]) -> None:
    metrics = {m.name: m for m in train_small("equipment_health").card.metrics}
    assert metrics["accuracy"].baseline is not None
    assert metrics["accuracy"].value >= metrics["accuracy"].baseline + ACCURACY_MARGIN
    assert metrics["accuracy"].value > 0.7
    assert metrics["anomaly_auc"].value > 0.85


def test_onnx_export_matches_torch(train_small: Callable[[str], Trained]) -> None:
    result = train_small("equipment_health")
    x, shaft, _ = generate(2, seed=99)  # 8 rows: a batch size other than the sample's
    torch_out, onnx_out = run_both(result, {"vibration": x, "shaft_speed_hz": shaft})
    np.testing.assert_allclose(onnx_out[0], torch_out[0], atol=1e-4)
    np.testing.assert_allclose(onnx_out[1], torch_out[1], atol=1e-4)
    assert onnx_out[1].shape == (8, 4) and onnx_out[2].dtype == np.int64
    assert np.array_equal(onnx_out[2], torch_out[2])
