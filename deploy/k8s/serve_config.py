"""The Serve config (``serveConfigV2``) the capability centre's RayService runs, read from the chart's
rendering, with an application per dedicated component added when asked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from deploy.centre.dedicated import dedicated_app_name, dedicated_route_prefix
from deploy.k8s.manifests import Manifests
from model_hub import ServingPolicy

DEDICATED_IMPORT_PATH = "deploy.centre.app:dedicated"
"""The builder of a dedicated component's Serve application (args: home, component, policy)."""


def serve_config(
    manifests: Manifests, dedicated: Mapping[str, ServingPolicy] | None = None
) -> dict[str, Any]:
    """The RayService's Serve config as a mapping.

    Each component in ``dedicated`` gets an application of its own at ``/v2/models/NAME``: Serve routes by
    the longest prefix, so its calls reach its own autoscaled replicas in one hop. The chart does not know
    them (they come from the model registry), so they are added here, with the shared application's
    environment.
    """
    config: dict[str, Any] = yaml.safe_load(manifests.service["spec"]["serveConfigV2"])
    centre = config["applications"][0]
    config["applications"] += [
        {
            "name": dedicated_app_name(name),
            "route_prefix": dedicated_route_prefix(name),
            "import_path": DEDICATED_IMPORT_PATH,
            "args": {"home": centre["args"]["home"], "component": name, "policy": policy.model_dump()},
            "runtime_env": centre["runtime_env"],
        }
        for name, policy in sorted((dedicated or {}).items())
    ]
    return config


def serve_config_yaml(manifests: Manifests, dedicated: Mapping[str, ServingPolicy] | None = None) -> str:
    if not dedicated:
        # Exactly the text the RayService carries.
        text: str = manifests.service["spec"]["serveConfigV2"]
        return text if text.endswith("\n") else text + "\n"
    return yaml.safe_dump(serve_config(manifests, dedicated), sort_keys=False, allow_unicode=True)
