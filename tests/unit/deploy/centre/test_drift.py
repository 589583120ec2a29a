"""Drift statistics: reference bins from training data, streaming counts, PSI (no Ray, no servers)."""

from __future__ import annotations

import numpy as np
import pytest

from deploy.centre.drift import MAX_PENDING_BYTES, MIN_ROWS, DriftMonitor
from model_hub.reference_stats import WIDE, ReferenceStats, compute_reference, psi

RNG = np.random.default_rng(0)
TRAINING = {"x": RNG.standard_normal((4000, 4)).astype(np.float32), "history": RNG.random((4000, 168))}
OUTPUTS = {"y": TRAINING["x"].sum(axis=1, keepdims=True)}


def reference() -> ReferenceStats:
    return compute_reference(TRAINING, OUTPUTS)


def test_features_are_columns_or_the_row_mean_of_wide_tensors() -> None:
    stats = reference()
    names = [(f.kind, f.name) for f in stats.features]
    assert names == [
        ("input", "x[0]"),
        ("input", "x[1]"),
        ("input", "x[2]"),
        ("input", "x[3]"),
        ("input", "history.mean"),
        ("output", "y[0]"),
    ]
    assert TRAINING["history"].shape[1] > WIDE
    for feature in stats.features:  # deciles: about a tenth of the rows per inner bin
        assert len(feature.fractions) == len(feature.edges) + 1 == 10
        assert sum(feature.fractions) == pytest.approx(1.0)
        assert max(feature.fractions) < 0.12
    # Stored as JSON with the version: it must come back equal.
    assert ReferenceStats.model_validate_json(stats.model_dump_json()) == stats


def test_bytes_tensors_have_no_bins_and_nothing_numeric_is_an_error() -> None:
    words = np.array([[b"a"], [b"b"]], dtype=object)
    assert [f.name for f in compute_reference({"w": words, "v": np.ones((2, 1))}).features] == ["v[0]"]
    with pytest.raises(ValueError, match="no numeric input"):
        compute_reference({"w": words})


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    expected = np.full(10, 0.1)
    assert psi(expected, np.full(10, 100)) == pytest.approx(0.0)
    assert psi(expected, np.zeros(10, np.int64)) == 0.0
    shifted = np.array([0, 0, 0, 0, 0, 0, 0, 0, 100, 900])
    assert psi(expected, shifted) > 2.0


def monitor_fed(shift: float, every: int = 1, calls: int = 50, rows: int = 20) -> DriftMonitor:
    monitor = DriftMonitor(reference(), every)
    rng = np.random.default_rng(1)
    for _ in range(calls):
        x = (rng.standard_normal((rows, 4)) + shift).astype(np.float32)
        inputs = {"x": x, "history": rng.random((rows, 168))}
        monitor.observe(inputs, {"y": x.sum(axis=1, keepdims=True)})
    return monitor


def test_a_shifted_input_stream_crosses_the_threshold_and_the_training_one_does_not() -> None:
    steady = monitor_fed(0.0)
    assert steady.ready() and steady.rows == 1000 >= MIN_ROWS  # ready() bins what is pending
    assert max(f.psi for f in steady.scores()) < 0.1
    shifted = monitor_fed(1.0)
    scores = {f.name: f.psi for f in shifted.scores()}
    assert min(scores[f"x[{i}]"] for i in range(4)) > 0.25  # the usual "act on it" level
    assert scores["y[0]"] > 0.25  # the outputs moved with them
    assert scores["history.mean"] < 0.1  # the feature that did not move stays quiet


def test_only_one_call_in_every_is_counted() -> None:
    monitor = monitor_fed(0.0, every=10, calls=50, rows=20)
    assert not monitor.ready()  # too few rows to score yet
    assert monitor.rows == 5 * 20


def test_pending_tensors_are_bounded() -> None:
    # 60 calls of 5,000 rows (6.8 MB each, the FP64 history mostly) before any check: the second
    # passes the 8 MiB, the others are dropped and counted.
    monitor = monitor_fed(0.0, calls=60, rows=5000)
    assert MAX_PENDING_BYTES == 8 * 1024 * 1024
    assert monitor.ready() and monitor.rows == 2 * 5000 and monitor.dropped == 58


def test_views_of_a_request_body_are_copied() -> None:
    monitor = DriftMonitor(reference(), 1)
    body = bytearray(np.zeros((2, 4), np.float32).tobytes())
    x = np.frombuffer(body, np.float32).reshape(2, 4)  # as the binary tensor extension decodes
    monitor.observe({"x": x, "history": np.zeros((2, 168))}, {"y": np.zeros((2, 1), np.float32)})
    body[:4] = np.float32(1e9).tobytes()  # the body's memory is reused: the kept rows must not change
    scores = {f.name: f for f in monitor.scores()}
    assert monitor.rows == 2 and scores["x[0]"].psi == monitor.scores()[0].psi
