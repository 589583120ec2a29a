"""The rendered RayService and RayClusters are valid KubeRay objects (ray.io/v1 CRD schemas)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from deploy.k8s import K8sSpec, manifests, ray_cluster, ray_service, serve_config
from tests.unit.deploy.k8s.crd import assert_valid, errors


def _containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = template["spec"]["containers"]
    return containers


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_ray_service_validates(spec: K8sSpec) -> None:
    assert_valid(ray_service(spec))


def test_every_centre_cluster_validates(spec: K8sSpec) -> None:
    for centre in spec.centres:
        assert_valid(ray_cluster(spec, centre))


def test_manifests_from_the_chart_values_validate(chart_values: dict[str, Any]) -> None:
    rendered = manifests(K8sSpec.from_values(chart_values, release="prod"))
    assert set(rendered) == {
        "rayservice-capability-centre.yaml",
        "raycluster-jinan-regional.yaml",
        "raycluster-qingdao-marine.yaml",
    }
    for manifest in rendered.values():
        assert manifest["metadata"]["name"].startswith("prod-")
        assert_valid(manifest)


def test_the_validator_catches_typos_and_wrong_types(spec: K8sSpec) -> None:
    # Proof that the schema check has teeth: the API server would silently drop the typo.
    service = ray_service(spec)
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


def test_int_or_string_quantities_and_ports(spec: K8sSpec) -> None:
    cluster = ray_cluster(spec, spec.centres[0])
    container = _containers(cluster["spec"]["headGroupSpec"]["template"])[0]
    container["resources"]["limits"]["cpu"] = 2  # an int where "2" was
    container["livenessProbe"]["httpGet"]["port"] = "dashboard-agent"  # a named port
    assert_valid(cluster)
    container["resources"]["limits"]["cpu"] = 2.5  # neither integer nor string
    assert errors(cluster)


def test_capability_centre_pods_run_haproxy_and_get_the_database_by_reference(spec: K8sSpec) -> None:
    cluster = ray_service(spec)["spec"]["rayClusterConfig"]
    templates = [cluster["headGroupSpec"]["template"]] + [g["template"] for g in cluster["workerGroupSpecs"]]
    for template in templates:
        env = _env(_containers(template)[0])
        assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
        assert env["BRAIN_DATABASE_URL"] == {
            "secretKeyRef": {"name": "industry-brain-db", "key": "platformUrl"}
        }
    assert "postgresql" not in yaml.safe_dump(ray_service(spec))


def test_haproxy_can_be_turned_off(spec: K8sSpec) -> None:
    centre = spec.capability_centre.model_copy(update={"haproxy": False})
    service = ray_service(spec.model_copy(update={"capability_centre": centre}))
    head = _containers(service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"])[0]
    assert "RAY_SERVE_ENABLE_HA_PROXY" not in _env(head)


def test_centres_are_labelled_for_federation_and_keep_auth_on(spec: K8sSpec) -> None:
    cluster = ray_cluster(spec, spec.centres[1])
    labels = cluster["metadata"]["labels"]
    assert labels["industry-brain.io/city"] == "qingdao"
    assert labels["industry-brain.io/kind"] == "industry"
    assert labels["industry-brain.io/zone"] == "shandong"
    assert cluster["metadata"]["annotations"]["industry-brain.io/city-name"] == "青岛"
    assert cluster["spec"]["authOptions"] == {"mode": "token"}
    # A centre's jobs need MLflow, not the platform database.
    head = _containers(cluster["spec"]["headGroupSpec"]["template"])[0]
    assert "BRAIN_DATABASE_URL" not in _env(head)


def test_gpu_groups_ask_kubernetes_for_gpus_and_label_the_type(spec: K8sSpec) -> None:
    group = ray_cluster(spec, spec.centres[0])["spec"]["workerGroupSpecs"][1]
    resources = _containers(group["template"])[0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == 2
    assert resources["requests"] == resources["limits"]
    assert group["labels"] == {"brain/gpu-type": "A10"}


def test_the_service_carries_the_serve_config_as_yaml(spec: K8sSpec) -> None:
    text = ray_service(spec)["spec"]["serveConfigV2"]
    assert isinstance(text, str)
    assert yaml.safe_load(text) == serve_config(spec)


@pytest.mark.parametrize("kind", ["RayService", "RayCluster"])
def test_v1_is_the_version_we_render(spec: K8sSpec, kind: str) -> None:
    manifest = ray_service(spec) if kind == "RayService" else ray_cluster(spec, spec.centres[0])
    assert manifest["apiVersion"] == "ray.io/v1"
    assert manifest["kind"] == kind
