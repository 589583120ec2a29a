"""Bad specs are refused with a message that names the field and says what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from deploy.k8s import (
    CapabilityCentreSpec,
    DataCentreSpec,
    K8sSpec,
    K8sSpecError,
    ResourcesSpec,
    WorkerGroupSpec,
)


def _centre(**overrides: Any) -> dict[str, Any]:
    centre: dict[str, Any] = {
        "name": "jinan",
        "city": "jinan",
        "workerGroups": [{"name": "cpu", "cpu": "8", "memory": "32Gi"}],
    }
    centre.update(overrides)
    return centre


def _message(values: dict[str, Any]) -> str:
    with pytest.raises(K8sSpecError) as caught:
        K8sSpec.from_values(values)
    return caught.value.message


def test_unknown_city() -> None:
    message = _message({"centres": [_centre(city="shanghai")]})
    assert "centres.0.city" in message
    assert "'shanghai' is not one of the 16 Shandong cities" in message
    assert "jinan" in message


def test_chinese_city_names_are_accepted() -> None:
    assert K8sSpec.from_values({"centres": [_centre(city="烟台")]}).centres[0].city == "yantai"


def test_a_typo_is_named_with_its_path() -> None:
    message = _message({"capabilityCentre": {"replica": 3}})
    assert "capabilityCentre.replica: unknown field" in message


def test_unknown_top_level_key() -> None:
    message = _message({"centers": []})
    assert "unknown top-level key(s) centers" in message
    assert "centres" in message


def test_chart_only_sections_are_accepted(chart_values: dict[str, Any]) -> None:
    assert {"postgresql", "mlflow", "metrics", "migrations"} <= set(chart_values)
    assert len(K8sSpec.from_values(chart_values).centres) == 2


def test_duplicate_centres_and_groups() -> None:
    assert "repeated: jinan" in _message({"centres": [_centre(), _centre()]})
    group = {"name": "cpu", "cpu": "1", "memory": "1Gi"}
    assert "repeated: cpu" in _message({"centres": [_centre(workerGroups=[group, group])]})


def test_a_centre_needs_worker_groups() -> None:
    assert "centres.0.workerGroups" in _message({"centres": [_centre(workerGroups=[])]})


def test_gpus_need_a_type() -> None:
    with pytest.raises(ValidationError, match="needs a gpuType"):
        WorkerGroupSpec(name="gpu", gpu=1)


def test_replica_bounds() -> None:
    with pytest.raises(ValidationError, match=r"minReplicas ≤ replicas ≤ maxReplicas, got 3 ≤ 1 ≤ 4"):
        WorkerGroupSpec(name="w", replicas=1, min_replicas=3)


def test_bad_quantities() -> None:
    assert "is not a Kubernetes quantity" in _message({"centres": [_centre(head={"cpu": "two"})]})
    with pytest.raises(ValidationError, match="write e.g. 2, 500m"):
        ResourcesSpec(memory="8 GB")
    with pytest.raises(ValidationError, match="greater than zero"):
        ResourcesSpec(cpu="0")
    # What Kubernetes accepts is accepted: millicores, binary and decimal suffixes, plain numbers.
    assert ResourcesSpec(cpu="500m", memory="512Mi").cpu == "500m"
    assert ResourcesSpec(cpu=16, memory="1G").cpu == "16"


def test_names_must_be_dns_labels() -> None:
    with pytest.raises(ValidationError, match="name"):
        DataCentreSpec(name="Jinan_Centre", city="jinan", worker_groups=[WorkerGroupSpec(name="cpu")])


def test_unknown_industry() -> None:
    assert "unknown industry 'ships'" in _message({"centres": [_centre(industry="ships")]})


def test_secrets_are_refused_in_env() -> None:
    with pytest.raises(ValidationError, match="looks like a credential"):
        CapabilityCentreSpec(env={"BRAIN_DATABASE_URL": "postgresql://brain:hunter2@db/brain"})


def test_mlflow_off_needs_an_external_uri() -> None:
    assert "mlflow.externalUri" in _message({"mlflow": {"enabled": False}})


def test_values_file_errors(tmp_path: Path) -> None:
    with pytest.raises(K8sSpecError, match="cannot read the values file"):
        K8sSpec.load(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("centres: [\n", encoding="utf-8")
    with pytest.raises(K8sSpecError, match="is not valid YAML"):
        K8sSpec.load(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(K8sSpecError, match="must be a YAML mapping"):
        K8sSpec.load(listed)
