from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from deploy.centre.resident import LoadEvent, ResidentModels
from deploy.centre.routing import Canary, Route


class FakeRuntime:
    """Stands in for a loaded model: the cache only needs nbytes and close()."""

    def __init__(self, name: str, version: int, size: int) -> None:
        self.name, self.version, self.size, self.closed = name, version, size, False

    @property
    def nbytes(self) -> int:
        return self.size

    def close(self) -> None:
        self.closed = True

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return inputs


def cache(
    max_models: int = 3, max_bytes: int = 1000, size: int = 100, delay: float = 0.0
) -> tuple[Any, list[Any]]:
    loads: list[tuple[str, int]] = []

    def load(name: str, version: int) -> Any:
        loads.append((name, version))
        time.sleep(delay)
        return FakeRuntime(name, version, size)

    return ResidentModels(load, max_models=max_models, max_bytes=max_bytes), loads  # type: ignore[arg-type]


def test_lru_evicts_the_least_recently_used_and_closes_it() -> None:
    models, loads = cache(max_models=2)
    a = models.get("a", 1)
    models.get("b", 1)
    models.get("a", 1)  # a is now the most recent
    models.get("c", 1)
    assert ("b", 1) not in models and ("a", 1) in models and ("c", 1) in models
    assert loads == [("a", 1), ("b", 1), ("c", 1)]
    assert not a.closed
    models.get("d", 1)
    assert a.closed and len(models) == 2


def test_memory_bound_evicts_but_keeps_at_least_one() -> None:
    models, _ = cache(max_models=10, max_bytes=250, size=100)
    for name in "abc":
        models.get(name, 1)
    assert len(models) == 2 and models.nbytes == 200
    huge, _ = cache(max_bytes=10, size=100)
    huge.get("big", 1)
    assert len(huge) == 1  # a model bigger than the bound still serves


def test_concurrent_requests_load_once() -> None:
    models, loads = cache(delay=0.2)
    threads = [threading.Thread(target=models.get, args=("a", 1)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == [("a", 1)]


def test_a_failed_load_is_not_cached_and_can_be_retried() -> None:
    calls = {"n": 0}

    def load(name: str, version: int) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("store unavailable")
        return FakeRuntime(name, version, 1)

    events: list[LoadEvent] = []
    models = ResidentModels(load, on_load=events.append)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        models.get("a", 1)
    assert models.get("a", 1).version == 1
    assert [e.key for e in events] == [("a", 1)]


def test_drop_unloads_every_version() -> None:
    models, _ = cache(max_models=5)
    v1, v2 = models.get("a", 1), models.get("a", 2)
    models.get("b", 1)
    models.drop("a")
    assert v1.closed and v2.closed and len(models) == 1


def test_canary_split_is_exact_on_the_draw() -> None:
    route = Route(default=3, canary=Canary(version=4, percent=10))
    draws = np.arange(1000) / 1000
    picked = [route.pick(float(d)) for d in draws]
    assert picked.count(4) == 100 and picked.count(3) == 900
    assert Route(default=2).pick(0.0) == 2


@pytest.mark.parametrize("percent", [0, 100, -5, 150])
def test_canary_percent_must_be_a_real_split(percent: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        Canary(version=2, percent=percent)
