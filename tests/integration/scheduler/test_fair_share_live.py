"""Fair share among borrowing queues on a real Ray pool (issue 14): two enterprise queues each
guaranteed one CPU of the 2-CPU pool; tenant A fills the pool with six 40 s jobs, tenant B submits one
job later. B must run within one scheduling cycle plus Ray's start-up, whether its guarantee names only
CPU (memory then is not constrained by it) or CPU and memory."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterator

import pytest

from scheduler.control import SchedulerControl
from scheduler.loop import Scheduler
from scheduler.settings import SchedulerSettings
from scheduler.spec import AmountSpec, ClusterPoolSpec, QueueSpec, TopologySpec
from scheduler.store import SchedulerStore
from tests.integration.scheduler.conftest import stop_leftovers
from tests.ray_clusters import RayCluster, poll

pytestmark = pytest.mark.slow

RAY_START_S = 10.0
"""Generous for Ray's job start-up (driver process, runtime env) on the shared 2-core machine."""


def sleeper(seconds: float) -> str:
    code = f"import time; time.sleep({seconds})"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


@pytest.fixture(params=[{"cpu": 1}, {"cpu": 1, "memory_mib": 7000}], ids=["cpu-only", "cpu-and-memory"])
def client(
    request: pytest.FixtureRequest, clusters: dict[str, RayCluster], settings: SchedulerSettings
) -> Iterator[SchedulerControl]:
    jinan = clusters["jinan"]
    guarantee = AmountSpec.model_validate(request.param)
    client = SchedulerControl(SchedulerStore.open(settings), settings)
    client.apply(
        TopologySpec(
            pools=[
                ClusterPoolSpec(
                    name="jinan",
                    city="jinan",
                    kind="enterprise",
                    address=jinan.address,
                    auth_token_file=str(jinan.token_file),
                )
            ],
            queues=[
                QueueSpec(name="shandong"),
                QueueSpec(name="a", parent="shandong", tenant="a", guaranteed=guarantee),
                QueueSpec(name="b", parent="shandong", tenant="b", guaranteed=guarantee),
            ],
        )
    )
    yield client
    stop_leftovers(client)
    client.close()


def test_b_starts_within_a_cycle_although_a_holds_the_pool(
    client: SchedulerControl, loop: Scheduler, settings: SchedulerSettings
) -> None:
    a_jobs = [
        client.submit({"tenant": "a", "entrypoint": sleeper(40), "bundles": [{"cpu": 1}]}).id
        for _ in range(6)
    ]
    poll(
        lambda: sum(client.job(j).state == "running" for j in a_jobs) == 2,
        60,
        what="A's first two jobs running",
    )
    submitted = time.monotonic()
    b_job = client.submit({"tenant": "b", "entrypoint": sleeper(5), "bundles": [{"cpu": 1}]}).id
    poll(
        lambda: client.job(b_job).state in ("running", "succeeded"),
        settings.cycle_interval_s + RAY_START_S,
        what="B's job running",
    )
    waited = time.monotonic() - submitted
    states = [client.job(j).state for j in a_jobs]
    # B took back its guarantee from A's borrowed job; A never held more than the pool's two CPUs.
    assert states.count("running") + states.count("admitted") <= 1, (states, waited)
