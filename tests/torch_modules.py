"""torch modules for the tests of components kept in torch (tests is an allowed code package there)."""

from __future__ import annotations

import torch
from torch import nn


class Refiner(nn.Module):
    """A linear layer, then Newton steps towards sqrt(1 + y²) until every row has converged.

    The number of steps depends on the data: tracing to ONNX would bake in one count, which is the
    kind of model that must stay in torch.
    """

    def __init__(self, features: int = 4, outputs: int = 1, tolerance: float = 1e-6) -> None:
        super().__init__()
        self.linear = nn.Linear(features, outputs)
        self.tolerance = tolerance

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        target = 1.0 + y * y
        z = torch.ones_like(y)
        for _ in range(100):
            step = 0.5 * (z - target / z)
            z = z - step
            if bool(step.abs().max() < self.tolerance):
                break
        return z


class TwoHeads(nn.Module):
    """Two named outputs from a dict, and a tied weight (stored once in safetensors)."""

    def __init__(self, features: int = 4) -> None:
        super().__init__()
        self.first = nn.Linear(features, features, bias=False)
        self.second = nn.Linear(features, features, bias=False)
        self.second.weight = self.first.weight

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"a": self.first(x).sum(dim=1, keepdim=True), "b": self.second(x).mean(dim=1, keepdim=True)}


def refiner(features: int = 4) -> Refiner:
    """A factory function (not a class) as the entrypoint."""
    return Refiner(features=features)
