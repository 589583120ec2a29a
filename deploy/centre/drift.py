"""Drift of a served component version: its sampled traffic against its training statistics.

Per version a replica keeps, per feature of the reference (`model_hub.reference_stats`), one array
of bin counts — bounded memory, no payload kept. One call in ``every`` is sampled (a fixed sample
rate, BRAIN_DRIFT_SAMPLE_RATE), so the hot path pays a counter increment for the others; a sampled
call leaves its monitored tensors (at most MAX_PENDING_BYTES of them) until the centre's background
check (every 2 s) bins them and drops them. The same check computes the scores (PSI per feature) and
raises the drift event when a component's threshold (`ServingPolicy.drift_threshold`) is crossed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from model_hub.reference_stats import ReferenceStats, psi

#: Rows a version must have counted before its scores mean anything (and an event can be raised).
MIN_ROWS = 200

#: Bytes of sampled tensors a version holds between two background checks (2 s); calls sampled
#: beyond it are dropped and counted.
MAX_PENDING_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str
    psi: float


@dataclass(frozen=True)
class _Group:
    """The features of one tensor, counted together: one comparison against a matrix of edges."""

    kind: str
    tensor: str
    columns: list[int] | None
    """The tensor's columns that are features; None: its row mean is the one feature."""
    features: slice
    """Positions of these features in the reference (a tensor's features are consecutive there)."""
    edges: np.ndarray
    """(1, features, BINS - 1) inner edges, padded with +inf where deciles coincided."""
    offsets: np.ndarray
    """(features,) the first flat bin of each feature: feature × bins."""


class DriftMonitor:
    """Streaming histograms of one version's sampled inputs and outputs over its reference bins."""

    def __init__(self, reference: ReferenceStats, every: int) -> None:
        self.reference = reference
        self.every = max(1, every)
        self._bins = max(len(f.fractions) for f in reference.features)
        self._expected = [np.asarray(f.fractions, dtype=np.float64) for f in reference.features]
        self._counts = np.zeros((len(reference.features), self._bins), dtype=np.int64)
        self._groups: list[_Group] = []
        by_tensor: dict[tuple[str, str], list[int]] = {}
        for i, f in enumerate(reference.features):
            by_tensor.setdefault((f.kind, f.tensor), []).append(i)
        for (kind, tensor), positions in by_tensor.items():
            columns = [reference.features[i].column for i in positions]
            if positions != list(range(positions[0], positions[-1] + 1)):
                raise ValueError(f"the reference's features of {kind} {tensor!r} are not consecutive")
            edges = np.full((1, len(positions), self._bins - 1), np.inf)
            for row, i in enumerate(positions):
                inner = reference.features[i].edges
                edges[0, row, : len(inner)] = inner
            self._groups.append(
                _Group(
                    kind,
                    tensor,
                    None if columns == [None] else [c for c in columns if c is not None],
                    slice(positions[0], positions[-1] + 1),
                    edges,
                    np.arange(len(positions)) * self._bins,
                )
            )
        self._calls = 0
        self.rows = 0
        self.alerted = False
        """Whether the last check found the threshold crossed (an event is raised on the crossing)."""
        self._lock = threading.Lock()
        # Feature values of sampled calls not binned yet, per group (at most MAX_PENDING_ROWS rows).
        self._pending: list[list[np.ndarray]] = [[] for _ in self._groups]
        self._pending_bytes = 0
        self.dropped = 0
        """Sampled calls left out because the background check fell behind (pending was full)."""

    def observe(self, inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]) -> None:
        """Keep one sampled call's monitored tensors for the next `flush`; the calls not sampled cost
        one increment.

        No numpy call is made here: between a call's own work, each one costs tens of microseconds
        (cold caches; measured in bench/drift_overhead.py), so reshaping and binning wait for the
        background check. A tensor that is a view of the request body (binary tensors) is copied, so
        that no body is kept alive; the others are owned by this call and only referenced.
        """
        self._calls += 1
        if self._calls % self.every:
            return
        if self._pending_bytes >= MAX_PENDING_BYTES:
            self.dropped += 1
            return
        for group, pending in zip(self._groups, self._pending, strict=True):
            array = (inputs if group.kind == "input" else outputs).get(group.tensor)
            if array is None or array.ndim == 0 or array.dtype.kind not in "biuf":
                continue
            base = array.base
            if base is not None and not (isinstance(base, np.ndarray) and base.base is None):
                array = array.copy()  # a view of something else (the request body): not kept alive
            pending.append(array)
            self._pending_bytes += array.nbytes

    def flush(self) -> None:
        """Bin the pending values into the counts: each group's rows in one pass."""
        with self._lock:
            pending, self._pending = self._pending, [[] for _ in self._groups]
            self._pending_bytes = 0
            rows = 0
            for group, arrays in zip(self._groups, pending, strict=True):
                if not arrays:
                    continue
                parts = []
                for array in arrays:
                    table = array.reshape(array.shape[0], -1)
                    if group.columns is None:
                        parts.append(
                            np.add.reduce(table, axis=1, dtype=np.float64, keepdims=True) / table.shape[1]
                        )
                    elif table.shape[1] > max(group.columns):
                        parts.append(table[:, group.columns])
                if not parts:
                    continue
                values = np.concatenate(parts).astype(np.float64, copy=False)
                rows = max(rows, values.shape[0])
                # A value's bin is the number of inner edges at or below it (searchsorted, side right),
                # for every feature of the tensor at once; NaN is in no bin.
                bins = np.add.reduce(values[:, :, None] >= group.edges, axis=2)
                flat = (bins + group.offsets)[np.isfinite(values)]
                counts = self._counts[group.features]
                counts += np.bincount(flat, minlength=counts.size).reshape(counts.shape)
            self.rows += rows

    def scores(self) -> list[FeatureDrift]:
        """PSI per feature, in the reference's order (after binning what is pending)."""
        self.flush()
        with self._lock:
            counts = self._counts.copy()
        return [
            FeatureDrift(f.name, f.kind, round(psi(self._expected[i], counts[i, : len(f.fractions)]), 6))
            for i, f in enumerate(self.reference.features)
        ]

    def ready(self) -> bool:
        """Whether enough rows were counted to score (after binning what is pending)."""
        self.flush()
        return self.rows >= MIN_ROWS
