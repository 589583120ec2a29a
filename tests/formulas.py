"""A formula used by registry tests (tests is added to the allowed formula packages there)."""

from __future__ import annotations

from typing import Any

import numpy as np


def scale(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    return {"y": inputs["x"].sum(axis=1, keepdims=True) * float(parameters["factor"])}
