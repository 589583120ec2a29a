"""The built-in components, in the order `brain components train --all` trains them."""

from __future__ import annotations

from components.base import BuiltinComponent, TrainableComponent
from components.capacity_matching.component import CapacityMatching
from components.carbon_accounting.component import CarbonAccounting
from components.electricity_ledger.component import ElectricityLedger
from components.energy_forecast.component import EnergyForecast
from components.equipment_health.component import EquipmentHealth
from components.industry_chain_graph.component import IndustryChainGraph
from components.process_quality.component import ProcessQuality, ProcessSettingRecommender

#: The six components of issue 5. process_quality's "recommend settings within bounds" entry is a
#: seventh registered component because it has its own tensors; it embeds process_quality's network
#: (trained once for both, see components.process_quality.component).
BUILTINS: list[BuiltinComponent] = [
    CarbonAccounting(),
    ProcessQuality(),
    ProcessSettingRecommender(),
    EquipmentHealth(),
    EnergyForecast(),
    IndustryChainGraph(),
    CapacityMatching(),
]

#: Components that exist to join others in the built-in pipelines (components/pipelines), registered
#: with the built-ins but not counted among the components of issue 5.
ADAPTERS: list[BuiltinComponent] = [ElectricityLedger()]


def builtin(name: str) -> BuiltinComponent:
    """The built-in component called `name`; ValueError naming the others otherwise."""
    for component in BUILTINS:
        if component.name == name:
            return component
    raise ValueError(f"no built-in component {name!r}; built-ins are: {', '.join(c.name for c in BUILTINS)}")


def trainable(name: str) -> TrainableComponent:
    """The built-in component called `name` whose network a training job can fit; ValueError otherwise."""
    names = [c.name for c in BUILTINS if isinstance(c, TrainableComponent)]
    component = builtin(name)
    if not isinstance(component, TrainableComponent):
        raise ValueError(
            f"built-in component {name!r} has no trainable network; trainable: {', '.join(names)}"
        )
    return component
