"""The built-in pipelines (组件编排): applications made of built-in components, one YAML spec each.

`brain up` registers them after the components they use (`components.publish.ensure_builtins`);
`brain demo` calls them. Each comes with a typical request, as the components do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from components.base import OWNER
from model_hub.pipeline import PipelineSpec

FOLDER = Path(__file__).parent


@dataclass(frozen=True)
class BuiltinPipeline:
    name: str
    example: Callable[[], dict[str, np.ndarray]]
    """A typical request, keyed by the pipeline's input names."""

    @property
    def path(self) -> Path:
        return FOLDER / f"{self.name}.yaml"

    def spec(self) -> PipelineSpec:
        """The spec, owned by the algorithm centre like the built-in components."""
        data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        return PipelineSpec.parse({**data, "owner": OWNER})


def _energy_carbon_example() -> dict[str, np.ndarray]:
    """energy_forecast's example (a plant on 1 October 2025), with the 2022 grid factor."""
    from components.energy_forecast.component import EnergyForecast

    request = EnergyForecast().example()
    rows = request["load_history"].shape[0]
    return {**request, "electricity_factor": np.array(["MEE-2022"] * rows, dtype=object)}


PIPELINES: list[BuiltinPipeline] = [BuiltinPipeline("energy_carbon_forecast", _energy_carbon_example)]
