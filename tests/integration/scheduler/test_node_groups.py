"""Pools on node groups of one real Ray cluster, and the governance job kind on one of them.

One cluster, two nodes: the head carries the custom resource ``group_a`` and label ``group=a``, the
worker ``group_b`` and ``group=b``. Pool ``qd-a`` selects its node by resource, ``qd-b`` by label.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from scheduler.backends import make_backend
from scheduler.control import SchedulerControl
from scheduler.loop import Scheduler
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, QueueSpec, TopologySpec
from scheduler.store import SchedulerStore
from tests.integration.scheduler.conftest import wait_final
from tests.ray_clusters import RayCluster, add_node, port_block, start_cluster

pytestmark = pytest.mark.slow

GROUPS = {"qd-a": {"resource": "group_a"}, "qd-b": {"labels": {"group": "b"}}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    root = Path(tempfile.mkdtemp(prefix="brg-", dir="/tmp"))
    started: RayCluster | None = None
    try:
        head = port_block(set())
        started = start_cluster("grp", head, root, resources={"group_a": 2}, labels={"group": "a"})
        add_node(started, "grp-b", port_block({head}), resources={"group_b": 2}, labels={"group": "b"})
        yield started
    finally:
        if started is not None:
            started.stop()
        shutil.rmtree(root, ignore_errors=True)


def pool_spec(cluster: RayCluster, name: str) -> ClusterPoolSpec:
    return ClusterPoolSpec.model_validate(
        {
            "name": name,
            "city": "qingdao",
            "zone": f"zone-{name}",
            "address": cluster.address,
            "auth_token_file": str(cluster.token_file),
            "node_group": GROUPS[name],
        }
    )


@pytest.fixture
def client(cluster: RayCluster, settings: SchedulerSettings) -> Iterator[SchedulerControl]:
    client = SchedulerControl(SchedulerStore.open(settings), settings)
    client.apply(
        TopologySpec(
            pools=[pool_spec(cluster, name) for name in GROUPS],
            queues=[QueueSpec(name="shandong"), QueueSpec(name="qd", parent="shandong", tenant="qd")],
        )
    )
    yield client
    client.close()


def group_node(cluster: RayCluster, name: str) -> str:
    health = make_backend(pool_spec(cluster, name)).health()
    assert health.healthy, health.message
    assert len(health.nodes) == 1, f"{name} sees {len(health.nodes)} nodes"
    return health.nodes[0].id


def test_each_pool_sees_only_its_group_and_its_jobs_stay_there(
    cluster: RayCluster, client: SchedulerControl, loop: Scheduler
) -> None:
    nodes = {name: group_node(cluster, name) for name in GROUPS}
    assert nodes["qd-a"] != nodes["qd-b"]
    health = make_backend(pool_spec(cluster, "qd-a")).health()
    assert health.usage.get("CPU", (0, 0))[1] in (0, 2.0)  # the group's node only, where Ray reports it
    entry = f"{shlex.quote(sys.executable)} -c {shlex.quote('print(1)')}"
    jobs = {
        name: client.submit(
            {
                "tenant": "qd",
                "entrypoint": entry,
                "bundles": [{"cpu": 0.5}],
                "allowed_regions": [f"zone-{name}"],
            }
        ).id
        for name in GROUPS
    }
    for job_id in jobs.values():
        wait_final(client, job_id, 120)
    for name, job_id in jobs.items():
        assert client.job(job_id).pool == name
        assert driver_node(client, job_id) == nodes[name]


def driver_node(client: SchedulerControl, job_id: str) -> str:
    """The node Ray ran the job's driver on (all nodes share one IP here, so only Ray can tell)."""
    job = client.job(job_id)
    assert job.pool is not None and job.submission_id is not None
    backend = make_backend(client.store.pool(job.pool).pool_spec)
    info = backend._jobs().get_job_info(job.submission_id)  # type: ignore[attr-defined]
    return str(info.driver_node_id)


def test_a_governance_job_cleans_data_on_its_node_group(
    cluster: RayCluster, client: SchedulerControl, loop: Scheduler, tmp_path: Path
) -> None:
    source = tmp_path / "meters.csv"
    pd.DataFrame(
        {
            "meter": ["m1", "m2", "m2", "m3", "m4", "m5", "m6", "m7"],
            "temperature": ["20.5", "212", "213", "abc", "30", "25", "26", "27"],
            "temp_unit": ["degC", "degF", "degF", "degC", "degX", "degC", "degC", "degC"],
            "power": [100.0, 200.0, 201.0, 300.0, 400.0, None, 99999.0, 50.0],
        }
    ).to_csv(source, index=False)
    output = tmp_path / "clean"
    job_id = client.submit(
        {
            "tenant": "qd",
            "kind": "governance",
            "bundles": [{"cpu": 1, "memory_mib": 512}],
            "allowed_regions": ["zone-qd-b"],
            "governance": {
                "input": {"path": str(source)},
                "output": str(output),
                "schema": {"meter": "string", "temperature": "float", "power": "float"},
                "units": [{"column": "temperature", "unit_column": "temp_unit", "to": "degC"}],
                "ranges": {"power": {"min": 0, "max": 5000}},
                "dedupe_on": ["meter"],
            },
        }
    ).id
    wait_final(client, job_id, 180)
    assert client.job(job_id).pool == "qd-b"
    import json

    report = json.loads((output / "_report.json").read_text())
    assert report["rows_in"] == 8 and report["rows_out"] == 3
    assert report["dropped"] == {"schema": 1, "unit": 1, "null": 1, "range:power": 1, "duplicate": 1}
    assert driver_node(client, job_id) == group_node(cluster, "qd-b") and report["job_id"] == job_id
    clean = pd.read_parquet(output).sort_values("meter").reset_index(drop=True)
    assert list(clean["meter"]) == ["m1", "m2", "m7"]
    assert clean["temperature"][1] == pytest.approx(100.0, abs=0.6)
