"""Fixtures of the scheduler's integration tests: its store on both databases, and two real Ray clusters.

The clusters (济南 jinan and 青岛 qingdao) are two `ray start --head --block` processes, each in its own
session with its own ports, temp folder and auth token, started once for the package. Teardown stops
exactly those sessions (SIGTERM to the `ray start` process, then SIGKILL to whatever is left of its
session) — never `ray stop`, which would kill other people's clusters on the machine.

Every command that starts Ray must run under ``flock /tmp/brain-ray.lock`` on the shared 2-core machine.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from deploy.settings import scheduler_settings
from scheduler.backends import make_backend
from scheduler.backends.base import TERMINAL, Backend, RunStatus
from scheduler.control import SchedulerControl
from scheduler.errors import BackendError
from scheduler.loop import Scheduler
from scheduler.model import JobState
from scheduler.settings import SchedulerSettings
from scheduler.store import SchedulerStore
from tests.ray_clusters import RayCluster, poll, port_block, start_cluster


@pytest.fixture
def store(db_url: str) -> Iterator[SchedulerStore]:
    store = SchedulerStore.open(url=db_url)
    yield store
    store.close()


@pytest.fixture(scope="package")
def clusters() -> Iterator[dict[str, RayCluster]]:
    """Two real Ray clusters as the pools jinan (济南) and qingdao (青岛)."""
    root = Path(tempfile.mkdtemp(prefix="brt-", dir="/tmp"))
    started: dict[str, RayCluster] = {}
    try:
        first = port_block(set())
        started["jinan"] = start_cluster("jinan", first, root)
        started["qingdao"] = start_cluster("qingdao", port_block({first}), root)
        yield started
    finally:
        for cluster in started.values():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def settings(tmp_path: Path) -> SchedulerSettings:
    # The scheduler as the platform composes it: the platform's job programs registered.
    return scheduler_settings(home=tmp_path / "home", cycle_interval_s=0.2, max_jobs_per_pool=4)


@pytest.fixture
def loop(client: SchedulerControl, settings: SchedulerSettings) -> Iterator[Scheduler]:
    """The scheduler cycling in a thread of the test process, over the test module's ``client``."""
    scheduler = Scheduler(client.store, settings)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    thread.start()
    yield scheduler
    stop.set()
    thread.join(timeout=30)


def stop_leftovers(client: SchedulerControl) -> None:
    """Leave the clusters empty for the next test: stop whatever jobs a test left on them, and wait until
    Ray says they have ended (a stop is only a request: a job still ending holds its CPUs, and the next
    test's jobs would find the pool smaller than it is)."""
    stopping = []
    for job in client.store.jobs(states=[JobState.ADMITTED, JobState.RUNNING, JobState.STOPPING]):
        if job.pool and job.submission_id:
            backend = make_backend(client.store.pool(job.pool).pool_spec)
            backend.stop(job.submission_id)
            stopping.append((backend, job.submission_id))
    for backend, submission_id in stopping:
        poll(partial(_ended, backend, submission_id), 30, what=f"{submission_id} to end on Ray")


def _ended(backend: Backend, submission_id: str) -> bool:
    try:
        status = backend.status(submission_id).status
    except BackendError:  # the cluster is gone (a test stopped it): nothing runs there
        return True
    return status in TERMINAL or status is RunStatus.MISSING


def wait_final(client: SchedulerControl, job_id: str, timeout_s: float, *, expect: str = "succeeded") -> None:
    """Poll until the job has ended; fail with its logs unless it ended as ``expect``."""
    poll(
        lambda: client.job(job_id).state in ("succeeded", "failed", "cancelled"),
        timeout_s,
        what=f"job {job_id} to end",
    )
    assert client.job(job_id).state == expect, client.logs(job_id)
