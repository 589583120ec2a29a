"""Fixtures of the Kubernetes rendering tests: specs and the chart's own values file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.k8s import DataCentreSpec, K8sSpec, WorkerGroupSpec

CHART = Path(__file__).resolve().parents[4] / "helm" / "industry-brain"


@pytest.fixture
def chart_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return values


@pytest.fixture
def spec() -> K8sSpec:
    """Two centres, one with GPUs, one given its city in Chinese."""
    return K8sSpec(
        centres=[
            DataCentreSpec(
                name="jinan-regional",
                city="jinan",
                zone="shandong-central",
                worker_groups=[
                    WorkerGroupSpec(name="cpu", cpu="16", memory="64Gi", replicas=2, max_replicas=10),
                    WorkerGroupSpec(name="gpu", cpu=8, memory="32Gi", gpu=2, gpu_type="A10", max_replicas=2),
                ],
            ),
            DataCentreSpec(
                name="qingdao-marine",
                city="青岛",
                kind="industry",
                industry="shipbuilding-offshore",
                worker_groups=[WorkerGroupSpec(name="cpu", cpu="500m", memory="2Gi")],
            ),
        ]
    )
