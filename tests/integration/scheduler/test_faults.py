"""Issue #12's scheduler faults on two real Ray clusters: the leading scheduler killed with SIGKILL while
jobs are queued and running, on SQLite and on PostgreSQL (scenario 3). The same experiments, at full size,
are `bench/reliability/scenario_sched_*.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ray_clusters import RayCluster
from tests.scheduler_faults import crash_and_restart

pytestmark = pytest.mark.slow


def test_a_killed_leader_loses_no_job_runs_none_twice_and_its_follower_takes_over(
    clusters: dict[str, RayCluster], db_url: str, tmp_path: Path
) -> None:
    figures = crash_and_restart(clusters, db_url, tmp_path, jobs=200, run_after=8, lease_s=3.0)
    assert figures.on_pool_at_kill > 0 and figures.queued_at_kill > 100, figures
    assert figures.lost == 0 and figures.ran_twice == 0 and figures.ray_runs_twice == 0, figures
    assert not figures.both_led and figures.fifo_kept, figures
    assert figures.takeover_s <= figures.lease_s + 5, figures
    assert figures.passed, figures
