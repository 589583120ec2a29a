"""The contract between a built-in component and the model hub.

A built-in component trains itself (or, for a formula, assembles its parameters), evaluates itself
against a simple baseline on held-out data, and hands back a `Trained`: the full card plus either
a torch module (the hub exports it to ONNX and checks it numerically against `sample_inputs`) or
the import path of a pure formula and its JSON parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from components.tensors import as_text
from model_hub.card import Card, TensorSpec

#: Who owns the built-in components in the registry.
OWNER = "产业大脑算法中心 / Industry Brain algorithm centre"
LICENSE = "Apache-2.0"


@dataclass
class Trained:
    """What `BuiltinComponent.train` returns: a card and either a torch module or a formula."""

    card: Card
    torch_module: torch.nn.Module | None = None
    sample_inputs: dict[str, np.ndarray] | None = None
    """Keyed by the card's input names, in card order; used to check the exported ONNX model."""
    formula: str | None = None
    """Import path "package.module:function" of a `compute(inputs, parameters)` function."""
    parameters: dict[str, Any] | None = None
    """JSON-serialisable parameters passed to the formula on every call."""

    def __post_init__(self) -> None:
        if (self.torch_module is None) == (self.formula is None):
            raise ValueError(
                f"component {self.card.name!r} must hand back exactly one of torch_module or formula"
            )
        if self.torch_module is not None:
            if self.sample_inputs is None:
                raise ValueError(f"component {self.card.name!r}: a torch module needs sample_inputs")
            expected = [s.name for s in self.card.inputs]
            if list(self.sample_inputs) != expected:
                raise ValueError(
                    f"component {self.card.name!r}: sample_inputs are {list(self.sample_inputs)}, "
                    f"the card's inputs are {expected} (same names, same order)"
                )


class BuiltinComponent(ABC):
    """One built-in 知识/工艺/机理 component.

    Constructor arguments size the training (tests use small ones).
    """

    name: str

    @abstractmethod
    def train(self, seed: int = 0) -> Trained:
        """Generate data with `seed`, fit, evaluate against the baseline and build the card."""

    @abstractmethod
    def example(self) -> dict[str, np.ndarray]:
        """A typical request, keyed by the card's input names: for `brain demo` and the documentation."""


_NUMPY_DATATYPE = {
    "FP32": np.float32,
    "FP64": np.float64,
    "INT64": np.int64,
    "INT32": np.int32,
    "BOOL": np.bool_,
}


def oip_tensors(specs: Sequence[TensorSpec], values: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Tensors as Open Inference Protocol v2 JSON: name, datatype, shape and the data flattened row-major."""
    tensors = []
    for spec in specs:
        arr = np.asarray(values[spec.name])
        if spec.datatype == "BYTES":
            data: list[Any] = as_text(arr)
        else:
            data = arr.astype(_NUMPY_DATATYPE[spec.datatype]).reshape(-1).tolist()
        tensors.append({"name": spec.name, "datatype": spec.datatype, "shape": list(arr.shape), "data": data})
    return tensors


def oip_request(card: Card, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """The body of `POST /v2/models/{card.name}/infer` for these inputs."""
    return {"inputs": oip_tensors(card.inputs, inputs)}
