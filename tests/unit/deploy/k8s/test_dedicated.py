"""Dedicated component applications: the reconcile plan and the Serve config KubeRay runs."""

from __future__ import annotations

from ray.serve.schema import ServeDeploySchema

from deploy.centre.dedicated import plan
from deploy.k8s import DEDICATED_IMPORT_PATH, K8sSpec, render, serve_config
from model_hub import ServingPolicy

HOT = ServingPolicy(dedicated=True, min_replicas=1, max_replicas=4)
RARE = ServingPolicy(dedicated=True, min_replicas=0, max_replicas=1)


def test_the_plan_deploys_new_and_changed_and_removes_the_rest() -> None:
    running = {"energy_forecast": HOT, "old": RARE}
    desired = {"energy_forecast": HOT.model_copy(update={"max_replicas": 8}), "carbon_accounting": RARE}
    change = plan(desired, running)
    assert change.deploy == desired and change.remove == ["old"]
    assert not plan(running, running)


def test_each_dedicated_component_is_an_application_at_its_model_prefix(spec: K8sSpec) -> None:
    rendered = render(spec)
    config = serve_config(rendered, {"energy_forecast": HOT, "carbon_accounting": RARE})
    schema = ServeDeploySchema.model_validate(config)
    apps = {a.name: a for a in schema.applications}
    assert set(apps) == {"capability-centre", "component-carbon_accounting", "component-energy_forecast"}
    rare = apps["component-carbon_accounting"]
    assert rare.route_prefix == "/v2/models/carbon_accounting"
    assert rare.import_path == DEDICATED_IMPORT_PATH == "deploy.centre.app:dedicated"
    # the same environment as the shared application: the chart's MLflow and home
    assert rare.runtime_env == apps["capability-centre"].runtime_env
    assert ServingPolicy.model_validate(rare.args["policy"]) == RARE
    assert apps["capability-centre"].route_prefix == "/"
    # without dedicated components the config is the shared application alone
    assert [a["name"] for a in serve_config(rendered)["applications"]] == ["capability-centre"]


def test_the_dedicated_builder_autoscales_as_the_policy_says() -> None:
    from deploy.centre.app import dedicated

    app = dedicated({"home": "/tmp/brain", "component": "carbon_accounting", "policy": RARE.model_dump()})
    deployment = app._bound_deployment  # what `serve run` would deploy
    assert deployment.name == "component-carbon_accounting"
    config = deployment._deployment_config.autoscaling_config
    assert (config.min_replicas, config.max_replicas) == (0, 1)
