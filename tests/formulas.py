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


def spread(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    """One column back to three (the input of `scale`): a step that feeds another in a pipeline."""
    return {"x": np.repeat(inputs["y"], 3, axis=1)}


def root(inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    """The square root, refusing negative values as formulas refuse bad input (ValueError → 400)."""
    if np.any(inputs["y"] < 0):
        raise ValueError("y must not be negative")
    return {"z": np.sqrt(inputs["y"])}
