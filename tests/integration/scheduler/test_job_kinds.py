"""The training and batch-inference job kinds, submitted to the scheduler and run on a real local Ray.

The job's driver finds the test's model hub through ``BRAIN_HOME`` in the job's runtime env, as a
user's job finds a shared hub (`brain up` starts Ray with it already set).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from deploy.settings import PlatformSettings
from deploy.tenancy import TenantKind, TenantSpec, TenantStore
from model_hub import HubSettings, Lineage, Registry
from model_hub.sessions import onnx_session
from scheduler.control import SchedulerControl
from scheduler.loop import Scheduler
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, QueueSpec, TopologySpec
from scheduler.store import SchedulerStore
from tests import onnx_models
from tests.cards import make_card
from tests.integration.scheduler.conftest import stop_leftovers, wait_final
from tests.ray_clusters import RayCluster

pytestmark = pytest.mark.slow


@pytest.fixture
def hub(tmp_path: Path) -> HubSettings:
    return HubSettings(home=tmp_path / "hub")


@pytest.fixture
def client(clusters: dict[str, RayCluster], settings: SchedulerSettings) -> Iterator[SchedulerControl]:
    jinan = clusters["jinan"]
    client = SchedulerControl(SchedulerStore.open(settings), settings)
    client.apply(
        TopologySpec(
            pools=[
                ClusterPoolSpec(
                    name="jinan", city="jinan", address=jinan.address, auth_token_file=str(jinan.token_file)
                )
            ],
            queues=[QueueSpec(name="shandong"), QueueSpec(name="lab", parent="shandong", tenant="lab")],
        )
    )
    yield client
    stop_leftovers(client)
    client.close()


def run_job(client: SchedulerControl, hub: HubSettings, spec: dict[str, Any], timeout_s: float) -> str:
    body = {"tenant": "lab", "runtime_env": {"env_vars": {"BRAIN_HOME": str(hub.home)}}, **spec}
    job_id = client.submit(body).id
    wait_final(client, job_id, timeout_s)
    return job_id


def test_a_batch_inference_job_scores_a_table_with_a_registered_onnx_version(
    client: SchedulerControl, loop: Scheduler, hub: HubSettings, tmp_path: Path
) -> None:
    model = onnx_models.linear(n_in=4, n_out=2, seed=3)
    card = make_card(name="meter-score", outputs=[{"name": "y", "datatype": "FP32", "shape": [-1, 2]}])
    registry = Registry(hub)
    try:
        version = registry.register_onnx(card, model)
    finally:
        registry.close()
    # The program loads only what the job's tenant may see: the tenant exists on the platform.
    tenants = TenantStore.open(PlatformSettings(home=hub.home))
    try:
        kind, industries = TenantKind.enterprise, ["high-end-chemicals"]
        lab = TenantSpec(name="lab", display="lab", kind=kind, industries=industries, city="jinan")
        tenants.create_tenant(lab, actor="test")
    finally:
        tenants.engine.dispose()
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.standard_normal((300, 4)).astype(np.float32), columns=["a", "b", "c", "d"])
    table.insert(0, "meter", [f"m{i:03d}" for i in range(len(table))])
    source = tmp_path / "meters.parquet"
    table.to_parquet(source)
    output = tmp_path / "scored"
    job_id = run_job(
        client,
        hub,
        {
            "kind": "batch-inference",
            "bundles": [{"cpu": 1, "memory_mib": 512}],
            "batch-inference": {
                "component": "meter-score",
                "input": {"path": str(source)},
                "output": str(output),
                "columns": {"x": ["a", "b", "c", "d"]},
                "keep": ["meter"],
                "batch_size": 64,
            },
        },
        timeout_s=120,
    )
    summary = json.loads((output / "_summary.json").read_text())
    assert summary["rows"] == 300 and summary["job_id"] == job_id
    assert summary["component"] == "meter-score" and summary["version"] == version.version
    scored = pd.read_parquet(output).sort_values("meter").reset_index(drop=True)
    assert list(scored.columns) == ["meter", "y_0", "y_1"] and list(scored["meter"]) == list(table["meter"])
    (expected,) = onnx_session(model.SerializeToString()).run(
        ["y"], {"x": table[["a", "b", "c", "d"]].to_numpy()}
    )
    np.testing.assert_allclose(scored[["y_0", "y_1"]].to_numpy(), expected, rtol=1e-5, atol=1e-5)


def test_a_training_job_fits_on_ray_train_and_registers_a_new_version(
    client: SchedulerControl, loop: Scheduler, hub: HubSettings, tmp_path: Path
) -> None:
    from components.process_quality.component import ProcessQuality
    from components.publish import register_trained

    registry = Registry(hub)
    try:  # a first version, as `brain up` registers the built-ins
        first = register_trained(
            registry, ProcessQuality(samples=300, epochs=1).train(), lineage=Lineage(), new_version=False
        )
    finally:
        registry.close()
    output = tmp_path / "run"
    job_id = run_job(
        client,
        hub,
        {
            "kind": "training",
            # Two data-parallel workers of half a core each: one per bundle.
            "bundles": [{"cpu": 0.5, "memory_mib": 512}, {"cpu": 0.5, "memory_mib": 512}],
            "training": {
                "component": "process_quality",
                "data": {"synthetic": {"rows": 500, "seed": 1}},
                "epochs": 3,
                "batch_size": 64,
                "output": str(output),
            },
        },
        timeout_s=180,
    )
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["job_id"] == job_id and metrics["workers"] == 2
    assert metrics["rows"] == 500 and len(metrics["loss"]) == 3
    assert metrics["loss"][-1] < metrics["loss"][0]
    assert set(metrics["metrics"]) == {"quality_rmse", "defect_auc", "defect_brier"}
    assert (output / "model.pt").is_file()
    registry = Registry(hub)
    try:
        versions = {v.version: v for v in registry.versions("process_quality")}
    finally:
        registry.close()
    new = versions[metrics["version"]["version"]]
    assert new.version == first.version + 1
    assert new.lineage.training_job == job_id
    assert new.lineage.data_snapshot == "synthetic-seed-1-rows-500"


def test_a_training_job_trains_a_built_in_without_a_network_by_its_own_training(
    client: SchedulerControl, loop: Scheduler, hub: HubSettings, tmp_path: Path
) -> None:
    output = tmp_path / "run"
    job_id = run_job(
        client,
        hub,
        {
            "kind": "training",
            "bundles": [{"cpu": 1, "memory_mib": 512}],
            "training": {
                "component": "carbon_accounting",
                "data": {"synthetic": {"seed": 3}},
                "output": str(output),
            },
        },
        timeout_s=180,
    )
    metrics = json.loads((output / "metrics.json").read_text())
    # The keys of a Ray Train run, with what this path does not have left empty.
    assert set(metrics) == {
        "job_id", "component", "rows", "test_rows", "workers", "epochs", "loss", "metrics", "model",
        "version", "seconds",
    }  # fmt: skip
    assert metrics["job_id"] == job_id and metrics["component"] == "carbon_accounting"
    assert metrics["loss"] == [] and metrics["model"] is None and metrics["workers"] == 1
    assert metrics["metrics"] and all("baseline" in m for m in metrics["metrics"].values())
    registry = Registry(hub)
    try:
        (version,) = registry.versions("carbon_accounting")
    finally:
        registry.close()
    assert metrics["version"]["version"] == version.version and version.format == "formula"
    assert version.lineage.training_job == job_id
    assert version.lineage.data_snapshot == "synthetic-seed-3"
    assert version.aliases == ()  # registered, not promoted


def test_brain_components_train_submits_training_jobs_and_reads_their_metrics_json(
    client: SchedulerControl,
    loop: Scheduler,
    settings: SchedulerSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from deploy.cli.components import app

    client.put_queues([QueueSpec(name="ops", parent="shandong", tenant="platform")])
    # The command opens the scheduler's store and the hub from BRAIN_HOME, as on a `brain up` machine.
    monkeypatch.setenv("BRAIN_HOME", str(settings.home))
    command = ["train", "carbon_accounting", "--where", "scheduler", "--json"]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    job_id = out["job"]
    assert out["jobs"] == {"carbon_accounting": job_id}
    summary = json.loads((HubSettings().home_dir / "jobs" / job_id / "metrics.json").read_text())
    version = summary["version"]["version"]
    assert out["components"] == [
        {
            "name": "carbon_accounting",
            "version": version,
            "trained": True,
            "seconds": round(summary["seconds"], 2),
        }
    ]
    registry = Registry(HubSettings())
    try:
        assert registry.version("carbon_accounting").version == version  # put in production
        assert registry.version("carbon_accounting").lineage.training_job == job_id
    finally:
        registry.close()
    again = json.loads(CliRunner().invoke(app, command).stdout)  # registered already: no job
    assert again == {
        "job": None,
        "jobs": {},
        "components": [{"name": "carbon_accounting", "version": version, "trained": False, "seconds": 0.0}],
    }
