"""Training statistics of a component version: the reference its served traffic is compared with.

Recorded at registration (`record_reference`; the built-ins do it), stored with the version as the
MLflow model-version tag ``brain.reference_stats`` (compact JSON, well under MLflow's 100,000
characters), and read by a replica when it loads the version (`read_reference`).

Per feature, the reference is a histogram over fixed bins: the inner edges are the training data's
deciles, so each bin holds about a tenth of the training rows, plus one bin below and one above. A
served version counts its sampled traffic into the same bins, and the population stability index
(PSI) of the two histograms is its drift score (`psi`). A feature is one column of a tensor of at
most ``WIDE`` columns, or the row mean of a wider tensor (a 168-hour load history is one feature, not
168: labels stay bounded). BYTES tensors have no bins and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from model_hub.registry import Registry

__all__ = [
    "BINS",
    "TAG",
    "WIDE",
    "FeatureReference",
    "ReferenceStats",
    "compute_reference",
    "feature_values",
    "psi",
    "read_reference",
    "record_reference",
    "record_training_reference",
]

TAG = "brain.reference_stats"
BINS = 10
WIDE = 16
"""Columns up to which each column of a tensor is its own feature; wider tensors give their row mean."""

#: A bin's share is never taken as 0 in PSI (its log would be infinite): at least this.
_FLOOR = 1e-4


class FeatureReference(BaseModel):
    """One feature's bins and the share of the training rows in each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """``x[3]`` (a column), ``load_history.mean`` (the row mean of a wide tensor)."""
    tensor: str
    column: int | None = None
    """None: the row mean of the tensor."""
    kind: Literal["input", "output"]
    edges: list[float] = Field(max_length=BINS)
    """Inner bin edges, increasing; a value v falls in bin ``searchsorted(edges, v, side="right")``."""
    fractions: list[float]
    """Share of the training rows per bin: ``len(edges) + 1`` values summing to 1."""


class ReferenceStats(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: int = Field(ge=1)
    features: list[FeatureReference]


def feature_values(
    arrays: Mapping[str, np.ndarray], kind: Literal["input", "output"]
) -> Iterator[tuple[str, str, int | None, np.ndarray]]:
    """(feature name, tensor, column, float64 values per row) of every numeric tensor in ``arrays``."""
    for tensor, value in arrays.items():
        array = np.asarray(value)
        if array.dtype.kind not in "biuf" or array.ndim == 0:
            continue
        table = array.reshape(array.shape[0], -1).astype(np.float64, copy=False)
        if table.shape[1] <= WIDE:
            for column in range(table.shape[1]):
                suffix = f"[{column}]" if table.shape[1] > 1 or array.ndim > 1 else ""
                yield f"{tensor}{suffix}", tensor, column, table[:, column]
        else:
            yield f"{tensor}.mean", tensor, None, table.mean(axis=1)


def compute_reference(
    inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray] | None = None
) -> ReferenceStats:
    """The reference of a version from its training inputs (and the model's outputs on them)."""
    features: list[FeatureReference] = []
    rows = 0
    for kind, arrays in (("input", inputs), ("output", outputs or {})):
        for name, tensor, column, values in feature_values(arrays, kind):  # type: ignore[arg-type]
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                continue
            rows = max(rows, int(values.size))
            quantiles = np.quantile(finite, np.linspace(0, 1, BINS + 1)[1:-1])
            edges = np.unique(quantiles)
            counts = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=edges.size + 1)
            features.append(
                FeatureReference(
                    name=name,
                    tensor=tensor,
                    column=column,
                    kind=kind,
                    edges=[float(e) for e in edges],
                    fractions=[float(c) / finite.size for c in counts],
                )
            )
    if not features:
        raise ValueError("no numeric input or output to take reference statistics of")
    return ReferenceStats(rows=rows, features=features)


def psi(expected: np.ndarray, counts: np.ndarray) -> float:
    """Population stability index of observed bin ``counts`` against the reference shares.

    Rule of thumb in credit scoring, where it comes from: below 0.1 stable, 0.1-0.25 a shift worth a
    look, above 0.25 a shift that needs action.
    """
    total = float(counts.sum())
    if total == 0:
        return 0.0
    actual = np.maximum(counts / total, _FLOOR)
    reference = np.maximum(expected, _FLOOR)
    value = float(np.sum((actual - reference) * np.log(actual / reference)))
    return value if math.isfinite(value) else 0.0


def record_training_reference(
    registry: Registry, name: str, version: int, inputs: Mapping[str, np.ndarray]
) -> ReferenceStats:
    """Take the reference of an ONNX version from its training ``inputs`` and its own outputs on them
    (the stored artifact, run once), and store it with the version."""
    from model_hub.convert import run_onnx

    loaded = registry.load(name, version)
    outputs: dict[str, np.ndarray] = {}
    model = loaded.onnx_path
    if model.exists():
        values = run_onnx(model.read_bytes(), inputs)
        outputs = {spec.name: value for spec, value in zip(loaded.card.outputs, values, strict=False)}
    stats = compute_reference(inputs, outputs)
    record_reference(registry, name, version, stats)
    return stats


def record_reference(registry: Registry, name: str, version: int, stats: ReferenceStats) -> None:
    """Store ``stats`` with the version (a model-version tag)."""
    registry.client.set_model_version_tag(name, str(version), TAG, stats.model_dump_json())


def read_reference(registry: Registry, name: str, version: int) -> ReferenceStats | None:
    """The version's reference statistics; None when none were recorded."""
    raw = registry.client.get_model_version(name, str(version)).tags.get(TAG)
    return ReferenceStats.model_validate_json(raw) if raw else None
