"""Payload samples against a real database (SQLite and PostgreSQL): one call in round(1/rate) kept,
oversized calls skipped, each version trimmed to its newest samples, BYTES kept as text, purge."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine

from deploy.centre import payloads
from deploy.centre.payloads import MAX_SAMPLE_BYTES, PayloadSampler

pytestmark = pytest.mark.integration


def _call(sampler: PayloadSampler, value: float, version: int = 1, rate: float = 0.25) -> bool:
    inputs = {"x": np.full((1, 3), value)}
    outputs = {"y": np.array([[value * 2]])}
    return sampler.offer("yield", version, "acme", rate, inputs, outputs)


def test_one_call_in_four_is_kept_and_versions_are_trimmed(engine: Engine) -> None:
    sampler = PayloadSampler()
    kept = [_call(sampler, float(i)) for i in range(12)]
    assert kept == [False, False, False, True] * 3  # every 4th call of the version
    assert [_call(sampler, 100.0, version=2) for _ in range(4)] == [False, False, False, True]
    assert sampler.write(engine, keep=2) == 4
    assert sampler.write(engine, keep=2) == 0  # nothing pending any more
    one = payloads.read_samples(engine, "yield", version=1, limit=10)
    # trimmed to the newest two of version 1, newest first; version 2 untouched
    assert [s["inputs"]["x"]["data"][0] for s in one] == [11.0, 7.0]
    assert one[0]["outputs"]["y"] == {"dtype": "float64", "shape": [1, 1], "data": [22.0]}
    assert one[0]["tenant"] == "acme" and one[0]["version"] == 1
    assert payloads.count_samples(engine, "yield") == 3
    assert payloads.read_samples(engine, "yield", version=None, limit=1)[0]["version"] == 2
    assert payloads.purge_samples(engine, "yield") == 3
    assert payloads.count_samples(engine, "yield") == 0


def test_bytes_are_text_and_a_big_call_is_skipped(engine: Engine) -> None:
    sampler = PayloadSampler()
    text = {"q": np.array([["焦化 coke".encode()], [b"\xff\xfe"]], dtype=object)}
    assert sampler.offer("kb", 1, "acme", 1.0, text, {"a": np.array([[1], [2]], dtype=np.int32)})
    big = {"x": np.zeros((1, MAX_SAMPLE_BYTES // 2))}
    assert not sampler.offer("kb", 1, "acme", 1.0, big, big) and sampler.skipped == 1
    sampler.write(engine, keep=10)
    (sample,) = payloads.read_samples(engine, "kb", version=1, limit=10)
    assert sample["inputs"]["q"]["data"] == ["焦化 coke", "\\xff\\xfe"]
    assert sample["outputs"]["a"] == {"dtype": "int32", "shape": [2, 1], "data": [1, 2]}
