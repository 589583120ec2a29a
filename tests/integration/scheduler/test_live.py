"""The live scheduler on two real Ray clusters, 济南 (jinan) and 青岛 (qingdao), each with 2 CPUs and its
own auth token: residency, waiting, cancel, drain, logs, and a crash-restart of the service process."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from scheduler.backends import RunStatus, make_backend
from scheduler.control import SchedulerControl
from scheduler.loop import Scheduler
from scheduler.model import JobState
from scheduler.settings import SchedulerSettings
from scheduler.spec import ClusterPoolSpec, QueueSpec, TopologySpec
from scheduler.store import SchedulerStore, submission_id
from tests.conftest import ROOT, free_port
from tests.integration.scheduler.conftest import stop_leftovers
from tests.ray_clusters import RayCluster, poll

pytestmark = pytest.mark.slow

TENANTS = ("jinan-steel", "qingdao-port")


def sleeper(seconds: float, say: str = "") -> str:
    """A driver that needs no Ray at all; an absolute interpreter path, as Ray's PATH is not ours."""
    code = f"import time; print({say!r}, flush=True); time.sleep({seconds})"
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def topology(clusters: dict[str, RayCluster]) -> TopologySpec:
    return TopologySpec(
        pools=[
            ClusterPoolSpec(
                name=name,
                city=name,
                address=cluster.address,
                auth_token_file=str(cluster.token_file),
                zone=f"{name}-zone",
            )
            for name, cluster in clusters.items()
        ],
        queues=[QueueSpec(name="shandong")]
        + [QueueSpec(name=t, parent="shandong", tenant=t) for t in TENANTS],
    )


@pytest.fixture
def client(clusters: dict[str, RayCluster], settings: SchedulerSettings) -> Iterator[SchedulerControl]:
    client = SchedulerControl(SchedulerStore.open(settings), settings)
    client.apply(topology(clusters))
    yield client
    stop_leftovers(client)
    client.close()


def state_of(client: SchedulerControl, job_id: str) -> str:
    return client.job(job_id).state


def wait_state(client: SchedulerControl, job_id: str, state: str, timeout_s: float) -> None:
    poll(lambda: state_of(client, job_id) == state, timeout_s, what=f"{job_id} {state}")


def ray_status(client: SchedulerControl, pool: str, sid: str) -> RunStatus:
    return make_backend(client.store.pool(pool).pool_spec).status(sid).status


def test_pools_report_live_capacity_from_ray(client: SchedulerControl, loop: Scheduler) -> None:
    poll(lambda: all(p.health == "healthy" for p in client.store.pools()), 30, what="both pools healthy")
    for pool in client.store.pools():
        nodes = pool.node_list
        assert len(nodes) == 1 and nodes[0]["cpu_milli"] == 2000


def test_a_job_restricted_to_one_region_never_lands_on_the_other(
    client: SchedulerControl, loop: Scheduler
) -> None:
    jinan = [
        client.submit({"tenant": "jinan-steel", "entrypoint": sleeper(3), "bundles": [{"cpu": 1}],
                       "allowed_regions": ["济南"]}).id
        for _ in range(3)
    ]  # fmt: skip
    qingdao = client.submit(
        {
            "tenant": "qingdao-port",
            "entrypoint": sleeper(0.1),
            "bundles": [{"cpu": 1}],
            "allowed_regions": ["qingdao"],
        }
    ).id
    # jinan holds two 1-CPU jobs at once: the third waits for jinan although qingdao has room.
    poll(
        lambda: (
            sum(state_of(client, j) == "queued" for j in jinan) == 1
            and sum(state_of(client, j) in ("admitted", "running") for j in jinan) == 2
        ),
        60,
        what="two jinan jobs on jinan and one waiting",
    )
    for job_id in [*jinan, qingdao]:
        wait_state(client, job_id, "succeeded", 90)
    for job_id in jinan:
        job = client.job(job_id)
        assert job.pool == "jinan"
        assert job.submission_id is not None
        assert ray_status(client, "qingdao", job.submission_id) is RunStatus.MISSING
        assert ray_status(client, "jinan", job.submission_id) is RunStatus.SUCCEEDED
    assert client.job(qingdao).pool == "qingdao"


