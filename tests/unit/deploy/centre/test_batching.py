"""Dynamic batching per component version, on a real ONNX Runtime session (no Ray, no HTTP)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort
import pytest

from deploy.centre.batching import Arrays, Batcher
from tests import onnx_models


class Model:
    """A linear ONNX model that remembers the batch sizes it was called with."""

    def __init__(self, n_in: int = 4) -> None:
        self.session = ort.InferenceSession(
            onnx_models.linear(n_in=n_in, n_out=2).SerializeToString(), providers=["CPUExecutionProvider"]
        )
        self.calls: list[int] = []

    def __call__(self, inputs: Arrays) -> Arrays:
        x = inputs["x"]
        if (x < -100).any():
            raise ValueError("x below -100 is outside the calibrated range")
        self.calls.append(len(x))
        (y,) = self.session.run(None, {"x": x})
        return {"y": y}


def rows(n: int, seed: int, n_in: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, n_in)).astype(np.float32)


async def gather(batcher: Batcher, requests: list[np.ndarray]) -> list[Arrays | BaseException]:
    return await asyncio.gather(
        *(batcher.predict({"x": x}, len(x)) for x in requests), return_exceptions=True
    )


def test_concurrent_requests_share_one_model_call_and_get_their_own_rows() -> None:
    model = Model()
    seen: list[tuple[int, int]] = []
    batcher = Batcher(model, max_rows=64, wait_s=0.01, on_batch=lambda r, n: seen.append((r, n)))
    requests = [rows(1 + i % 3, seed=i) for i in range(10)]
    results = asyncio.run(gather(batcher, requests))
    assert model.calls == [sum(len(x) for x in requests)]
    assert seen == [(10, sum(len(x) for x in requests))]
    for x, result in zip(requests, results, strict=True):
        assert isinstance(result, dict)
        (expected,) = model.session.run(None, {"x": x})
        np.testing.assert_allclose(result["y"], expected, rtol=1e-6)


def test_a_full_batch_runs_at_once_and_no_call_exceeds_max_rows() -> None:
    model = Model()
    batcher = Batcher(model, max_rows=4, wait_s=10.0)  # only the size bound can start these
    requests = [rows(1, seed=i) for i in range(10)] + [rows(3, seed=99)]

    async def run() -> list[Arrays | BaseException]:
        return await asyncio.wait_for(gather(batcher, requests), timeout=30)

    with pytest.raises(TimeoutError):
        # 11 requests, 13 rows: three full batches run, the last row waits for its 10 s window.
        asyncio.run(asyncio.wait_for(gather(Batcher(model, 4, 10.0), requests), timeout=0.5))
    model.calls.clear()
    batcher.wait_s = 0.001
    results = asyncio.run(run())
    assert all(isinstance(r, dict) for r in results)
    assert max(model.calls) <= 4 and sum(model.calls) == 13


def test_a_request_larger_than_max_rows_runs_alone() -> None:
    model = Model()
    batcher = Batcher(model, max_rows=4, wait_s=0.001)
    big = rows(9, seed=1)
    (result,) = asyncio.run(gather(batcher, [big]))
    assert isinstance(result, dict) and result["y"].shape == (9, 2)
    assert model.calls == [9]


def test_one_bad_request_does_not_fail_the_others_of_its_batch() -> None:
    model = Model()
    batcher = Batcher(model, max_rows=64, wait_s=0.01)
    bad = rows(2, seed=5)
    bad[1, 0] = -1000.0
    requests = [rows(1, seed=1), bad, rows(2, seed=2)]
    results = asyncio.run(gather(batcher, requests))
    assert isinstance(results[0], dict) and isinstance(results[2], dict)
    assert isinstance(results[1], ValueError) and "calibrated range" in str(results[1])
    # the merged call failed before the model ran; then each request ran alone
    assert model.calls == [1, 2]


def test_inputs_of_different_trailing_shapes_are_not_concatenated() -> None:
    sessions = {n: Model(n_in=n) for n in (3, 4)}

    def predict(inputs: Arrays) -> Arrays:
        return sessions[inputs["x"].shape[1]](inputs)

    batcher = Batcher(predict, max_rows=64, wait_s=0.01)
    requests = [rows(1, seed=1, n_in=3), rows(2, seed=2, n_in=4), rows(1, seed=3, n_in=3)]
    results = asyncio.run(gather(batcher, requests))
    assert [r["y"].shape for r in results if isinstance(r, dict)] == [(1, 2), (2, 2), (1, 2)]
    assert sessions[3].calls == [2] and sessions[4].calls == [2]


def test_outputs_that_are_not_batch_major_fall_back_to_one_call_per_request() -> None:
    def summary(inputs: Arrays) -> Arrays:
        return {"total": np.asarray(inputs["x"].sum())}

    batcher = Batcher(summary, max_rows=64, wait_s=0.01)
    requests = [np.ones((2, 4), np.float32), np.ones((3, 4), np.float32)]
    results = asyncio.run(gather(batcher, requests))
    assert [float(r["total"]) for r in results if isinstance(r, dict)] == [8.0, 12.0]


def test_merged_calls_can_run_in_a_worker_thread() -> None:
    model = Model()
    with ThreadPoolExecutor(1) as pool:
        batcher = Batcher(model, max_rows=64, wait_s=0.005, executor=pool)
        results = asyncio.run(gather(batcher, [rows(1, seed=i) for i in range(5)]))
    assert all(isinstance(r, dict) for r in results) and model.calls == [5]


def test_max_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(Model(), max_rows=0, wait_s=0.0)
