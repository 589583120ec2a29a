"""The Helm chart: `helm lint`, the full render, and the chart's own refusals.

Helm itself lints and renders, in-process: helm-python-sdk (Helm's Go SDK, import helm_python, no binary),
the same route `brain deploy` renders with (deploy/k8s/chart.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from deploy.k8s import K8sSpecError, render_chart, values_schema
from tests.unit.deploy.k8s.conftest import CHART
from tests.unit.deploy.k8s.crd import assert_valid

RELEASE = "brain"
NAMESPACE = "industry-brain"


def lint() -> list[str]:
    """Problems `helm lint --strict` reports (warnings included; info-level notes are not problems)."""
    report = helm_python.lint(str(CHART), strict=True)
    return list(report["errors"]) + [
        f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2
    ]


def template(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """`helm template` of the chart with these values over its defaults, as parsed documents."""
    return render_chart(values or {}, RELEASE, NAMESPACE)


def _by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def test_helm_lint_is_clean() -> None:
    assert lint() == []


def test_default_render_has_every_part() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in template())
    assert kinds == [
        ("ConfigMap", "brain-centres"),
        ("ConfigMap", "brain-postgresql-init"),
        ("Deployment", "brain-mlflow"),
        ("Deployment", "brain-portal"),
        ("Job", "brain-migrations"),
        ("NetworkPolicy", "brain-mlflow"),
        ("NetworkPolicy", "brain-portal"),
        ("NetworkPolicy", "brain-postgresql"),
        ("NetworkPolicy", "brain-ray-capability-centre"),
        ("NetworkPolicy", "brain-ray-jinan-regional"),
        ("NetworkPolicy", "brain-ray-qingdao-marine"),
        ("RayCluster", "brain-jinan-regional"),
        ("RayCluster", "brain-qingdao-marine"),
        ("RayService", "brain-capability-centre"),
        ("Service", "brain-mlflow"),
        ("Service", "brain-portal"),
        ("Service", "brain-postgresql"),
        ("StatefulSet", "brain-postgresql"),
    ]


def test_the_registry_server_runs_no_job_execution() -> None:
    # MLflow 3 starts a job runner and huey consumers (~250 MB each) that a registry never uses.
    (mlflow,) = [
        d for d in template() if d["kind"] == "Deployment" and d["metadata"]["name"] == "brain-mlflow"
    ]
    env = {e["name"]: e.get("value") for e in mlflow["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_rendered_ray_objects_validate_against_the_crds() -> None:
    documents = template()
    ray_objects = _by_kind(documents, "RayService") + _by_kind(documents, "RayCluster")
    assert len(ray_objects) == 3
    for manifest in ray_objects:
        assert_valid(manifest)


def test_secrets_are_referenced_never_inlined() -> None:
    for document in template():
        for line in yaml.safe_dump(document).splitlines():
            assert "postgresql://" not in line and "postgresql+psycopg://" not in line
    job = _by_kind(template(), "Job")[0]
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [
        {
            "name": "BRAIN_DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "industry-brain-db", "key": "platformUrl"}},
        }
    ]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"


def test_external_database_and_mlflow_with_pod_monitors() -> None:
    documents = template(
        {
            "postgresql": {"enabled": False},
            "mlflow": {"enabled": False, "externalUri": "https://mlflow.example.gov.cn"},
            "metrics": {"podMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
        }
    )
    assert "StatefulSet" not in {d["kind"] for d in documents}
    assert [d["metadata"]["name"] for d in _by_kind(documents, "Deployment")] == ["brain-portal"]
    monitors = _by_kind(documents, "PodMonitor")
    assert [m["metadata"]["name"] for m in monitors] == ["brain-ray", "brain-capability-centre"]
    assert all(m["metadata"]["labels"]["release"] == "prometheus" for m in monitors)
    # The centre's /metrics answers only a platform operator's key: Prometheus sends one from a Secret.
    (centre,) = monitors[1]["spec"]["podMetricsEndpoints"]
    assert centre["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "brain-metrics-key", "key": "api-key"},
    }
    service = _by_kind(documents, "RayService")[0]
    assert "https://mlflow.example.gov.cn" in service["spec"]["serveConfigV2"]
    assert_valid(service)


def test_the_chart_refuses_credentials_in_env() -> None:
    with pytest.raises(K8sSpecError, match="looks like a credential"):
        template({"capabilityCentre": {"env": {"BRAIN_DB_PASSWORD": "x"}}})


def test_the_chart_refuses_an_unknown_city() -> None:
    group = {"name": "cpu", "cpu": "1", "memory": "1Gi"}
    centre = {"name": "sh", "city": "shanghai", "workerGroups": [group]}
    with pytest.raises(K8sSpecError, match="is not one of the 16 Shandong cities"):
        template({"centres": [centre]})


def test_the_chart_accepts_a_chinese_city_name() -> None:
    centre = {"name": "yt", "city": "烟台", "workerGroups": [{"name": "cpu", "cpu": "1", "memory": "1Gi"}]}
    cluster = _by_kind(template({"centres": [centre]}), "RayCluster")[0]
    assert cluster["metadata"]["labels"]["industry-brain.io/city"] == "yantai"
    assert_valid(cluster)


def test_chart_readme_and_values_are_documented() -> None:
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    for section in ("capabilityCentre", "centres", "mlflow", "postgresql", "migrations", "metrics"):
        assert f"`{section}" in readme, section
    assert Path(CHART / "values.yaml").read_text(encoding="utf-8").count("# --") > 40


def test_values_schema_is_generated_from_the_spec() -> None:
    committed = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert committed == values_schema(), (
        "helm/industry-brain/values.schema.json is stale; regenerate it with: python -c 'import json; "
        "from deploy.k8s import values_schema; print(json.dumps(values_schema(), indent=2, "
        "ensure_ascii=False, sort_keys=True))' > helm/industry-brain/values.schema.json"
    )


def test_helm_refuses_a_misspelt_value() -> None:
    with pytest.raises(K8sSpecError, match="maxModel"):
        template({"capabilityCentre": {"maxModel": 10}})
    with pytest.raises(K8sSpecError, match="existingSecrt"):
        template({"postgresql": {"auth": {"existingSecrt": "x"}}})


def test_quantities_may_be_numbers_or_strings() -> None:
    group = {"name": "cpu", "cpu": 16, "memory": "64Gi", "replicas": 1, "minReplicas": 0, "maxReplicas": 2}
    centre = {"name": "jn", "city": "jinan", "workerGroups": [group]}
    cluster = _by_kind(template({"centres": [centre]}), "RayCluster")[0]
    container = cluster["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["cpu"] == "16"
    assert_valid(cluster)
