"""The Serve config a RayService runs, as the chart renders it: accepted by Ray Serve's own schema, naming our
builder."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from deploy.k8s import CapabilityCentreSpec, K8sSpec, render, serve_config, serve_config_yaml


def _parse(text: str) -> ServeDeploySchema:
    return ServeDeploySchema.model_validate(yaml.safe_load(text))


def _config_yaml(spec: K8sSpec) -> str:
    return serve_config_yaml(render(spec))


def test_ray_serve_accepts_the_config() -> None:
    schema = _parse(_config_yaml(K8sSpec()))
    assert [app.name for app in schema.applications] == ["capability-centre"]
    app = schema.applications[0]
    assert app.import_path == "deploy.centre.app:application"
    assert app.route_prefix == "/"
    assert app.args == {"home": "/var/lib/industry-brain", "replicas": 2, "max_models": 512}
    assert schema.http_options.host == "0.0.0.0"
    assert schema.http_options.port == 8000


def test_the_import_path_names_our_builder_and_its_arguments() -> None:
    config = serve_config(render(K8sSpec()))
    module_name, _, attribute = config["applications"][0]["import_path"].partition(":")
    # Importing the module defines the deployment; it does not start Ray (ray.init is refused in unit tests).
    builder = getattr(importlib.import_module(module_name), attribute)
    assert callable(builder)
    args = config["applications"][0]["args"]
    app = builder(args)
    assert type(app).__name__ == "Application"


def test_runtime_env_points_at_mlflow_and_carries_no_secret(chart_values: dict[str, Any]) -> None:
    spec = K8sSpec.from_values(chart_values, release="prod")
    app = _parse(_config_yaml(spec)).applications[0]
    env = app.runtime_env["env_vars"]
    assert env["BRAIN_MLFLOW_TRACKING_URI"] == "http://prod-mlflow:5000"
    assert env["BRAIN_HOME"] == "/var/lib/industry-brain"
    assert not any("DATABASE" in name or "PASSWORD" in name for name in env)


def test_replicas_and_extra_settings_reach_the_application() -> None:
    centre = CapabilityCentreSpec(replicas=5, max_models=500, env={"BRAIN_DEFAULT_BURST": "400"})
    app = _parse(_config_yaml(K8sSpec(capability_centre=centre))).applications[0]
    assert app.args["replicas"] == 5
    assert app.args["max_models"] == 500
    assert app.runtime_env["env_vars"]["BRAIN_DEFAULT_BURST"] == "400"


def test_an_external_mlflow_server_is_used_when_the_chart_runs_none(chart_values: dict[str, Any]) -> None:
    chart_values["mlflow"] = {"enabled": False, "externalUri": "https://mlflow.example.gov.cn"}
    spec = K8sSpec.from_values(chart_values)
    env = serve_config(render(spec))["applications"][0]["runtime_env"]["env_vars"]
    assert env["BRAIN_MLFLOW_TRACKING_URI"] == "https://mlflow.example.gov.cn"


@pytest.mark.parametrize("replicas", [1, 3, 16])
def test_any_replica_count_parses(replicas: int) -> None:
    centre = CapabilityCentreSpec(replicas=replicas)
    assert _parse(_config_yaml(K8sSpec(capability_centre=centre))).applications[0].args["replicas"] == (
        replicas
    )
