"""Drift of a served component version: its sampled traffic against its training statistics.

Per version a replica keeps, per feature of the reference (`model_hub.reference_stats`), one array
of bin counts — bounded memory, no payload. One call in ``every`` is counted (a fixed sample rate,
BRAIN_DRIFT_SAMPLE_RATE), so the hot path pays a counter increment for the others. The scores (PSI
per feature) are computed off the hot path, by the centre's background thread, which also raises
the drift event when a component's threshold (`ServingPolicy.drift_threshold`) is crossed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from model_hub.reference_stats import ReferenceStats, feature_values, psi

#: Rows a version must have counted before its scores mean anything (and an event can be raised).
MIN_ROWS = 200


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str
    psi: float


class DriftMonitor:
    """Streaming histograms of one version's sampled inputs and outputs over its reference bins."""

    def __init__(self, reference: ReferenceStats, every: int) -> None:
        self.reference = reference
        self.every = max(1, every)
        self._edges = [np.asarray(f.edges, dtype=np.float64) for f in reference.features]
        self._expected = [np.asarray(f.fractions, dtype=np.float64) for f in reference.features]
        self._index: dict[tuple[str, str], int] = {
            (f.kind, f.name): i for i, f in enumerate(reference.features)
        }
        self._counts = [np.zeros(len(f.fractions), dtype=np.int64) for f in reference.features]
        self._calls = 0
        self.rows = 0
        self.alerted = False
        """Whether the last check found the threshold crossed (an event is raised on the crossing)."""
        self._lock = threading.Lock()

    def observe(self, inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]) -> None:
        """Count one call's rows if it is sampled; the others cost one increment."""
        self._calls += 1
        if self._calls % self.every:
            return
        with self._lock:
            for kind, arrays in (("input", inputs), ("output", outputs)):
                for name, _, _, values in feature_values(arrays, kind):  # type: ignore[arg-type]
                    i = self._index.get((kind, name))
                    if i is None:
                        continue
                    bins = np.searchsorted(self._edges[i], values[np.isfinite(values)], side="right")
                    self._counts[i] += np.bincount(bins, minlength=self._counts[i].size)
            first = next(iter(inputs.values()), None)
            self.rows += int(first.shape[0]) if first is not None and first.ndim > 0 else 1

    def scores(self) -> list[FeatureDrift]:
        """PSI per feature, in the reference's order."""
        with self._lock:
            counts = [c.copy() for c in self._counts]
        return [
            FeatureDrift(f.name, f.kind, round(psi(self._expected[i], counts[i]), 6))
            for i, f in enumerate(self.reference.features)
        ]

    def ready(self) -> bool:
        return self.rows >= MIN_ROWS