def test_a_job_too_big_for_either_pool_waits_and_a_cancelled_job_stops(
    client: SchedulerControl, loop: Scheduler
) -> None:
    blockers = [
        client.submit(
            {"tenant": t, "entrypoint": sleeper(120), "bundles": [{"cpu": 1}], "allowed_regions": [c]}
        ).id
        for t, c in zip(TENANTS, ("jinan", "qingdao"), strict=True)
    ]
    for job_id in blockers:
        wait_state(client, job_id, "running", 60)
    big = client.submit(
        {"tenant": "jinan-steel", "entrypoint": sleeper(0.1, "big"), "bundles": [{"cpu": 2}]}
    ).id

    def cycles_done() -> float:
        samples = [s for m in loop.metrics.cycle_seconds.collect() for s in m.samples]
        return next(s.value for s in samples if s.name.endswith("_count"))

    seen = cycles_done()
    poll(lambda: cycles_done() >= seen + 5, 30, what="five more cycles")
    assert state_of(client, big) == "queued"
    for job_id in blockers:
        assert client.cancel(job_id).cancel_requested
    for job_id in blockers:
        wait_state(client, job_id, "cancelled", 60)
        job = client.job(job_id)
        assert job.pool is not None and job.submission_id is not None
        assert ray_status(client, job.pool, job.submission_id) is RunStatus.STOPPED
    poll(lambda: state_of(client, big) == "succeeded", 90, what="the big job to run once there is room")
    assert "big" in client.logs(big)
    kinds = [e.kind for e in client.store.events(blockers[0])]
    assert kinds[:3] == ["submitted", "admitted", "running"] and kinds[-1] == "cancelled"


def test_a_drained_pool_requeues_its_work_elsewhere(client: SchedulerControl, loop: Scheduler) -> None:
    job_id = client.submit({"tenant": "jinan-steel", "entrypoint": sleeper(120), "bundles": [{"cpu": 1}]}).id
    poll(lambda: state_of(client, job_id) == "running", 60, what="the job running")
    first = client.job(job_id)
    assert first.pool is not None and first.submission_id is not None
    client.store.set_cordon(first.pool, cordoned=True, drain="requeue")
    other = {"jinan": "qingdao", "qingdao": "jinan"}[first.pool]
    poll(lambda: client.job(job_id).pool == other and state_of(client, job_id) == "running", 90, what="moved")
    assert ray_status(client, first.pool, first.submission_id) is RunStatus.STOPPED
    assert client.job(job_id).attempt == 2
    assert "drained" in [e.kind for e in client.store.events(job_id)]
    client.store.set_cordon(first.pool, cordoned=False)
    client.cancel(job_id)
    poll(lambda: state_of(client, job_id) == "cancelled", 60, what="cancelled")


def _service(
    settings: SchedulerSettings, log: Path, metrics_port: int | None = None
) -> subprocess.Popen[bytes]:
    # Two jobs in flight per pool: most jobs are still queued when the service is killed.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BRAIN_MAX_JOBS_PER_POOL": "2"}
    argv = [sys.executable, "-m", "scheduler.service", "--home", str(settings.home), "--interval", "0.2"]
    if metrics_port is not None:
        argv += ["--metrics-port", str(metrics_port)]
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def test_killing_the_service_loses_no_job_and_submits_none_twice(
    client: SchedulerControl, settings: SchedulerSettings, tmp_path: Path
) -> None:
    jobs = [
        client.submit({"tenant": TENANTS[i % 2], "entrypoint": sleeper(1), "bundles": [{"cpu": 0.5}],
                       "idempotency_key": f"crash-{i}"}).id
        for i in range(10)
    ]  # fmt: skip
    # Resubmitting (a client retrying after a timeout) returns the same jobs.
    assert client.submit({"tenant": "jinan-steel", "entrypoint": sleeper(1), "bundles": [{"cpu": 0.5}],
                          "idempotency_key": "crash-0"}).id == jobs[0]  # fmt: skip
    service = _service(settings, tmp_path / "service.log")
    try:
        poll(lambda: any(state_of(client, j) == "admitted" for j in jobs), 60, what="an admission in flight")
        service.send_signal(signal.SIGKILL)  # mid-cycle: admissions and submissions half done
        service.wait(timeout=30)
        # Also the worst moment exactly: a job marked admitted whose submission never reached Ray.
        queued = [j for j in jobs if state_of(client, j) == "queued"]
        assert queued, "the kill came after everything was admitted"
        victim = client.job(queued[0])
        sid = submission_id(client.store.namespace, victim.id, victim.attempt + 1)
        assert client.store.transition(
            victim.id, [JobState.QUEUED], JobState.ADMITTED, "admitted", "half done", pool="jinan",
            attempt=victim.attempt + 1, submission_id=sid, admitted_at=victim.submit_time,
        )  # fmt: skip
        port = free_port()
        service = _service(settings, tmp_path / "service.log", metrics_port=port)
        for job_id in jobs:
            wait_state(client, job_id, "succeeded", 120)
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "brain_scheduler_queue_depth" in metrics and "brain_scheduler_wait_seconds_bucket" in metrics
        assert 'brain_scheduler_pool_healthy{pool="jinan"} 1.0' in metrics
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0  # SIGTERM ends the service cleanly
    runs: Counter[str] = Counter()
    for name in ("jinan", "qingdao"):
        backend = make_backend(client.store.pool(name).pool_spec)
        for info in backend._jobs().list_jobs():  # type: ignore[attr-defined]
            brain_job = (info.metadata or {}).get("brain_job")
            if brain_job in jobs:
                runs[brain_job] += 1
    assert runs == dict.fromkeys(jobs, 1), "every job ran on Ray exactly once"
    assert len(client.store.jobs()) == len(set(jobs))
