"""Reading Open Inference Protocol tensors in formula components (numpy only).

Formula modules import only this, numpy and scipy, so the formula runtime loads them without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def as_text(values: np.ndarray | Sequence[Any]) -> list[str]:
    """Decode an OIP BYTES tensor (a numpy object array of bytes or str, any shape) to a flat list of str."""
    flat = np.asarray(values, dtype=object).reshape(-1)
    return [v.decode("utf-8") if isinstance(v, bytes | bytearray) else str(v) for v in flat]


def as_float(values: np.ndarray, name: str, columns: int | None = None) -> np.ndarray:
    """A numeric input as a float64 array, checked for shape and finite values."""
    arr = np.asarray(values, dtype=np.float64)
    if columns is not None:
        if arr.ndim == 1 and columns == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2 or arr.shape[1] != columns:
            raise ValueError(f"input {name!r} must have shape [batch, {columns}], got {list(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"input {name!r} holds NaN or infinite values")
    return arr


def require(inputs: dict[str, np.ndarray], *names: str) -> None:
    """Refuse a request that lacks a named input, listing what is expected."""
    missing = [n for n in names if n not in inputs]
    if missing:
        raise ValueError(f"missing input(s) {missing}; this component expects {list(names)}")
