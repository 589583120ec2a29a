"""Fixtures of the scheduler's integration tests: databases of both kinds, and two real Ray clusters.

The clusters (济南 jinan and 青岛 qingdao) are two `ray start --head --block` processes, each in its own
session with its own ports, temp folder and auth token, started once for the package. Teardown stops
exactly those sessions (SIGTERM to the `ray start` process, then SIGKILL to whatever is left of its
session) — never `ray stop`, which would kill other people's clusters on the machine.

Every command that starts Ray must run under ``flock /tmp/brain-ray.lock`` on the shared 2-core machine.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from scheduler.settings import SchedulerSettings
from scheduler.store import SchedulerStore
from tests.pg import PostgresServer, PostgresUnavailable, postgres_server
from tests.ray_clusters import RayCluster, port_block, start_cluster


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'scheduler.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create_database()
    yield url
    server.drop_database(str(make_url(url).database))


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
    return SchedulerSettings(home=tmp_path / "home", cycle_interval_s=0.2, max_jobs_per_pool=4)
