"""The contract between a built-in component and the model hub.

A built-in component trains itself (or, for a formula, assembles its parameters), evaluates itself
against a simple baseline on held-out data, and hands back a `Trained`: the full card plus either
a torch module (the hub exports it to ONNX and checks it numerically against `sample_inputs`) or
the import path of a pure formula and its JSON parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from model_hub.card import Card

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
    reference_inputs: dict[str, np.ndarray] | None = None
    """Inputs drawn like the training data (hundreds of rows), keyed by the card's input names: their
    statistics are registered with the version, and served traffic's drift is measured against them."""

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


Metrics = dict[str, tuple[float, float]]
"""Evaluation of a trained component: metric name → (value, baseline's value) on held-out data."""


class TrainableComponent(BuiltinComponent):
    """A built-in whose torch network a training job fits on a table or on the component's generator.

    Training data is a table with `columns`: the synthetic generator produces one, a user brings one
    (CSV/Parquet), and both reach the network through `tensors`. The in-process `train` and the Ray
    Train job (`deploy.jobs.train`) share these pieces, so they fit the same network the same way.
    """

    columns: tuple[str, ...]
    """The columns a training table must have."""

    samples: int = 4000
    """Rows of synthetic data its own training uses; `brain components train` asks a training job for
    the same, so both paths give the same model."""

    epochs: int = 60
    """Epochs of its own training, likewise."""

    @abstractmethod
    def synthetic(self, rows: int, seed: int) -> pd.DataFrame:
        """`rows` generated rows in `columns`; the same seed gives the same table."""

    @abstractmethod
    def network(self) -> torch.nn.Module:
        """A fresh, untrained network: the module that is exported to ONNX and served."""

    def training_view(self, network: torch.nn.Module) -> torch.nn.Module:
        """The module whose forward gives what `loss` needs (by default the network itself).

        A data-parallel wrapper synchronises gradients only through forward, so the loss must not
        reach around it into other methods of the network.
        """
        return network

    @abstractmethod
    def tensors(self, table: Mapping[str, Any]) -> tuple[torch.Tensor, ...]:
        """Training tensors from columns of a table (numpy arrays or torch tensors by column name)."""

    @abstractmethod
    def loss(self, model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The training loss of `model` (a `training_view`) on a batch of `tensors`."""

    @abstractmethod
    def evaluate(self, network: torch.nn.Module, train: pd.DataFrame, test: pd.DataFrame) -> Metrics:
        """The trained network against the component's baseline (fitted on `train`) on `test`."""

    def held_out(self, rows: int, seed: int) -> pd.DataFrame:
        """Synthetic test rows for a model trained on `synthetic(rows, seed)`, from another seed."""
        return self.synthetic(max(rows // 4, 200), seed + 10_000)

    @abstractmethod
    def trained(
        self,
        network: torch.nn.Module,
        metrics: Metrics,
        rows: int,
        test: pd.DataFrame,
        dataset: str | None = None,
    ) -> Trained:
        """What the hub registers: the card with `metrics` (measured on `dataset`, default the synthetic
        held-out rows), the network, and sample inputs from `test` to check its ONNX export."""
