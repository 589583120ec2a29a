"""The chart's RayService and RayClusters, as `brain deploy` renders them, are valid KubeRay objects
(ray.io/v1 CRD schemas) and carry what the platform needs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from deploy.centre.ingress import INGRESS_ENV
from deploy.k8s import K8sSpec, Manifests, render, serve_config
from tests.unit.deploy.k8s.crd import assert_valid, errors


def _containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = template["spec"]["containers"]
    return containers


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.fixture
def rendered(spec: K8sSpec) -> Manifests:
    return render(spec)


def test_ray_service_validates(rendered: Manifests) -> None:
    assert_valid(rendered.service)


def test_every_centre_cluster_validates(spec: K8sSpec, rendered: Manifests) -> None:
    assert [c["metadata"]["name"] for c in rendered.clusters] == [f"brain-{c.name}" for c in spec.centres]
    for cluster in rendered.clusters:
        assert_valid(cluster)


def test_manifests_from_the_chart_values_validate(chart_values: dict[str, Any]) -> None:
    rendered = render(K8sSpec.from_values(chart_values, release="prod")).files()
    assert set(rendered) == {
        "rayservice-capability-centre.yaml",
        "raycluster-jinan-regional.yaml",
        "raycluster-qingdao-marine.yaml",
    }
    for manifest in rendered.values():
        assert manifest["metadata"]["name"].startswith("prod-")
        assert_valid(manifest)


def test_the_validator_catches_typos_and_wrong_types(rendered: Manifests) -> None:
    # Proof that the schema check has teeth: the API server would silently drop the typo.
    service = rendered.service
    typo = copy.deepcopy(service)
    head = typo["spec"]["rayClusterConfig"]["headGroupSpec"]
    head["rayStartParam"] = head.pop("rayStartParams")
    assert any("rayStartParam" in e for e in errors(typo))

    wrong = copy.deepcopy(service)
    wrong["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = "eight"
    assert any("maxReplicas" in e for e in errors(wrong))

    missing = copy.deepcopy(service)
    del missing["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["groupName"]
    assert any("groupName" in e for e in errors(missing))


def test_int_or_string_quantities_and_ports(rendered: Manifests) -> None:
    cluster = copy.deepcopy(rendered.clusters[0])
    container = _containers(cluster["spec"]["headGroupSpec"]["template"])[0]
    container["resources"]["limits"]["cpu"] = 2  # an int where "2" was
    container["livenessProbe"]["httpGet"]["port"] = "dashboard-agent"  # a named port
    assert_valid(cluster)
    container["resources"]["limits"]["cpu"] = 2.5  # neither integer nor string
    assert errors(cluster)


def test_capability_centre_pods_run_haproxy_and_get_the_database_by_reference(rendered: Manifests) -> None:
    cluster = rendered.service["spec"]["rayClusterConfig"]
    templates = [cluster["headGroupSpec"]["template"]] + [g["template"] for g in cluster["workerGroupSpecs"]]
    for template in templates:
        env = _env(_containers(template)[0])
        assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
        assert env["BRAIN_DATABASE_URL"] == {
            "secretKeyRef": {"name": "industry-brain-db", "key": "platformUrl"}
        }
        # The registry key that signs versions' manifest hashes, by reference too.
        assert env["BRAIN_REGISTRY_KEY"] == {
            "secretKeyRef": {"name": "industry-brain-db", "key": "registryKey"}
        }
        # What deploy/centre/ingress.py asks of the proxies must reach every Serve pod.
        assert INGRESS_ENV.items() <= env.items()
        assert env["RAY_SERVE_THROUGHPUT_OPTIMIZED"] == "1"
    assert "postgresql" not in yaml.safe_dump(rendered.service)


def test_haproxy_can_be_turned_off(spec: K8sSpec) -> None:
    centre = spec.capability_centre.model_copy(update={"haproxy": False})
    service = render(spec.model_copy(update={"capability_centre": centre})).service
    head = _containers(service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"])[0]
    assert "RAY_SERVE_ENABLE_HA_PROXY" not in _env(head)


def test_centres_are_labelled_for_federation_and_keep_auth_on(rendered: Manifests) -> None:
    cluster = rendered.clusters[1]
    labels = cluster["metadata"]["labels"]
    assert labels["industry-brain.io/city"] == "qingdao"
    assert labels["industry-brain.io/kind"] == "industry"
    assert labels["industry-brain.io/zone"] == "shandong"
    assert cluster["metadata"]["annotations"]["industry-brain.io/city-name"] == "青岛"
    assert cluster["spec"]["authOptions"] == {"mode": "token"}
    # A centre's jobs need MLflow, not the platform database.
    head = _containers(cluster["spec"]["headGroupSpec"]["template"])[0]
    assert "BRAIN_DATABASE_URL" not in _env(head)


def test_gpu_groups_ask_kubernetes_for_gpus_and_label_the_type(rendered: Manifests) -> None:
    group = rendered.clusters[0]["spec"]["workerGroupSpecs"][1]
    resources = _containers(group["template"])[0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == 2
    assert resources["requests"] == resources["limits"]
    assert group["labels"] == {"brain/gpu-type": "A10"}


def test_the_service_carries_the_serve_config_as_yaml(rendered: Manifests) -> None:
    text = rendered.service["spec"]["serveConfigV2"]
    assert isinstance(text, str)
    assert yaml.safe_load(text) == serve_config(rendered)


@pytest.mark.parametrize("kind", ["RayService", "RayCluster"])
def test_v1_is_the_version_we_render(rendered: Manifests, kind: str) -> None:
    manifest = rendered.service if kind == "RayService" else rendered.clusters[0]
    assert manifest["apiVersion"] == "ray.io/v1"
    assert manifest["kind"] == kind
