"""A formula used by registry tests (tests is added to the allowed formula packages there)."""

from __future__ import annotations

from typing import Any

import numpy as np


def scale(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    return {"y": inputs["x"].sum(axis=1, keepdims=True) * float(parameters["factor"])}


def echo(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every input back as the output of the same name with ``out_`` in front: a component of every
    datatype, for the protocol tests."""
    return {f"out_{name}": value for name, value in inputs.items()}
