"""The Helm chart: `helm lint` and `helm template`, and the rendered RayService/RayClusters against the CRDs.

Helm itself does the rendering: the `helm` binary when it is on PATH, otherwise Helm's Go SDK as shipped
in the PyPI package helm-python-sdk (import name helm_python; no binary). Neither is in Debian's
packages. Without both the tests skip and say so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from deploy.k8s import K8sSpec, ray_cluster, ray_service, serve_config, values_schema
from tests.unit.deploy.k8s.conftest import CHART
from tests.unit.deploy.k8s.crd import assert_valid

RELEASE = "brain"
NAMESPACE = "industry-brain"
# Labels only Helm adds (it knows the chart and who manages the release).
HELM_ONLY_LABELS = ("app.kubernetes.io/managed-by", "helm.sh/chart")


class HelmFailed(Exception):
    pass


def _helm_binary() -> str | None:
    return shutil.which("helm")


def _sdk() -> Any:
    try:
        import helm_python
    except ImportError:
        return None
    return helm_python


if _helm_binary() is None and _sdk() is None:
    pytest.skip(
        "Helm is not available: no `helm` binary on PATH (Debian has no helm package) and the PyPI package "
        "helm-python-sdk (Helm's Go SDK, import helm_python) is not installed: pip install helm-python-sdk",
        allow_module_level=True,
    )


def lint() -> list[str]:
    """Problems `helm lint --strict` reports (warnings included; info-level notes are not problems)."""
    binary = _helm_binary()
    if binary is not None:
        done = subprocess.run([binary, "lint", "--strict", str(CHART)], capture_output=True, text=True)
        return [] if done.returncode == 0 else [done.stdout + done.stderr]
    report = _sdk().lint(str(CHART), strict=True)
    return list(report["errors"]) + [
        f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2
    ]


def template(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """`helm template` of the chart with these values, as parsed documents (NOTES.txt left out)."""
    values = values or {}
    binary = _helm_binary()
    if binary is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
            json.dump(values, file)
            file.flush()
            done = subprocess.run(
                [binary, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "-f", file.name],
                capture_output=True,
                text=True,
            )
        if done.returncode != 0:
            raise HelmFailed(done.stderr)
        texts = [done.stdout]
    else:
        sdk = _sdk()
        with sdk.Chart.load(str(CHART)) as chart:
            try:
                rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
            except sdk.HelmError as exc:
                raise HelmFailed(str(exc)) from None
        texts = [text for path, text in sorted(rendered.items()) if not path.endswith("NOTES.txt")]
    return [doc for text in texts for doc in yaml.safe_load_all(text) if doc]


def _by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def _without_helm_labels(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_helm_labels(v)
            for k, v in node.items()
            if k not in HELM_ONLY_LABELS and k != "serveConfigV2"
        }
    if isinstance(node, list):
        return [_without_helm_labels(v) for v in node]
    return node


def test_helm_lint_is_clean() -> None:
    assert lint() == []


def test_default_render_has_every_part() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in template())
    assert kinds == [
        ("ConfigMap", "brain-centres"),
        ("ConfigMap", "brain-postgresql-init"),
        ("Deployment", "brain-mlflow"),
        ("Job", "brain-migrations"),
        ("RayCluster", "brain-jinan-regional"),
        ("RayCluster", "brain-qingdao-marine"),
        ("RayService", "brain-capability-centre"),
        ("Service", "brain-mlflow"),
        ("Service", "brain-postgresql"),
        ("StatefulSet", "brain-postgresql"),
    ]


def test_rendered_ray_objects_validate_against_the_crds() -> None:
    documents = template()
    ray_objects = _by_kind(documents, "RayService") + _by_kind(documents, "RayCluster")
    assert len(ray_objects) == 3
    for manifest in ray_objects:
        assert_valid(manifest)


def test_chart_and_python_render_the_same_ray_objects(chart_values: dict[str, Any]) -> None:
    # `brain deploy render-manifests` must show what the chart installs.
    documents = template()
    spec = K8sSpec.from_values(chart_values, release=RELEASE)
    service = _by_kind(documents, "RayService")[0]
    serve_yaml = service["spec"]["serveConfigV2"]
    assert yaml.safe_load(serve_yaml) == serve_config(spec)
    assert ServeDeploySchema.model_validate(yaml.safe_load(serve_yaml)).applications[0].import_path == (
        "deploy.centre.app:application"
    )
    assert _without_helm_labels(service) == _without_helm_labels(ray_service(spec))
    clusters = {c["metadata"]["name"]: c for c in _by_kind(documents, "RayCluster")}
    for centre in spec.centres:
        expected = ray_cluster(spec, centre)
        assert _without_helm_labels(clusters[expected["metadata"]["name"]]) == _without_helm_labels(expected)


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
    kinds = {d["kind"] for d in documents}
    assert "StatefulSet" not in kinds and "Deployment" not in kinds
    monitors = _by_kind(documents, "PodMonitor")
    assert [m["metadata"]["name"] for m in monitors] == ["brain-ray", "brain-capability-centre"]
    assert all(m["metadata"]["labels"]["release"] == "prometheus" for m in monitors)
    service = _by_kind(documents, "RayService")[0]
    assert "https://mlflow.example.gov.cn" in service["spec"]["serveConfigV2"]
    assert_valid(service)


def test_the_chart_refuses_credentials_in_env() -> None:
    with pytest.raises(HelmFailed, match="looks like a credential"):
        template({"capabilityCentre": {"env": {"BRAIN_DB_PASSWORD": "x"}}})


def test_the_chart_refuses_an_unknown_city() -> None:
    group = {"name": "cpu", "cpu": "1", "memory": "1Gi"}
    centre = {"name": "sh", "city": "shanghai", "workerGroups": [group]}
    with pytest.raises(HelmFailed, match="is not one of the 16 Shandong cities"):
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
    with pytest.raises(HelmFailed, match="maxModel"):
        template({"capabilityCentre": {"maxModel": 10}})
    with pytest.raises(HelmFailed, match="existingSecrt"):
        template({"postgresql": {"auth": {"existingSecrt": "x"}}})


def test_quantities_may_be_numbers_or_strings() -> None:
    group = {"name": "cpu", "cpu": 16, "memory": "64Gi", "replicas": 1, "minReplicas": 0, "maxReplicas": 2}
    centre = {"name": "jn", "city": "jinan", "workerGroups": [group]}
    cluster = _by_kind(template({"centres": [centre]}), "RayCluster")[0]
    container = cluster["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["cpu"] == "16"
    assert_valid(cluster)
