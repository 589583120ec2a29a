"""Resident models: an LRU of loaded runtimes bounded by count and memory.

Many components share one replica; the ones in use stay loaded and the least recently used are
unloaded when a bound is crossed. Concurrent requests for a model that is not loaded wait for one
load instead of loading it several times.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from deploy.centre.runtimes import Runtime

Key = tuple[str, int]


@dataclass
class LoadEvent:
    key: Key
    seconds: float


class ResidentModels:
    def __init__(
        self,
        load: Callable[[str, int], Runtime],
        max_models: int = 64,
        max_bytes: int = 2_000_000_000,
        on_load: Callable[[LoadEvent], None] | None = None,
    ) -> None:
        if max_models < 1:
            raise ValueError("max_models must be at least 1")
        self._load = load
        self.max_models = max_models
        self.max_bytes = max_bytes
        self._on_load = on_load
        self._models: OrderedDict[Key, Runtime] = OrderedDict()
        self._loading: dict[Key, threading.Event] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, key: Key) -> bool:
        return key in self._models

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self._models.values())

    def get(self, name: str, version: int) -> Runtime:
        key = (name, version)
        while True:
            with self._lock:
                model = self._models.get(key)
                if model is not None:
                    self._models.move_to_end(key)
                    return model
                pending = self._loading.get(key)
                if pending is None:
                    pending = self._loading[key] = threading.Event()
                    break
            pending.wait()  # another thread is loading it; then look again
        try:
            started = time.perf_counter()
            model = self._load(name, version)
            seconds = time.perf_counter() - started
        except BaseException:
            with self._lock:
                self._loading.pop(key).set()
            raise
        evicted: list[Runtime] = []
        with self._lock:
            self._models[key] = model
            self._loading.pop(key).set()
            total = sum(m.nbytes for m in self._models.values())
            while len(self._models) > 1 and (len(self._models) > self.max_models or total > self.max_bytes):
                _, old = self._models.popitem(last=False)
                total -= old.nbytes
                evicted.append(old)
        for old in evicted:
            old.close()
        if self._on_load is not None:
            self._on_load(LoadEvent(key, seconds))
        return model

    def drop(self, name: str) -> None:
        """Unload every version of a component (after a deprecation, say)."""
        with self._lock:
            keys = [k for k in self._models if k[0] == name]
            dropped = [self._models.pop(k) for k in keys]
        for model in dropped:
            model.close()
