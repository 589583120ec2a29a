"""Components served by Ray Serve applications of their own (pure: names and the reconcile plan).

A dedicated component runs in an application named ``component-NAME`` at the route prefix
``/v2/models/NAME``. Serve routes by the longest prefix, so that component's OIP calls go straight
to its own replicas (one hop, as for everything else) with their own autoscaling, down to zero for
the rarely used; every other path stays with the shared capability centre.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from model_hub import ServingPolicy

APP_PREFIX = "component-"


def dedicated_app_name(component: str) -> str:
    return f"{APP_PREFIX}{component}"


def dedicated_route_prefix(component: str) -> str:
    return f"/v2/models/{component}"


@dataclass(frozen=True)
class Plan:
    deploy: dict[str, ServingPolicy]  # new, or changed policy
    remove: list[str]  # applications of components no longer dedicated

    def __bool__(self) -> bool:
        return bool(self.deploy or self.remove)


def plan(desired: Mapping[str, ServingPolicy], running: Mapping[str, ServingPolicy]) -> Plan:
    """What to change so the running dedicated applications match ``desired``."""
    return Plan(
        deploy={n: p for n, p in sorted(desired.items()) if running.get(n) != p},
        remove=sorted(n for n in running if n not in desired),
    )
